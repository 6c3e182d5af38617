"""Route guidance locates lanterns along the route as shapely does, in O(n log v): the same
distances and points on winding, rounded (ties) and degenerate lines."""

from __future__ import annotations

import time

import numpy as np
import shapely
from shapely.geometry import LineString

from lightctl.geo.guidance import _Segments, guide


def test_locate_and_point_at_agree_with_shapely() -> None:
    rng = np.random.default_rng(7)
    for trial in range(120):
        coords = rng.normal(0, 50, (int(rng.integers(2, 60)), 2)).cumsum(axis=0)
        if trial % 3 == 0:
            coords = np.round(coords)  # points equally near two segments
        if trial % 5 == 0:
            coords = np.vstack([coords[:2], coords[1:2], coords[2:]])  # a zero-length segment
        line = LineString(coords)
        route = _Segments(shapely.get_coordinates(line))
        lo, hi = coords.min(axis=0) - 50, coords.max(axis=0) + 50
        xs, ys = rng.uniform(lo[0], hi[0], 200), rng.uniform(lo[1], hi[1], 200)
        expected = shapely.line_locate_point(line, shapely.points(xs, ys))
        np.testing.assert_allclose(route.locate(xs, ys), expected, atol=1e-9)
        at = rng.uniform(0, line.length, 200)
        points = shapely.get_coordinates(shapely.line_interpolate_point(line, at))
        np.testing.assert_allclose(route.point_at(at), points, atol=1e-9)


def test_a_long_zigzag_route_is_guided_quickly() -> None:
    n = 5_000
    lons = 8.50 + np.arange(n) * 2e-5
    lats = 47.37 + np.where(np.arange(n) % 2 == 0, 0.0, 3e-4)
    rng = np.random.default_rng(0)
    lantern_lons = 8.50 + rng.uniform(0, 0.1, 20_000)
    lantern_lats = 47.37 + rng.uniform(-0.01, 0.01, 20_000)
    started = time.perf_counter()
    result = guide(LineString(np.column_stack([lons, lats])), lantern_lons, lantern_lats, False)
    took = time.perf_counter() - started
    print(f"5,000-position route, 20,000 lanterns guided in {took * 1000:.0f} ms")
    assert len(result.headings_deg) == 20_000
    assert bool(np.all((result.along_m >= 0) & (result.along_m <= result.length_m + 1e-6)))
    assert took < 3.0  # ~0.1 s; shapely's line_locate_point alone took 5.5 s
