"""The demo inventory in config/demo: real, compact, credited, and every lamp on a street."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightctl.geo import LanternRecord, StreetIndex, StreetSegment, read_lanterns, read_streets

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo"
MAX_BYTES = 1_500_000


@pytest.fixture(scope="module")
def demo_lanterns() -> list[LanternRecord]:
    items = list(read_lanterns(DEMO / "lanterns.geojson"))
    records = [i for i in items if isinstance(i, LanternRecord)]
    assert len(records) == len(items), "the demo inventory has no bad rows"
    return records


@pytest.fixture(scope="module")
def demo_index() -> StreetIndex:
    return StreetIndex(
        s for s in read_streets(DEMO / "streets.geojson") if isinstance(s, StreetSegment)
    )


def test_demo_inventory_size_and_place(demo_lanterns: list[LanternRecord]) -> None:
    assert 2_500 <= len(demo_lanterns) <= 4_000
    assert all(r.id.startswith("LEU") for r in demo_lanterns)
    assert all(8.532 <= r.lon <= 8.548 and 47.366 <= r.lat <= 47.380 for r in demo_lanterns)


def test_every_demo_lamp_is_within_30_m_of_a_named_demo_street(
    demo_lanterns: list[LanternRecord], demo_index: StreetIndex
) -> None:
    hits = demo_index.nearest_named(
        [r.lon for r in demo_lanterns], [r.lat for r in demo_lanterns], 30.0
    )
    assert all(hit is not None for hit in hits)
    on_bahnhofstrasse = sum(1 for hit in hits if hit is not None and hit[0] == "Bahnhofstrasse")
    assert on_bahnhofstrasse > 100
    assert {"Limmatquai", "Rennweg", "Bahnhofplatz"} <= {h[0] for h in hits if h is not None}


def test_demo_files_are_compact_and_rounded() -> None:
    for name in ("lanterns.geojson", "streets.geojson"):
        path = DEMO / name
        assert path.stat().st_size < MAX_BYTES, name
        doc = json.loads(path.read_text(encoding="utf-8"))
        for feature in doc["features"][:200]:
            coords = feature["geometry"]["coordinates"]
            flat = coords if isinstance(coords[0], float) else [c for p in coords for c in p]
            assert all(round(c, 7) == c for c in flat)
    streets = json.loads((DEMO / "streets.geojson").read_text(encoding="utf-8"))
    assert set(streets["features"][0]["properties"]) == {"id", "name", "class"}


def test_demo_readme_carries_the_credits() -> None:
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "Data: Stadt Zürich, Öffentliche Beleuchtung (CC0)" in text
    assert "© OpenStreetMap contributors, Overture Maps Foundation" in text
    assert "ODbL" in text


def test_geo_code_and_tests_never_read_the_shared_data() -> None:
    needle = "shared" + "/data"
    for folder in (ROOT / "lightctl" / "geo", ROOT / "tests" / "unit" / "geo"):
        for path in folder.rglob("*.py"):
            assert needle not in path.read_text(encoding="utf-8"), path
