"""Resolving Targets on the real Zürich slice: each selector alone and combined, groups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod

from lightctl.domain.targets import (
    Circle,
    GroupDefinition,
    Route,
    TargetSpec,
    target_from_json,
    target_to_json,
)
from lightctl.errors import InvalidRequest
from lightctl.geo import LanternRecord
from lightctl.geo.targeting import LanternIndex

GEOD = Geod(ellps="WGS84")
# The slice's centre and a box around Münzplatz (inside the slice, 12 lamps stand on it).
CENTRE = (8.539, 47.371)
BOX = (8.5385, 47.3700, 8.5395, 47.3710)


def box(w: float, s: float, e: float, n: float) -> list[list[list[float]]]:
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]


def polygon(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": box(w, s, e, n)}


def ids(index: LanternIndex, spec: TargetSpec, **kw: Any) -> set[str]:
    return set(index.resolve(spec, **kw).lantern_ids)


def refusal(index: LanternIndex, spec: TargetSpec, **kw: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        index.resolve(spec, **kw)
    return caught.value


def inside_box(lanterns: dict[str, LanternRecord], b: tuple[float, ...]) -> set[str]:
    return {i for i, r in lanterns.items() if b[0] <= r.lon <= b[2] and b[1] <= r.lat <= b[3]}


def test_streets_match_any_spelling_and_report_streets(fixture_index: LanternIndex) -> None:
    expected = ids(fixture_index, TargetSpec(streets=("Bahnhofstrasse",)))
    assert len(expected) == 41
    for typed in ("bahnhofstr.", "BAHNHOFSTRASSE", "  Bahnhofstraße ", "Bahnhof-Strasse"):
        assert ids(fixture_index, TargetSpec(streets=(typed,))) == expected, typed
    resolved = fixture_index.resolve(TargetSpec(streets=("Bahnhofstrasse", "muenzplatz")))
    assert resolved.streets == ("Bahnhofstrasse", "Münzplatz")
    assert list(resolved.lantern_ids) == sorted(resolved.lantern_ids)


def test_unknown_street_suggests_close_names(fixture_index: LanternIndex) -> None:
    exc = refusal(fixture_index, TargetSpec(streets=("Bahnhofstrasse", "Banhofstrase")))
    [problem] = exc.problems
    assert problem.loc == ("target", "streets", 1)
    assert problem.value == "Banhofstrase"
    assert problem.suggestions[0] == "Bahnhofstrasse"


def test_area_is_exactly_the_lamps_inside(
    fixture_index: LanternIndex, small_lanterns: dict[str, LanternRecord]
) -> None:
    expected = inside_box(small_lanterns, BOX)
    assert 5 < len(expected) < 100
    assert ids(fixture_index, TargetSpec(area=polygon(*BOX))) == expected
    feature = {"type": "Feature", "properties": {}, "geometry": polygon(*BOX)}
    assert ids(fixture_index, TargetSpec(area=feature)) == expected


def test_multipolygon_and_holes(
    fixture_index: LanternIndex, small_lanterns: dict[str, LanternRecord]
) -> None:
    west = (8.5375, 47.3695, 8.5385, 47.3725)
    east = (8.5395, 47.3695, 8.5405, 47.3725)
    multi = {"type": "MultiPolygon", "coordinates": [box(*west), box(*east)]}
    expected = inside_box(small_lanterns, west) | inside_box(small_lanterns, east)
    assert ids(fixture_index, TargetSpec(area=multi)) == expected
    outer = (8.5370, 47.3690, 8.5410, 47.3730)
    holed = {"type": "Polygon", "coordinates": box(*outer) + box(*BOX)}
    assert ids(fixture_index, TargetSpec(area=holed)) == set(small_lanterns) - inside_box(
        small_lanterns, BOX
    )


def test_bowtie_is_refused_with_the_reason_or_repaired_on_request(
    fixture_index: LanternIndex,
) -> None:
    w, s, e, n = 8.5375, 47.3695, 8.5405, 47.3725
    bowtie = {"type": "Polygon", "coordinates": [[[w, s], [e, n], [w, n], [e, s], [w, s]]]}
    exc = refusal(fixture_index, TargetSpec(area=bowtie))
    assert exc.problems[0].loc == ("target", "area")
    assert "Self-intersection" in exc.problems[0].msg
    assert "repair" in exc.problems[0].msg
    repaired = ids(fixture_index, TargetSpec(area=bowtie, repair=True))
    both_triangles = shapely.MultiPolygon(
        [
            shapely.Polygon([(w, s), (e, s), ((w + e) / 2, (s + n) / 2)]),
            shapely.Polygon([(w, n), (e, n), ((w + e) / 2, (s + n) / 2)]),
        ]
    )
    assert repaired
    for lantern_id in repaired:
        lon, lat = fixture_index.features(fixture_index.positions_of([lantern_id])[0])["features"][
            0
        ]["geometry"]["coordinates"]
        assert both_triangles.buffer(1e-7).contains(shapely.Point(lon, lat))


def test_circle_is_geodesic(
    fixture_index: LanternIndex, small_lanterns: dict[str, LanternRecord]
) -> None:
    got = ids(fixture_index, TargetSpec(circle=Circle(*CENTRE, 80.0)))
    records = list(small_lanterns.values())
    _, _, dist = GEOD.inv(
        np.full(len(records), CENTRE[0]),
        np.full(len(records), CENTRE[1]),
        [r.lon for r in records],
        [r.lat for r in records],
    )
    assert got == {r.id for r, d in zip(records, dist, strict=True) if d <= 80.0}
    assert 10 < len(got) < len(records)


def test_route_corridor_on_both_sides(fixture_index: LanternIndex) -> None:
    line = {"type": "LineString", "coordinates": [[8.5380, 47.3698], [8.5400, 47.3722]]}
    narrow = ids(fixture_index, TargetSpec(route=Route(line, 10.0)))
    wide = ids(fixture_index, TargetSpec(route=Route(line, 40.0)))
    assert narrow < wide


def test_union_minus_exclude(fixture_index: LanternIndex) -> None:
    street = ids(fixture_index, TargetSpec(streets=("Bahnhofstrasse",)))
    circle = ids(fixture_index, TargetSpec(circle=Circle(*CENTRE, 60.0)))
    both = ids(fixture_index, TargetSpec(streets=("Bahnhofstrasse",), circle=Circle(*CENTRE, 60.0)))
    assert both == street | circle
    minus = ids(
        fixture_index,
        TargetSpec(streets=("Bahnhofstrasse",), exclude=TargetSpec(circle=Circle(*CENTRE, 60.0))),
    )
    assert minus == street - circle
    # exclude of an exclude puts those lanterns back into what is excluded: plain set algebra.
    one = sorted(street & circle)[0]
    nested = TargetSpec(
        streets=("Bahnhofstrasse",),
        exclude=TargetSpec(circle=Circle(*CENTRE, 60.0), exclude=TargetSpec(lanterns=(one,))),
    )
    assert ids(fixture_index, nested) == (street - circle) | {one}


def test_several_mistakes_are_reported_together(fixture_index: LanternIndex) -> None:
    spec = TargetSpec(
        lanterns=("LEU101190", "NOPE"),
        streets=("Nowhere",),
        circle=Circle(*CENTRE, 0.0),
        exclude=TargetSpec(lanterns=("ALSO_NOPE",)),
    )
    locs = [p.loc for p in refusal(fixture_index, spec).problems]
    assert locs == [
        ("target", "lanterns", 1),
        ("target", "streets", 0),
        ("target", "circle", "radius_m"),
        ("target", "exclude", "lanterns", 0),
    ]


def test_empty_result_is_refused_unless_allowed(fixture_index: LanternIndex) -> None:
    far = TargetSpec(circle=Circle(8.55, 47.38, 50.0))  # 1.3 km away: a valid, empty circle
    exc = refusal(fixture_index, far)
    assert exc.problems[0].loc == ("target",)
    assert exc.problems[0].msg == "no lanterns in target"
    allowed = TargetSpec(circle=Circle(8.55, 47.38, 50.0), allow_empty=True)
    assert fixture_index.resolve(allowed).lantern_ids == ()
    everything = TargetSpec(
        streets=("Bahnhofstrasse",), exclude=TargetSpec(streets=("bahnhofstr",))
    )
    assert refusal(fixture_index, everything).problems[0].msg == "no lanterns in target"


def test_ceiling_needs_confirm_large(fixture_index: LanternIndex) -> None:
    spec = TargetSpec(streets=("Bahnhofstrasse",))
    exc = refusal(fixture_index, spec, max_lanterns=40)
    assert exc.problems[0].loc == ("target",)
    assert "41 lanterns" in exc.problems[0].msg
    assert "confirm_large" in exc.problems[0].msg
    confirmed = TargetSpec(streets=("Bahnhofstrasse",), confirm_large=True)
    assert len(ids(fixture_index, confirmed, max_lanterns=40)) == 41
    assert len(ids(fixture_index, spec, max_lanterns=41)) == 41


def test_groups_static_target_nested_and_cycles(fixture_index: LanternIndex) -> None:
    square = TargetSpec(area=polygon(*BOX))
    groups = {
        "pair": GroupDefinition("pair", lanterns=("LEU101190", "LEU126702", "GONE")),
        "square": GroupDefinition("square", target=square),
        "both": GroupDefinition("both", target=TargetSpec(groups=("pair", "square"))),
        "loop_a": GroupDefinition("loop_a", target=TargetSpec(groups=("loop_b",))),
        "loop_b": GroupDefinition(
            "loop_b",
            target=TargetSpec(streets=("Talacker",), exclude=TargetSpec(groups=("loop_a",))),
        ),
    }
    assert ids(fixture_index, TargetSpec(groups=("pair",)), groups=groups) == {
        "LEU101190",
        "LEU126702",
    }
    in_square = ids(fixture_index, square)
    assert ids(fixture_index, TargetSpec(groups=("square",)), groups=groups) == in_square
    assert ids(fixture_index, TargetSpec(groups=("both",)), groups=groups) == in_square | {
        "LEU101190",
        "LEU126702",
    }
    exc = refusal(fixture_index, TargetSpec(groups=("loop_a",)), groups=groups)
    assert [p.msg for p in exc.problems] == ["group cycle: loop_a → loop_b → loop_a"]
    assert exc.problems[0].loc == ("target", "groups", 0, "groups", 0, "exclude", "groups", 0)
    unknown = refusal(fixture_index, TargetSpec(groups=("sqare",)), groups=groups)
    assert unknown.problems[0].loc == ("target", "groups", 0)
    assert unknown.problems[0].suggestions[0] == "square"
    itself = refusal(fixture_index, TargetSpec(groups=("new",)), groups=groups, within=("new",))
    assert itself.problems[0].msg == "group cycle: new → new"


def test_preview_numbers(fixture_index: LanternIndex) -> None:
    positions = fixture_index.resolve_positions(TargetSpec(streets=("Bahnhofstrasse",)))
    caps = fixture_index.capability_counts(positions)
    assert caps["speaker"] == caps["rgb"] == caps["path_light"] == 41
    assert 0 < caps["projector"] < 41
    assert fixture_index.street_counts(positions) == [("Bahnhofstrasse", 41)]
    features = fixture_index.features(positions)["features"]
    assert len(features) == 41
    assert {f["properties"]["street"] for f in features} == {"Bahnhofstrasse"}
    assert {f["properties"]["online"] for f in features} == {True, False, None}
    fresh = fixture_index.features(positions, online={})["features"]
    assert {f["properties"]["online"] for f in fresh} == {None}


def test_index_refuses_duplicate_ids_and_an_empty_index_reaches_nothing() -> None:
    with pytest.raises(ValueError, match="unique"):
        LanternIndex(
            ["a", "a"], [8.5, 8.5], [47.3, 47.3], [None, None], [[True] * 4] * 2, [None] * 2
        )
    empty = LanternIndex([], [], [], [], [], [])
    assert len(empty) == 0
    assert empty.extent is None
    exc = refusal(empty, TargetSpec(circle=Circle(*CENTRE, 100.0)))
    assert exc.problems[0].msg == "no lanterns in target"
    assert refusal(empty, TargetSpec(lanterns=("x",))).problems[0].loc == ("target", "lanterns", 0)


def test_target_json_round_trips_every_selector() -> None:
    spec = TargetSpec(
        lanterns=("a",),
        groups=("g",),
        streets=("Bahnhofstrasse",),
        area=polygon(*BOX),
        circle=Circle(8.5, 47.3, 100.0),
        route=Route({"type": "LineString", "coordinates": [[8.5, 47.3], [8.6, 47.3]]}, 20.0),
        exclude=TargetSpec(streets=("Talacker",), repair=True),
        repair=True,
        confirm_large=True,
    )
    data = target_to_json(spec)
    assert data["exclude"] == {"streets": ["Talacker"], "repair": True}
    assert "allow_empty" not in data
    assert target_from_json(data) == spec
    assert spec.group_names() == {"g"}
