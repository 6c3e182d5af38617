"""Named groups over the live stack: static lists, stored targets, nesting, cycles, alerts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import LiveService
from tests.support import FIXTURES, MUENZPLATZ

pytestmark = [pytest.mark.broker]

PAIR = ["LEU101190", "LEU126702"]


def post(service: LiveService, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = service.http.post("/groups", json=body)
    assert response.status_code == status, response.text
    out: dict[str, Any] = response.json()
    return out


def reach(service: LiveService, target: dict[str, Any]) -> set[str]:
    response = service.http.post("/targets/preview", params={"geojson": False}, json=target)
    assert response.status_code == 200, response.text
    return set(response.json()["lantern_ids"])


def test_static_target_and_nested_groups(service: LiveService) -> None:
    pair = post(service, {"name": "pair", "lanterns": [*PAIR, PAIR[0]], "description": "two"})
    assert pair["kind"] == "static"
    assert pair["lanterns"] == PAIR  # duplicates dropped, order kept
    assert pair["lantern_count"] == 2
    square = post(service, {"name": "muenzplatz", "target": {"area": MUENZPLATZ}})
    assert square["kind"] == "target"
    assert square["target"] == {"area": MUENZPLATZ}
    in_square = reach(service, {"area": MUENZPLATZ})
    assert set(square["lantern_ids"]) == in_square
    both = post(service, {"name": "both", "target": {"groups": ["pair", "muenzplatz"]}})
    assert both["groups"] == ["muenzplatz", "pair"]
    assert set(both["lantern_ids"]) == in_square | set(PAIR)
    assert reach(service, {"groups": ["both"], "exclude": {"groups": ["pair"]}}) == in_square - set(
        PAIR
    )
    listed = {g["name"]: g for g in service.http.get("/groups").json()}
    assert set(listed) == {"pair", "muenzplatz", "both"}
    assert listed["both"]["lantern_count"] == len(in_square | set(PAIR))
    assert (
        listed["both"]["lantern_ids"] is None
    )  # the list stays small; GET /groups/{name} has them
    assert service.http.get("/groups/both").json()["lantern_count"] == len(in_square | set(PAIR))


def test_a_stored_target_follows_the_inventory(service: LiveService) -> None:
    before = post(service, {"name": "muenzplatz", "target": {"area": MUENZPLATZ}})["lantern_count"]
    imported = service.http.post(
        "/lanterns/import",
        params={"format": "overpass"},
        content=(FIXTURES / "overpass_street_lamps.json").read_bytes(),
    )
    assert imported.status_code == 200, imported.text
    after = service.http.get("/groups/muenzplatz").json()
    assert after["lantern_count"] == before + 2
    assert "osm-node-9000000001" in after["lantern_ids"]


def test_cycles_are_refused_and_named(service: LiveService) -> None:
    itself = post(service, {"name": "me", "target": {"groups": ["me"]}}, status=422)
    assert itself["errors"][0]["msg"] == "group cycle: me → me"
    assert itself["errors"][0]["loc"] == ["target", "groups", 0]
    post(service, {"name": "a", "lanterns": PAIR})
    post(service, {"name": "b", "target": {"streets": ["Talacker"], "groups": ["a"]}})
    post(service, {"name": "c", "target": {"groups": ["b"]}})
    response = service.http.put(
        "/groups/a", json={"target": {"lanterns": PAIR, "exclude": {"groups": ["c"]}}}
    )
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["msg"] == "group cycle: a → c → b → a"
    assert error["loc"][:3] == ["target", "exclude", "groups"]
    # Nothing was stored: a is still the static pair and everything still resolves.
    assert service.http.get("/groups/a").json()["kind"] == "static"
    assert service.http.get("/groups/c").json()["lantern_count"] >= 2


def test_group_refusals(service: LiveService) -> None:
    unknown = post(service, {"name": "x", "lanterns": ["LEU101190", "NOPE"]}, status=422)
    assert unknown["errors"][0]["loc"] == ["lanterns", 1]
    post(service, {"name": "muenzplatz", "target": {"area": MUENZPLATZ}})
    typo = post(service, {"name": "y", "target": {"groups": ["muenzplats"]}}, status=422)
    assert typo["errors"][0]["loc"] == ["target", "groups", 0]
    assert typo["errors"][0]["suggestions"] == ["muenzplatz"]
    bad_name = post(service, {"name": "no spaces/or slashes", "lanterns": PAIR}, status=422)
    assert bad_name["errors"][0]["loc"] == ["name"]
    neither = post(service, {"name": "z"}, status=422)
    assert neither["errors"][0]["loc"] == ["lanterns"]
    bad_area = post(
        service, {"name": "w", "target": {"area": {"type": "Polygon", "coordinates": []}}}, 422
    )
    assert bad_area["errors"][0]["loc"] == ["target", "area"]
    taken = post(service, {"name": "muenzplatz", "lanterns": PAIR}, status=409)
    assert "PUT" in taken["detail"]
    assert service.http.get("/groups/nope").status_code == 404


def test_delete_refuses_a_group_in_use(service: LiveService) -> None:
    post(service, {"name": "pair", "lanterns": PAIR})
    post(service, {"name": "outer", "target": {"groups": ["pair"]}})
    in_use = service.http.delete("/groups/pair")
    assert in_use.status_code == 409
    assert "outer" in in_use.json()["detail"]
    assert service.http.delete("/groups/outer").status_code == 204
    assert service.http.delete("/groups/pair").status_code == 204
    assert service.http.get("/groups/pair").status_code == 404
    assert service.http.delete("/groups/pair").status_code == 404


def test_an_alert_keeps_the_lanterns_it_was_sent_to(service: LiveService) -> None:
    square = post(service, {"name": "muenzplatz", "target": {"area": MUENZPLATZ}})
    response = service.http.post(
        "/alerts", json={"target": {"groups": ["muenzplatz"]}, "messages": {"en": "Test."}}
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    assert alert["target"] == {"groups": ["muenzplatz"]}
    assert alert["lantern_count"] == square["lantern_count"]
    moved = service.http.put("/groups/muenzplatz", json={"lanterns": PAIR})
    assert moved.status_code == 200, moved.text
    assert moved.json()["lantern_count"] == 2
    rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()
    assert {r["lantern"] for r in rows["lanterns"]} == set(square["lantern_ids"])
    assert rows["lantern_count"] == square["lantern_count"]
