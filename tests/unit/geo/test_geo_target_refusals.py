"""Every kind of bad target is refused with the selector at fault and what is wrong with it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lightctl.domain.targets import Circle, Route, TargetSpec
from lightctl.errors import InvalidRequest
from lightctl.geo.targeting import LanternIndex

W, S, E, N = 8.5380, 47.3700, 8.5400, 47.3720
SQUARE = [[W, S], [E, S], [E, N], [W, N], [W, S]]
LINE = [[W, S], [E, N]]


def area(coords: Any, kind: str = "Polygon") -> TargetSpec:
    return TargetSpec(area={"type": kind, "coordinates": coords})


def route(coords: Any, width: Any = 20.0) -> TargetSpec:
    return TargetSpec(route=Route({"type": "LineString", "coordinates": coords}, width))


CASES: list[tuple[str, TargetSpec, tuple[Any, ...], str]] = [
    ("empty target", TargetSpec(), ("target",), "target is empty"),
    (
        "empty exclude",
        TargetSpec(streets=("Bahnhofstrasse",), exclude=TargetSpec()),
        ("target", "exclude"),
        "exclude is empty",
    ),
    # polygons
    ("area not an object", TargetSpec(area={}), ("target", "area"), "GeoJSON Polygon"),
    (
        "area of the wrong type",
        TargetSpec(area={"type": "Point", "coordinates": [W, S]}),
        ("target", "area"),
        "must be a GeoJSON Polygon or MultiPolygon",
    ),
    ("no coordinates", TargetSpec(area={"type": "Polygon"}), ("target", "area"), "no coordinates"),
    ("no rings", area([]), ("target", "area"), "non-empty list of rings"),
    ("ring not closed", area([[*SQUARE[:-1], [W, N + 0.001]]]), ("target", "area"), "not closed"),
    ("three positions", area([[[W, S], [E, S], [W, S]]]), ("target", "area"), "at least 4"),
    (
        "position not a pair",
        area([[[W, S], [E], [E, N], [W, S]]]),
        ("target", "area"),
        "ring 0, position 1 must be a [lon, lat] pair",
    ),
    (
        "text coordinate",
        area([[[W, S], [E, "47.37"], [E, N], [W, S]]]),
        ("target", "area"),
        "pair of numbers",
    ),
    (
        "NaN",
        area([[[W, S], [E, math.nan], [E, N], [W, S]]]),
        ("target", "area"),
        "not a finite number",
    ),
    (
        "infinity",
        area([[[W, S], [math.inf, S], [E, N], [W, S]]]),
        ("target", "area"),
        "not a finite number",
    ),
    (
        "lon out of range",
        area([[[W, S], [181.0, S], [E, N], [W, S]]]),
        ("target", "area"),
        "out of range",
    ),
    (
        "lat out of range",
        area([[[W, S], [E, 95.0], [E, N], [W, S]]]),
        ("target", "area"),
        "out of range",
    ),
    (
        "swapped out of range",
        area([[[47.37, 100.5], [47.38, 100.5], [47.38, 100.6], [47.37, 100.5]]]),
        ("target", "area"),
        "looks swapped",
    ),
    (
        "swapped polygon",
        area([[[lat, lon] for lon, lat in SQUARE]]),
        ("target", "area"),
        "coordinates look swapped",
    ),
    (
        "self-intersecting",
        area([[[W, S], [E, N], [W, N], [E, S], [W, S]]]),
        ("target", "area"),
        "invalid polygon: Self-intersection",
    ),
    (
        "hole outside the shell",
        area([SQUARE, [[W + 1, S], [E + 1, S], [E + 1, N], [W + 1, S]]]),
        ("target", "area"),
        "invalid polygon: Hole lies outside shell",
    ),
    (
        "overlapping multipolygon",
        area([[SQUARE], [SQUARE]], "MultiPolygon"),
        ("target", "area"),
        "invalid polygon",
    ),
    (
        "bad part of a multipolygon",
        area([[SQUARE], [SQUARE[:3]]], "MultiPolygon"),
        ("target", "area"),
        "polygon 1, ring 0 has 3 positions",
    ),
    (
        "nested in exclude",
        TargetSpec(streets=("Bahnhofstrasse",), exclude=area([SQUARE[:-1]])),
        ("target", "exclude", "area"),
        "not closed",
    ),
    # circles
    ("radius zero", TargetSpec(circle=Circle(W, S, 0.0)), ("target", "circle", "radius_m"), "> 0"),
    (
        "radius negative",
        TargetSpec(circle=Circle(W, S, -5.0)),
        ("target", "circle", "radius_m"),
        "more than 0 m",
    ),
    (
        "radius over 50 km",
        TargetSpec(circle=Circle(W, S, 50_001.0)),
        ("target", "circle", "radius_m"),
        "at most 50 km",
    ),
    (
        "radius NaN",
        TargetSpec(circle=Circle(W, S, math.nan)),
        ("target", "circle", "radius_m"),
        "finite number",
    ),
    (
        "centre NaN",
        TargetSpec(circle=Circle(math.nan, S, 10.0)),
        ("target", "circle"),
        "not a finite number",
    ),
    (
        "centre out of range",
        TargetSpec(circle=Circle(W, 91.0, 10.0)),
        ("target", "circle"),
        "out of range",
    ),
    (
        "centre swapped",
        TargetSpec(circle=Circle(S, W, 100.0)),
        ("target", "circle"),
        "coordinates look swapped",
    ),
    # routes
    ("route of one point", route([[W, S]]), ("target", "route", "line"), "at least 2 positions"),
    ("route of no points", route([]), ("target", "route", "line"), "at least 2 positions"),
    ("route of zero length", route([[W, S], [W, S]]), ("target", "route", "line"), "zero length"),
    (
        "route not a LineString",
        TargetSpec(route=Route({"type": "Polygon", "coordinates": [SQUARE]}, 10.0)),
        ("target", "route", "line"),
        "LineString",
    ),
    (
        "route NaN",
        route([[W, S], [math.nan, N]]),
        ("target", "route", "line"),
        "not a finite number",
    ),
    (
        "route swapped",
        route([[lat, lon] for lon, lat in LINE]),
        ("target", "route", "line"),
        "coordinates look swapped",
    ),
    ("width zero", route(LINE, 0.0), ("target", "route", "width_m"), "more than 0 m"),
    ("width negative", route(LINE, -1.0), ("target", "route", "width_m"), "more than 0 m"),
    ("width over 50 km", route(LINE, 60_000.0), ("target", "route", "width_m"), "at most 50 km"),
    ("width NaN", route(LINE, math.nan), ("target", "route", "width_m"), "finite number"),
    ("width text", route(LINE, "20"), ("target", "route", "width_m"), "finite number"),
    # names and results
    ("unknown lantern", TargetSpec(lanterns=("NOPE",)), ("target", "lanterns", 0), "unknown"),
    ("unknown street", TargetSpec(streets=("Nowhere",)), ("target", "streets", 0), "no lantern"),
    ("unknown group", TargetSpec(groups=("nope",)), ("target", "groups", 0), "unknown group"),
    (
        "empty result",
        TargetSpec(circle=Circle(8.55, 47.38, 10.0)),
        ("target",),
        "no lanterns in target",
    ),
]


@pytest.mark.parametrize(
    ("spec", "loc", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refusal_names_the_selector(
    fixture_index: LanternIndex, spec: TargetSpec, loc: tuple[Any, ...], fragment: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        fixture_index.resolve(spec)
    problems = caught.value.problems
    assert [p.loc for p in problems] == [loc]
    assert fragment.replace("> 0", "more than 0 m") in problems[0].msg
    assert ".".join(map(str, loc)) in caught.value.message


def test_too_many_lanterns(fixture_index: LanternIndex) -> None:
    with pytest.raises(InvalidRequest) as caught:
        fixture_index.resolve(TargetSpec(streets=("Bahnhofstrasse",)), max_lanterns=3)
    assert caught.value.problems[0].loc == ("target",)
    assert "more than the ceiling of 3" in caught.value.problems[0].msg


def test_route_reports_line_and_width_together(fixture_index: LanternIndex) -> None:
    with pytest.raises(InvalidRequest) as caught:
        fixture_index.resolve(route([[W, S]], 0.0))
    assert [p.loc for p in caught.value.problems] == [
        ("target", "route", "line"),
        ("target", "route", "width_m"),
    ]
