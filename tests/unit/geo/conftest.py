"""Fixtures for the geo tests: the small real Zürich slices and an index over their streets."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightctl.geo import LanternRecord, StreetIndex, StreetSegment, read_lanterns, read_streets

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
