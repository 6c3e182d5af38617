"""Properties of target resolution over random targets: set algebra, and nothing outside the shape.

The lanterns are 400 random points in a 700 m square in Zürich on 8 synthetic streets; shapes are
checked against an independent projection (azimuthal equidistant, centred on each shape) and
pyproj.Geod, to 1 cm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from lightctl.domain.targets import Circle, Route, TargetSpec
from lightctl.geo.targeting import LanternIndex

GEOD = Geod(ellps="WGS84")
WEST, SOUTH, EAST, NORTH = 8.535, 47.368, 8.544, 47.374
N_LANTERNS = 400
STREETS = [f"Strasse {c}" for c in "ABCDEFGH"]
CM = 0.01

_rng = np.random.default_rng(20240901)
LONS = _rng.uniform(WEST, EAST, N_LANTERNS)
LATS = _rng.uniform(SOUTH, NORTH, N_LANTERNS)
IDS = [f"L{i:04d}" for i in range(N_LANTERNS)]
KEYS = [f"strasse{'abcdefgh'[i % 8]}" for i in range(N_LANTERNS)]
INDEX = LanternIndex(
    IDS,
    LONS,
    LATS,
    KEYS,
    [[True] * 4] * N_LANTERNS,
    [None] * N_LANTERNS,
    dict(zip([f"strasse{c}" for c in "abcdefgh"], STREETS, strict=True)),
)
POSITION = {i: (float(lon), float(lat)) for i, lon, lat in zip(IDS, LONS, LATS, strict=True)}

lons = st.floats(WEST, EAST)
lats = st.floats(SOUTH, NORTH)
circles = st.builds(Circle, lons, lats, st.floats(1.0, 400.0))


@st.composite
def areas(draw: st.DrawFn) -> dict[str, Any]:
    """A valid polygon: the convex hull of 3-8 random points (retried while degenerate)."""
    points = draw(st.lists(st.tuples(lons, lats), min_size=3, max_size=8, unique=True))
    hull = shapely.MultiPoint(points).convex_hull
    if not isinstance(hull, shapely.Polygon) or hull.area < 1e-9:
        hull = shapely.box(WEST, SOUTH, WEST + 0.001, SOUTH + 0.001)
    return {"type": "Polygon", "coordinates": [list(map(list, hull.exterior.coords))]}


@st.composite
def routes(draw: st.DrawFn) -> Route:
    points = draw(st.lists(st.tuples(lons, lats), min_size=2, max_size=5, unique=True))
    line = {"type": "LineString", "coordinates": [list(p) for p in points]}
    return Route(line, draw(st.floats(1.0, 120.0)))


@st.composite
def targets(draw: st.DrawFn) -> TargetSpec:
    spec = TargetSpec(
        lanterns=tuple(draw(st.lists(st.sampled_from(IDS), max_size=8, unique=True))),
        streets=tuple(draw(st.lists(st.sampled_from(STREETS), max_size=2, unique=True))),
        area=draw(st.none() | areas()),
        circle=draw(st.none() | circles),
        route=draw(st.none() | routes()),
    )
    if spec.is_empty():
        spec = TargetSpec(lanterns=(IDS[0],))
    return spec


def chosen(spec: TargetSpec) -> set[str]:
    return set(INDEX.ids_at(INDEX.select(spec, {})))


def each_selector(spec: TargetSpec) -> list[TargetSpec]:
    parts = []
    if spec.lanterns:
        parts.append(TargetSpec(lanterns=spec.lanterns))
    if spec.streets:
        parts.append(TargetSpec(streets=spec.streets))
    for name in ("area", "circle", "route"):
        if getattr(spec, name) is not None:
            parts.append(TargetSpec(**{name: getattr(spec, name)}))
    return parts


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(targets())
def test_a_target_is_the_union_of_its_selectors(spec: TargetSpec) -> None:
    expected = set().union(*(chosen(part) for part in each_selector(spec)))
    assert chosen(spec) == expected


@PROPERTY
@given(targets(), targets())
def test_exclude_is_set_difference(spec: TargetSpec, exclude: TargetSpec) -> None:
    combined = TargetSpec(
        lanterns=spec.lanterns,
        streets=spec.streets,
        area=spec.area,
        circle=spec.circle,
        route=spec.route,
        exclude=exclude,
    )
    assert chosen(combined) == chosen(spec) - chosen(exclude)
    assert chosen(TargetSpec(lanterns=tuple(IDS), exclude=spec)) == set(IDS) - chosen(spec)


@PROPERTY
@given(targets(), targets())
def test_union_is_commutative_and_idempotent(a: TargetSpec, b: TargetSpec) -> None:
    ab = TargetSpec(
        lanterns=a.lanterns + b.lanterns,
        streets=a.streets + b.streets,
        area=a.area,
        circle=b.circle,
    )
    ba = TargetSpec(
        lanterns=b.lanterns + a.lanterns,
        streets=b.streets + a.streets,
        circle=b.circle,
        area=a.area,
    )
    assume(not ab.is_empty())  # both drawn targets held only routes, which this union leaves out
    assert chosen(ab) == chosen(ba)
    doubled = TargetSpec(lanterns=a.lanterns + a.lanterns, streets=a.streets * 2)
    if a.lanterns or a.streets:
        assert chosen(doubled) == chosen(TargetSpec(lanterns=a.lanterns, streets=a.streets))


def _local(lon: float, lat: float) -> Transformer:
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lon_0={lon} +lat_0={lat} +ellps=WGS84", always_xy=True
    )


def _metric(points: np.ndarray[Any, Any], to_m: Transformer) -> np.ndarray[Any, Any]:
    """GeoJSON edges are straight in lon/lat: split them every ~5 m before projecting."""
    dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(points), 0.00005))
    xs, ys = to_m.transform(dense[:, 0], dense[:, 1])
    return np.column_stack([xs, ys])


@PROPERTY
@given(circles)
def test_a_circle_never_returns_a_lantern_outside_it(circle: Circle) -> None:
    got = chosen(TargetSpec(circle=circle))
    _, _, dist = GEOD.inv(
        np.full(N_LANTERNS, circle.lon), np.full(N_LANTERNS, circle.lat), LONS, LATS
    )
    for lantern_id, d in zip(IDS, dist.tolist(), strict=True):
        if lantern_id in got:
            assert d <= circle.radius_m + 1e-6
        else:
            assert d > circle.radius_m


@PROPERTY
@given(areas())
def test_an_area_never_returns_a_lantern_outside_it(area: dict[str, Any]) -> None:
    got = chosen(TargetSpec(area=area))
    ring = np.array(area["coordinates"][0])
    centre = ring.mean(axis=0)
    to_m = _local(*centre)
    shape = shapely.Polygon(_metric(ring, to_m))
    points = shapely.points(*to_m.transform(LONS, LATS))
    edge = shapely.distance(points, shape.exterior)
    inside = shapely.contains(shape, points)
    returned = np.isin(IDS, list(got))
    assert np.all(inside[returned] | (edge[returned] <= CM)), "returned outside the area"
    assert not np.any(inside & ~returned & (edge > CM)), "left out though inside the area"


@PROPERTY
@given(routes())
def test_a_route_never_returns_a_lantern_outside_its_corridor(route: Route) -> None:
    got = chosen(TargetSpec(route=route))
    coords = np.array(route.line["coordinates"])
    to_m = _local(*coords.mean(axis=0))
    line = shapely.LineString(_metric(coords, to_m))
    distance = shapely.distance(shapely.points(*to_m.transform(LONS, LATS)), line)
    returned = np.isin(IDS, list(got))
    assert np.all(distance[returned] <= route.width_m + CM), "returned outside the corridor"
    assert np.all(distance[~returned] > route.width_m - CM), "left out though in the corridor"
