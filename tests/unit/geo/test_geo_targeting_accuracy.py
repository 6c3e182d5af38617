"""Circles and route corridors agree with a geodesic brute force to well within 0.5 m.

The lanterns are the 148 real lamps of the fixture plus probe points placed on purpose just inside
and just outside each boundary (computed with pyproj.Geod), so a boundary error of a few decimetres
(a circle measured on degrees, a UTM scale ignored on a large radius) cannot pass unnoticed.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from pyproj import Geod

from lightctl.domain.targets import Circle, Route, TargetSpec
from lightctl.geo import LanternRecord
from lightctl.geo.targeting import LanternIndex

GEOD = Geod(ellps="WGS84")
TOLERANCE_M = 0.5
# Probes this far inside and outside the boundary: beyond the tolerance (must be right) and within
# a few centimetres (we claim that precision too).
PROBE_OFFSETS_M = (-0.55, -0.01, 0.01, 0.55)
# Bends included: a corridor is measured to the nearest part of the line.
ROUTE = [(8.5378, 47.3697), (8.5391, 47.3706), (8.5389, 47.3716), (8.5403, 47.3723)]


def build(lanterns: dict[str, LanternRecord], probes: list[tuple[float, float]]) -> LanternIndex:
    ids = list(lanterns) + [f"P{i}" for i in range(len(probes))]
    lons = [r.lon for r in lanterns.values()] + [p[0] for p in probes]
    lats = [r.lat for r in lanterns.values()] + [p[1] for p in probes]
    n = len(ids)
    return LanternIndex(ids, lons, lats, [None] * n, [[True] * 4] * n, [None] * n)


def positions(index: LanternIndex) -> tuple[list[str], npt.NDArray[np.float64]]:
    features = index.features(np.arange(len(index)))["features"]
    return [f["id"] for f in features], np.array([f["geometry"]["coordinates"] for f in features])


def check(
    index: LanternIndex, spec: TargetSpec, truth: npt.NDArray[np.float64], limit: float
) -> float:
    """Every lantern more than ``TOLERANCE_M`` from the boundary is classified as the brute force
    says; returns the largest true overshoot of a lantern on the wrong side (0: none)."""
    ids, _coords = positions(index)
    chosen = set(index.resolve(spec).lantern_ids)
    worst = 0.0
    for lantern_id, distance in zip(ids, truth.tolist(), strict=True):
        inside = lantern_id in chosen
        if inside != (distance <= limit):
            worst = max(worst, abs(distance - limit))
    near = int(np.sum(np.abs(truth - limit) < 1.0))
    assert near >= 50, f"only {near} lanterns within 1 m of the boundary: the test would not bite"
    return worst


def circle_probes(lon: float, lat: float, radius: float) -> list[tuple[float, float]]:
    out = []
    for azimuth in range(0, 360, 10):
        for offset in PROBE_OFFSETS_M:
            plon, plat, _ = GEOD.fwd(lon, lat, azimuth + 3.7, radius + offset)
            out.append((plon, plat))
    return out


@pytest.mark.parametrize(
    "centre", [(8.5390, 47.3710), (8.540036, 47.3724388), (8.5380, 47.3698)], ids=str
)
def test_circle_of_100_m_matches_geodesic_distances(
    small_lanterns: dict[str, LanternRecord], centre: tuple[float, float]
) -> None:
    index = build(small_lanterns, circle_probes(*centre, 100.0))
    _ids, coords = positions(index)
    n = len(coords)
    _, _, truth = GEOD.inv(np.full(n, centre[0]), np.full(n, centre[1]), coords[:, 0], coords[:, 1])
    spec = TargetSpec(circle=Circle(centre[0], centre[1], 100.0), allow_empty=True)
    worst = check(index, spec, np.asarray(truth), 100.0)
    assert worst < TOLERANCE_M
    assert worst < 0.01  # in fact exact: the circle keeps geodesic distances


def route_distance(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Geodesic distance of every point to the route, its edges sampled every 0.25 m."""
    samples = []
    for (lon_a, lat_a), (lon_b, lat_b) in itertools.pairwise(ROUTE):
        length = GEOD.inv(lon_a, lat_a, lon_b, lat_b)[2]
        t = np.linspace(0.0, 1.0, int(length / 0.25) + 2)
        samples.append(np.column_stack([lon_a + (lon_b - lon_a) * t, lat_a + (lat_b - lat_a) * t]))
    line = np.vstack(samples)
    out = np.empty(len(coords))
    for i, (lon, lat) in enumerate(coords):
        _, _, d = GEOD.inv(np.full(len(line), lon), np.full(len(line), lat), line[:, 0], line[:, 1])
        out[i] = d.min()
    return out


def route_probes(width: float) -> list[tuple[float, float]]:
    out = []
    for (lon_a, lat_a), (lon_b, lat_b) in itertools.pairwise(ROUTE):
        azimuth = GEOD.inv(lon_a, lat_a, lon_b, lat_b)[0]
        for t in np.linspace(0.1, 0.9, 9):
            lon, lat = lon_a + (lon_b - lon_a) * t, lat_a + (lat_b - lat_a) * t
            for side in (-90.0, 90.0):
                for offset in PROBE_OFFSETS_M:
                    plon, plat, _ = GEOD.fwd(lon, lat, azimuth + side, width + offset)
                    out.append((plon, plat))
    return out


def test_route_corridor_of_20_m_matches_geodesic_distances(
    small_lanterns: dict[str, LanternRecord],
) -> None:
    index = build(small_lanterns, route_probes(20.0))
    _ids, coords = positions(index)
    truth = route_distance(coords)
    line = {"type": "LineString", "coordinates": [list(p) for p in ROUTE]}
    spec = TargetSpec(route=Route(line, 20.0), allow_empty=True)
    worst = check(index, spec, truth, 20.0)
    assert worst < TOLERANCE_M
    assert worst < 0.01  # UTM with its scale factor: millimetres
