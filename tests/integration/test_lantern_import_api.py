"""POST /lanterns/import: Overpass and NGSI-LD inventories through the API, the index following."""

from __future__ import annotations

import pytest

from tests.integration.conftest import LiveService
from tests.support import FIXTURES

pytestmark = [pytest.mark.broker]

OVERPASS_IDS = ["osm-node-9000000001", "osm-node-9000000002", "osm-node-9000000006"]
NGSI_IDS = [
    "streetlight:zurich:LEU101190",
    "zurich-bahnhofstrasse-7",
    "streetlight:zurich:expanded-type",
]


def test_overpass_import_with_capabilities(service: LiveService) -> None:
    body = (FIXTURES / "overpass_street_lamps.json").read_bytes()
    response = service.http.post(
        "/lanterns/import",
        params={"capabilities": "speaker,rgb", "filename": "zurich-overpass.json"},
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["taken"], report["inserted"], report["skipped_count"]) == (3, 3, 1)
    assert report["skipped"] == [
        {"row": 4, "reason": "missing coordinates", "id": "osm-node-9000000004"}
    ]
    assert report["with_street"] == 3  # all stand within 30 m of a named street
    preview = service.http.post("/targets/preview", json={"lanterns": OVERPASS_IDS}).json()
    assert preview["capabilities"] == {"speaker": 3, "rgb": 3, "projector": 0, "path_light": 0}
    lantern = service.http.get(f"/lanterns/{OVERPASS_IDS[0]}").json()
    assert lantern["capabilities"] == ["speaker", "rgb"]
    assert lantern["street"] is not None
    params = {"capabilities": "speaker,rgb", "filename": "zurich-overpass.json"}
    again = service.http.post("/lanterns/import", params=params, content=body)
    assert (again.json()["inserted"], again.json()["unchanged"]) == (0, 3)


def test_ngsi_ld_import_detected_from_the_content(service: LiveService) -> None:
    response = service.http.post(
        "/lanterns/import", content=(FIXTURES / "ngsi_ld_streetlights.json").read_bytes()
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["taken"], report["inserted"]) == (3, 3)
    # The entity without a location is skipped and named; the StreetlightGroup is no lantern.
    assert [s["id"] for s in report["skipped"]] == ["streetlight:zurich:no-location"]
    preview = service.http.post("/targets/preview", json={"lanterns": NGSI_IDS}).json()
    assert preview["lantern_count"] == 3
    assert preview["capabilities"]["projector"] == 3  # the default: everything
    # The new lanterns are on their streets at once: the index was rebuilt by the import.
    street = service.http.post(
        "/targets/preview", json={"streets": ["Bahnhofstrasse"], "lanterns": NGSI_IDS}
    ).json()
    assert "zurich-bahnhofstrasse-7" in street["lantern_ids"]


def test_unreadable_uploads_are_422(service: LiveService) -> None:
    empty = service.http.post("/lanterns/import", content=b"")
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["loc"] == ["body"]
    garbage = service.http.post(
        "/lanterns/import",
        params={"format": "overpass", "filename": "lamps.json"},
        content=b'{"elements": [',
    )
    assert garbage.status_code == 422, garbage.text
    assert garbage.json()["code"] == "import_failed"
    assert "lamps.json" in garbage.json()["detail"]
    assert "/tmp" not in garbage.json()["detail"]  # noqa: S108 (no server path leaks out)
    bad_caps = service.http.post(
        "/lanterns/import", params={"capabilities": "speaker,laser"}, content=b"[]"
    )
    assert bad_caps.status_code == 422
    assert bad_caps.json()["errors"][0]["loc"] == ["capabilities"]
    bad_format = service.http.post("/lanterns/import", params={"format": "kml"}, content=b"[]")
    assert bad_format.status_code == 422
