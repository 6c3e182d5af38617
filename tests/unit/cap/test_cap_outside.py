"""The part of a CAP area outside the inventory is where no lantern is, not what lies outside the
inventory's bounding box: a warning area over a lake between two districts is reported as
mostly outside, though the lake lies within the districts' box."""

from __future__ import annotations

from lightctl.cap.areas import outside
from lightctl.geo.targeting import LanternIndex


def grid(west: float, south: float, n: int, step: float = 0.0005) -> tuple[list[float], ...]:
    lons = [west + i * step for i in range(n) for _ in range(n)]
    lats = [south + j * step for _ in range(n) for j in range(n)]
    return lons, lats


def two_districts() -> LanternIndex:
    """Two 1 km-wide districts 3 km apart (lon 8.50-8.51 and 8.55-8.56), nothing in between."""
    west_lons, west_lats = grid(8.50, 47.30, 20)
    east_lons, east_lats = grid(8.55, 47.30, 20)
    lons, lats = west_lons + east_lons, west_lats + east_lats
    n = len(lons)
    ids = [f"L{i}" for i in range(n)]
    return LanternIndex(ids, lons, lats, [None] * n, [[True] * 4] * n, [None] * n)


def square(west: float, south: float, east: float, north: float) -> dict[str, object]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_an_area_between_two_districts_is_outside_the_inventory() -> None:
    index = two_districts()
    lake = square(8.515, 47.301, 8.545, 47.308)  # inside the bounding box, no lantern near
    _area, share = outside(lake, index.extent, index.occupied_cells)
    assert share > 0.95
    _area, box_share = outside(lake, index.extent)  # the bounding box alone would call it covered
    assert box_share == 0.0


def test_an_area_over_a_district_is_inside_and_one_beyond_everything_is_outside() -> None:
    index = two_districts()
    over_west = square(8.5005, 47.3005, 8.509, 47.309)
    area, share = outside(over_west, index.extent, index.occupied_cells)
    assert share < 0.05
    far = square(9.0, 47.5, 9.01, 47.51)
    area, share = outside(far, index.extent, index.occupied_cells)
    assert share == 1.0
    assert area is not None
