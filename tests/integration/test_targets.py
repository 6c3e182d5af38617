"""Previews over the live stack, and an alert that reaches exactly the lanterns previewed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet
from lightctl.services.inventory import import_lanterns
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.support import FIXTURES, MUENZPLATZ, MosquittoProcess

pytestmark = [pytest.mark.broker]

# 100 m around a point on Bahnhofstrasse between Paradeplatz and Augustinergasse.
CIRCLE = {"lon": 8.5390, "lat": 47.3710, "radius_m": 100.0}


def preview(service: LiveService, target: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = service.http.post("/targets/preview", json=target)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_preview_shows_who_what_and_where(service: LiveService) -> None:
    body = preview(service, {"streets": ["bahnhofstr."]})
    count = body["lantern_count"]
    assert count == len(body["lantern_ids"]) == 41
    assert body["lantern_ids"] == sorted(body["lantern_ids"])
    assert body["capabilities"] == {"speaker": 41, "rgb": 41, "projector": 41, "path_light": 41}
    assert body["offline_count"] == 0
    assert body["availability_unknown_count"] == 41  # no fleet: nobody has reported yet
    assert body["streets"] == [{"name": "Bahnhofstrasse", "lantern_count": 41}]
    assert body["without_street_count"] == 0
    features = body["geojson"]["features"]
    assert body["geojson"]["type"] == "FeatureCollection"
    assert {f["id"] for f in features} == set(body["lantern_ids"])
    assert all(f["geometry"]["type"] == "Point" for f in features)
    lean = service.http.post(
        "/targets/preview", params={"geojson": False}, json={"streets": ["Bahnhofstrasse"]}
    )
    assert lean.json()["geojson"] is None


def test_preview_of_combined_selectors(service: LiveService) -> None:
    circle = set(preview(service, {"circle": CIRCLE})["lantern_ids"])
    square = set(preview(service, {"area": MUENZPLATZ})["lantern_ids"])
    street = set(preview(service, {"streets": ["Bahnhofstrasse"]})["lantern_ids"])
    both = preview(
        service,
        {"area": MUENZPLATZ, "circle": CIRCLE, "exclude": {"streets": ["Bahnhofstrasse"]}},
    )
    assert set(both["lantern_ids"]) == (circle | square) - street
    touched = {s["name"] for s in both["streets"]}
    assert "Bahnhofstrasse" not in touched
    assert "Münzplatz" in touched


def test_preview_refusals_name_the_selector(service: LiveService) -> None:
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        ({}, [], "target is empty"),
        ({"circle": {"lon": 47.371, "lat": 8.539, "radius_m": 100}}, ["circle"], "swapped"),
        ({"circle": {**CIRCLE, "radius_m": 0}}, ["circle", "radius_m"], "greater than 0"),
        ({"route": {"line": {"type": "LineString", "coordinates": [[8.5, 47.3]]}, "width_m": 20}},
         ["route", "line"], "at least 2 positions"),
        ({"area": {**MUENZPLATZ, "coordinates": [MUENZPLATZ["coordinates"][0][:-1]]}},
         ["area"], "not closed"),
        ({"streets": ["Bahnhofstrase"]}, ["streets", 0], "no lantern stands"),
        ({"circle": {"lon": 8.55, "lat": 47.38, "radius_m": 10}}, [], "no lanterns in target"),
        ({"streets": ["Bahnhofstrasse"], "exclude": {"lanterns": ["NOPE"]}},
         ["exclude", "lanterns", 0], "unknown lantern id"),
    ]  # fmt: skip
    for target, loc, fragment in cases:
        body = preview(service, target, status=422)
        assert body["type"] == "/problems/invalid_request"
        assert [e["loc"] for e in body["errors"]] == [loc], target
        assert fragment in body["errors"][0]["msg"], (target, body)
    allowed = preview(
        service, {"circle": {"lon": 8.55, "lat": 47.38, "radius_m": 10}, "allow_empty": True}
    )
    assert allowed["lantern_count"] == 0


def test_ceiling_needs_confirmation(
    inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    live = LiveService(
        make_settings(tmp_path, mosquitto.url, topic_root, target_max_lanterns=40), inventory
    )
    live.start()
    try:
        refused = preview(live, {"streets": ["Bahnhofstrasse"]}, status=422)
        assert "more than the ceiling of 40" in refused["detail"]
        assert (
            preview(live, {"streets": ["Bahnhofstrasse"], "confirm_large": True})["lantern_count"]
            == 41
        )
        alert = live.http.post(
            "/alerts",
            json={"target": {"streets": ["Bahnhofstrasse"]}, "messages": {"en": "Test."}},
        )
        assert alert.status_code == 422
        assert alert.json()["errors"][0]["loc"] == ["target"]
    finally:
        live.stop()


def test_index_follows_imports_made_elsewhere(service: LiveService) -> None:
    """Another process (the CLI, another replica) imports: the next preview sees it."""
    before = preview(service, {"area": MUENZPLATZ})["lantern_count"]
    import_lanterns(service.runtime.db, FIXTURES / "overpass_street_lamps.json")
    after = preview(service, {"area": MUENZPLATZ})
    assert after["lantern_count"] == before + 2  # two of the three OSM lamps stand on Münzplatz
    assert {"osm-node-9000000001", "osm-node-9000000002"} <= set(after["lantern_ids"])


@pytest.mark.e2e
def test_alert_to_circle_minus_street_reaches_exactly_the_previewed_lanterns(
    service: LiveService, fleet: Fleet
) -> None:
    target = {"circle": CIRCLE, "exclude": {"streets": ["Bahnhofstrasse"]}}
    previewed = set(preview(service, target)["lantern_ids"])
    assert 10 < len(previewed) < len(fleet.lantern_ids)
    response = service.http.post("/alerts", json={"target": target, "messages": {"en": "Test."}})
    assert response.status_code == 201, response.text
    alert = response.json()
    assert alert["lantern_count"] == len(previewed)
    assert alert["target"] == target  # the whole target is stored, geometry included
    done = service.wait_for(alert["id"], lambda b: b["status"] != "sending")
    assert done["status"] == "completed"
    rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()
    assert {r["lantern"] for r in rows["lanterns"]} == previewed
    assert {r["state"] for r in rows["lanterns"]} <= {"done", "applied"}
    for lantern_id in fleet.lantern_ids:
        heard = bool(fleet.record(lantern_id).acks)
        assert heard == (lantern_id in previewed), lantern_id


def test_nan_in_json_is_a_422_not_a_500(service: LiveService) -> None:
    """Python's JSON parser accepts NaN; the refusal must still be a clean problem document."""
    bodies = [
        (
            b'{"area": {"type": "Polygon", "coordinates": [[[8.5385, 47.37], [NaN, 47.37],'
            b" [8.5395, 47.371], [8.5385, 47.37]]]}}"
        ),
        b'{"circle": {"lon": 8.539, "lat": 47.371, "radius_m": NaN}}',
        (
            b'{"route": {"line": {"type": "LineString", "coordinates": [[8.538, 47.37],'
            b' [8.54, 47.372]]}, "width_m": Infinity}}'
        ),
    ]
    for raw in bodies:
        response = service.http.post(
            "/targets/preview", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
