"""POST /api/v1/guidance/preview over the live service: arrows out of a hazard on the fixture
streets, meeting points, exit loads, and every bad input as a 4xx naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker]

# On Bahnhofstrasse, in the middle of the fixture's streets.
FIRE = {"lon": 8.5392, "lat": 47.3715}
LINDENHOF = {"name": "Lindenhof", "lon": 8.5410, "lat": 47.3728}


def preview(service: LiveService, body: dict[str, Any]) -> dict[str, Any]:
    response = service.http.post("/guidance/preview", json=body)
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


def problem(service: LiveService, body: dict[str, Any], status: int = 422) -> dict[str, Any]:
    response = service.http.post("/guidance/preview", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    out: dict[str, Any] = response.json()
    return out


def test_leave_the_area_gives_arrows_and_exits(service: LiveService) -> None:
    body = preview(service, {"hazard": {"circle": {**FIRE, "radius_m": 80}}, "buffer_m": 20})
    assert body["mode"] == "leave_area"
    assert body["counts"].get("arrow", 0) > 5
    arrows = [r for r in body["lanterns"] if r["kind"] == "arrow"]
    assert all(r["pictogram"] == "arrow" and 0 <= r["heading_deg"] < 360 for r in arrows)
    assert all(r["exit"] for r in arrows)
    assert sum(e["lanterns"] for e in body["exits"]) >= len(arrows)
    assert body["hazard"]["type"] in ("Polygon", "MultiPolygon")
    assert not body["no_safe_place"]


def test_meeting_point_names_the_exit_of_every_arrow(service: LiveService) -> None:
    body = preview(
        service,
        {"hazard": {"circle": {**FIRE, "radius_m": 60}}, "meeting_points": [LINDENHOF]},
    )
    assert body["mode"] == "meeting_points"
    led = [r for r in body["lanterns"] if r["kind"] in ("arrow", "neutral", "exit")]
    assert led
    assert {r["exit"] for r in led} == {"Lindenhof"}
    assert [e["name"] for e in body["exits"]] == ["Lindenhof"]


def test_a_hazard_over_everything_offers_shelter_in_place(service: LiveService) -> None:
    body = preview(service, {"hazard": {"circle": {**FIRE, "radius_m": 5000}}})
    assert body["no_safe_place"]
    assert body["counts"] == {"shelter": body["lantern_count"] - len(body["without_street"])} | (
        {"no_street": len(body["without_street"])} if body["without_street"] else {}
    )
    assert "shelter in place" in body["warnings"][0]
    assert not any(r["heading_deg"] is not None for r in body["lanterns"])


def test_a_meeting_point_off_the_streets_is_refused_with_its_distance(
    service: LiveService,
) -> None:
    far = {"name": "Uetliberg", "lon": 8.4918, "lat": 47.3495}
    body = problem(
        service, {"hazard": {"circle": {**FIRE, "radius_m": 60}}, "meeting_points": [far]}
    )
    assert body["errors"][0]["loc"] == ["meeting_points", 0]
    assert " m from the nearest walkable street" in body["errors"][0]["msg"]


def test_a_meeting_point_inside_the_hazard_is_refused(service: LiveService) -> None:
    inside = {"name": "Brandort", **FIRE}
    body = problem(
        service, {"hazard": {"circle": {**FIRE, "radius_m": 80}}, "meeting_points": [inside]}
    )
    assert body["errors"][0]["loc"] == ["meeting_points", 0]
    assert "inside the hazard" in body["errors"][0]["msg"]


def test_bad_hazards_are_refused_naming_the_field(service: LiveService) -> None:
    assert problem(service, {"hazard": {}})["errors"][0]["loc"][0] == "hazard"
    bad_area = {"type": "Polygon", "coordinates": [[[8.53, 47.37], [8.54, 47.37]]]}
    assert problem(service, {"hazard": {"area": bad_area}})["errors"][0]["loc"][:2] == [
        "hazard",
        "area",
    ]
    unknown = problem(service, {"hazard": {"streets": ["Bahnhofstrase"]}})
    assert unknown["errors"][0]["loc"] == ["hazard", "streets", 0]
    assert problem(service, {"hazard": {"circle": {**FIRE, "radius_m": -1}}})["status"] == 422
    assert problem(service, {"buffer_m": 10})["status"] == 422  # no hazard at all


def test_holes_are_hazard_unless_marked_safe(service: LiveService) -> None:
    d_lon, d_lat = 0.0025, 0.0017  # about 190 m by 190 m around the fire
    ring = [
        [FIRE["lon"] - d_lon, FIRE["lat"] - d_lat],
        [FIRE["lon"] + d_lon, FIRE["lat"] - d_lat],
        [FIRE["lon"] + d_lon, FIRE["lat"] + d_lat],
        [FIRE["lon"] - d_lon, FIRE["lat"] + d_lat],
        [FIRE["lon"] - d_lon, FIRE["lat"] - d_lat],
    ]
    h = 0.4
    hole = [
        [FIRE["lon"] - d_lon * h, FIRE["lat"] - d_lat * h],
        [FIRE["lon"] - d_lon * h, FIRE["lat"] + d_lat * h],
        [FIRE["lon"] + d_lon * h, FIRE["lat"] + d_lat * h],
        [FIRE["lon"] + d_lon * h, FIRE["lat"] - d_lat * h],
        [FIRE["lon"] - d_lon * h, FIRE["lat"] - d_lat * h],
    ]
    area = {"type": "Polygon", "coordinates": [ring, hole]}
    filled = preview(service, {"hazard": {"area": area}, "buffer_m": 0})
    marked = preview(service, {"hazard": {"area": area}, "buffer_m": 0, "holes_safe": True})
    assert len(filled["hazard"]["coordinates"]) == 1  # one ring: the hole is filled

    def in_hole(row: dict[str, Any]) -> bool:
        # 10 m inside the hole's edge: the lantern stands in the courtyard, not on its rim
        return bool(
            abs(row["lon"] - FIRE["lon"]) < d_lon * h - 0.00015
            and abs(row["lat"] - FIRE["lat"]) < d_lat * h - 0.0001
        )

    hole_rows = [r for r in marked["lanterns"] if in_hole(r)]
    assert hole_rows, "the fixture has lanterns in the hole"
    assert {r["kind"] for r in hole_rows} == {"safe"}
    filled_kinds = {r["kind"] for r in filled["lanterns"] if in_hole(r)}
    assert filled_kinds
    assert "safe" not in filled_kinds


def test_the_lanterns_target_chooses_who_is_guided(service: LiveService) -> None:
    ids = service.http.post("/targets/preview", json={"circle": {**FIRE, "radius_m": 80}}).json()[
        "lantern_ids"
    ]
    body = preview(
        service,
        {"hazard": {"circle": {**FIRE, "radius_m": 80}}, "lanterns": {"lanterns": ids[:5]}},
    )
    assert [r["id"] for r in body["lanterns"]] == ids[:5]
