"""Fixtures for the geo tests: the small real Zürich slices and an index over their streets."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightctl.geo import LanternRecord, StreetIndex, StreetSegment, read_lanterns, read_streets
from lightctl.geo.names import normalize_street_name
from lightctl.geo.targeting import LanternIndex

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def small_segments() -> list[StreetSegment]:
    items = list(read_streets(FIXTURES / "zurich_streets_small.geojson"))
    segments = [s for s in items if isinstance(s, StreetSegment)]
    assert len(segments) == len(items), "the real street slice has no bad rows"
    return segments


@pytest.fixture(scope="session")
def small_index(small_segments: list[StreetSegment]) -> StreetIndex:
    return StreetIndex(small_segments)


@pytest.fixture(scope="session")
def small_lanterns() -> dict[str, LanternRecord]:
    items = list(read_lanterns(FIXTURES / "zurich_lanterns_small.geojson"))
    records = {r.id: r for r in items if isinstance(r, LanternRecord)}
    assert len(records) == len(items) == 148
    return records


@pytest.fixture(scope="session")
def fixture_index(
    small_index: StreetIndex, small_lanterns: dict[str, LanternRecord]
) -> LanternIndex:
    """The 148 real lamps, each on its nearest named street within 30 m (as an import does);
    every third lamp lacks a projector, every fifth is offline, every seventh never reported."""
    records = list(small_lanterns.values())
    lons = [r.lon for r in records]
    lats = [r.lat for r in records]
    hits = small_index.nearest_named(lons, lats, 30.0)
    keys = [None if h is None else normalize_street_name(h[0]) for h in hits]
    names = {normalize_street_name(h[0]): h[0] for h in hits if h is not None}
    caps = [(True, True, i % 3 != 0, True) for i in range(len(records))]
    online = [None if i % 7 == 0 else i % 5 != 0 for i in range(len(records))]
    return LanternIndex([r.id for r in records], lons, lats, keys, caps, online, names)
