"""Unnamed OpenStreetMap footways in the walking graph (issue 18): a dead-end street inside the
hazard whose only way out is an unnamed footpath gets arrows through it; the path is stored as a
walk-only way (``osm-way-<id>``, no name) that street search, targets and the lanterns' streets
never see. Over the live service (HTTP API), on a hand-made OSM extract."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightctl.cli import app
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.support import FIXTURES, MosquittoProcess, cli_runner, flat

pytestmark = [pytest.mark.broker]

# tests/fixtures/dead_end_footway.osm, in metres east (x) and north (y) of node 2 (8.53, 47.36):
# Hauptstrasse y=0 (x -300..300), Sackgasse x=0 from y=0 north to its dead end at y=200, an
# unnamed footway (way 103) on from there to Nordstrasse at y=320 (x -300..300). Also unnamed:
# a private driveway, a service road with foot=no and a motorway link, none of them walkable.
EXTRACT = FIXTURES / "dead_end_footway.osm"
LON0, LAT0 = 8.53, 47.36
M_PER_DEG_LAT = 111_132.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
# The hazard covers all of Sackgasse and its junction (y -30..230): its only way out is north.
HAZARD = {"circle": {"lon": LON0, "lat": LAT0 + 100 / M_PER_DEG_LAT, "radius_m": 130}}
BUFFER_M = 20  # safe from y = 250 on: the footway's end on Nordstrasse (y 320) is a safe node
LANTERNS = {
    "SACK-120": (3, 120),
    "SACK-150": (3, 150),
    "SACK-180": (3, 180),
    "PATH-240": (3, 240),  # on the footway, 40 m from the nearest named street
    "HAUPT-150": (150, 3),
    "NORD-150": (150, 323),
}


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


@pytest.fixture
def osm_service(
    tmp_path: Path, mosquitto: MosquittoProcess, topic_root: str
) -> Iterator[LiveService]:
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    db.create_all()
    features = [
        {
            "type": "Feature",
            "id": lid,
            "properties": {},
            "geometry": {"type": "Point", "coordinates": list(_lonlat(*xy))},
        }
        for lid, xy in LANTERNS.items()
    ]
    inventory = tmp_path / "lanterns.geojson"
    inventory.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    import_lanterns(db, inventory)
    report = import_streets(db, EXTRACT)
    assert report.classes == {"residential": 3}
    assert report.unnamed == {"footway": 1}
    live = LiveService(make_settings(tmp_path, mosquitto.url, topic_root), db)
    live.start()
    yield live
    live.stop()
    db.dispose()


def test_guidance_leads_out_of_a_dead_end_through_the_unnamed_footway(
    osm_service: LiveService,
) -> None:
    response = osm_service.http.post(
        "/guidance/preview",
        json={"hazard": HAZARD, "buffer_m": BUFFER_M, "lanterns": {"lanterns": list(LANTERNS)}},
    )
    assert response.status_code == 200, response.text
    rows = {r["id"]: r for r in response.json()["lanterns"]}
    for lid in ("SACK-120", "SACK-150", "SACK-180", "PATH-240"):
        row = rows[lid]
        assert row["kind"] == "arrow", row
        # North, toward the dead end and the footway, never south into the hazard's junction.
        off = abs((row["heading_deg"] + 180) % 360 - 180)
        assert off <= 5, row
        # The walk to safety is the way through the footway, to where it meets Nordstrasse.
        assert row["metres"] == pytest.approx(320 - LANTERNS[lid][1], abs=5), row


def test_the_footway_is_a_walk_only_way_and_no_street(osm_service: LiveService) -> None:
    streets = osm_service.http.get("/streets").json()
    assert sorted(s["name"] for s in streets) == ["Hauptstrasse", "Nordstrasse", "Sackgasse"]
    # The lantern on the footway stands on no street (the nearest named one is 40 m away).
    assert osm_service.http.get("/lanterns/PATH-240").json()["street"] is None
    assert osm_service.http.get("/lanterns/SACK-150").json()["street"] == "Sackgasse"
    # A target cannot name it, by its id or otherwise.
    refused = osm_service.http.post("/targets/preview", json={"streets": ["osm-way-103"]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["streets", 0]
    # The map draws it (unnamed, its class) and nothing that may not be walked.
    geometry = osm_service.http.get("/streets/geometry").json()
    stored = {f["properties"]["id"]: f["properties"] for f in geometry["features"]}
    assert stored["osm-way-103"] == {"id": "osm-way-103", "name": None, "class": "footway"}
    assert set(stored) == {"osm-way-101", "osm-way-102", "osm-way-103", "osm-way-104"}


def test_the_cli_reports_the_unnamed_ways_it_kept(tmp_path: Path) -> None:
    result = cli_runner().invoke(
        app, ["streets", "import", str(EXTRACT), "--data-dir", str(tmp_path / "data")]
    )
    out = flat(result.output)
    assert result.exit_code == 0, out
    assert "named segments by class: residential 3" in out
    assert "unnamed segments by class (walking graph only, no street): footway 1" in out
