"""Nearest named street per lantern, checked by a geodesic brute force on the real Zürich slice."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from lightctl.errors import InvalidRequest
from lightctl.geo import LanternRecord, StreetIndex, StreetSegment

GEOD = Geod(ellps="WGS84")

# Lamps standing on Bahnhofstrasse between Paradeplatz and Augustinergasse, each at least 10 m
# closer to it than to any other named street (found with the brute force below).
ON_BAHNHOFSTRASSE = ["LEU126702", "LEU97523", "LEU97429", "LEU126698", "LEU96916", "LEU126692"]
# 30.73 m from Bahnhofstrasse (its nearest named street), 37.3 m from Talacker.
FAR_LAMP = "LEU9354"


def geodesic_nearest(
    lon: float, lat: float, segments: list[StreetSegment]
) -> list[tuple[str, float]]:
    """Every named street with its geodesic distance, nearest first: lines sampled every 0.25 m."""
    best: dict[str, float] = {}
    for segment in segments:
        if segment.name is None:
            continue
        samples = []
        for (lon_a, lat_a), (lon_b, lat_b) in zip(segment.coords, segment.coords[1:], strict=False):
            _, _, length = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
            t = np.linspace(0.0, 1.0, max(int(length / 0.25), 1) + 1)
            samples.append(
                np.column_stack([lon_a + (lon_b - lon_a) * t, lat_a + (lat_b - lat_a) * t])
            )
        points = np.vstack(samples)
        _, _, dist = GEOD.inv(
            np.full(len(points), lon), np.full(len(points), lat), points[:, 0], points[:, 1]
        )
        best[segment.name] = min(best.get(segment.name, np.inf), float(dist.min()))
    return sorted(best.items(), key=lambda item: item[1])


def nearest(
    index: StreetIndex, lantern: LanternRecord, max_distance_m: float
) -> tuple[str, float] | None:
    return index.nearest_named([lantern.lon], [lantern.lat], max_distance_m)[0]


def test_known_bahnhofstrasse_lamps_get_bahnhofstrasse(
    small_index: StreetIndex, small_lanterns: dict[str, LanternRecord]
) -> None:
    chosen = [small_lanterns[i] for i in ON_BAHNHOFSTRASSE]
    result = small_index.nearest_named([r.lon for r in chosen], [r.lat for r in chosen], 30.0)
    for lantern_id, hit in zip(ON_BAHNHOFSTRASSE, result, strict=True):
        assert hit is not None, lantern_id
        assert hit[0] == "Bahnhofstrasse", lantern_id
        assert hit[1] < 8.0


def test_a_lamp_beyond_the_limit_gets_none(
    small_index: StreetIndex, small_lanterns: dict[str, LanternRecord]
) -> None:
    lamp = small_lanterns[FAR_LAMP]
    assert nearest(small_index, lamp, 30.0) is None
    hit = nearest(small_index, lamp, 31.0)
    assert hit is not None
    assert hit[0] == "Bahnhofstrasse"
    assert hit[1] == pytest.approx(30.73, abs=0.5)
    # 500 m out into the lake: nothing within 100 m.
    lon, lat, _ = GEOD.fwd(lamp.lon, lamp.lat, 160.0, 500.0)
    assert small_index.nearest_named([lon], [lat], 100.0) == [None]


def test_distances_agree_with_a_geodesic_check(
    small_index: StreetIndex,
    small_lanterns: dict[str, LanternRecord],
    small_segments: list[StreetSegment],
) -> None:
    sample = list(small_lanterns.values())[::4]
    result = small_index.nearest_named([r.lon for r in sample], [r.lat for r in sample], 60.0)
    for lantern, hit in zip(sample, result, strict=True):
        ranking = geodesic_nearest(lantern.lon, lantern.lat, small_segments)
        assert hit is not None, lantern.id
        name, metres = hit
        assert metres == pytest.approx(ranking[0][1], abs=0.5), lantern.id
        if ranking[1][1] - ranking[0][1] > 0.5:  # a near tie may go either way
            assert name == ranking[0][0], lantern.id


def test_tens_of_thousands_of_points_in_one_call(small_index: StreetIndex) -> None:
    rng = np.random.default_rng(7)
    lons = rng.uniform(8.5375, 8.5405, 30_000)
    lats = rng.uniform(47.3695, 47.3725, 30_000)
    result = small_index.nearest_named(lons, lats, 30.0)
    assert len(result) == 30_000
    assert sum(r is not None for r in result) > 20_000
    assert all(r is None or 0.0 <= r[1] <= 30.0 for r in result)


def test_names_and_lines_for_any_spelling(
    small_index: StreetIndex, small_segments: list[StreetSegment]
) -> None:
    names = small_index.names()
    assert names == sorted(names)
    assert "Bahnhofstrasse" in names
    assert len(small_index) == sum(1 for s in small_segments if s.name)
    lines = small_index.lines_for("bahnhofstr.")
    parts = [s for s in small_segments if s.name == "Bahnhofstrasse"]
    assert isinstance(lines, shapely.MultiLineString)
    assert len(lines.geoms) == len(parts)
    west, south, east, north = lines.bounds
    assert 8.53 < west < east < 8.55  # lon/lat, not metres
    assert 47.36 < south < north < 47.38
    assert small_index.resolve("BAHNHOFSTRASSE") == "Bahnhofstrasse"


def test_unknown_street_is_refused_with_suggestions(small_index: StreetIndex) -> None:
    with pytest.raises(InvalidRequest) as caught:
        small_index.lines_for("Banhofstrase")
    problem = caught.value.problems[0]
    assert problem.loc == ("streets",)
    assert problem.suggestions[0] == "Bahnhofstrasse"
    with pytest.raises(InvalidRequest) as caught:
        small_index.resolve("Nowhere", loc=("target", "streets", 2))
    assert caught.value.problems[0].loc == ("target", "streets", 2)


def segment(seg_id: str, name: str | None, coords: list[tuple[float, float]]) -> StreetSegment:
    return StreetSegment(seg_id, name, "residential", tuple(coords))


def test_spelling_variants_are_one_street_and_unnamed_segments_are_ignored() -> None:
    index = StreetIndex(
        [
            segment("a", "Sihlstrasse", [(8.530, 47.370), (8.531, 47.370)]),
            segment("b", "Sihlstraße", [(8.531, 47.370), (8.532, 47.370)]),
            segment("c", None, [(8.5315, 47.3701), (8.5316, 47.3701)]),
        ]
    )
    assert index.names() == ["Sihlstrasse"]
    (hit,) = index.nearest_named([8.5315], [47.37012], 30.0)
    assert hit is not None
    assert hit[0] == "Sihlstrasse"
    assert len(index.lines_for("Sihlstraße").geoms) == 2


def test_ties_go_to_the_segment_read_first() -> None:
    # Both streets end at the same corner, which is the nearest point of each: an exact tie.
    west = segment("w", "Westweg", [(8.530, 47.370), (8.531, 47.370)])
    north = segment("n", "Nordweg", [(8.531, 47.370), (8.531, 47.371)])
    for order, expected in (([west, north], "Westweg"), ([north, west], "Nordweg")):
        (hit,) = StreetIndex(order).nearest_named([8.5312], [47.3698], 50.0)
        assert hit is not None
        assert hit[0] == expected
        assert 20.0 < hit[1] < 30.0


def test_edge_cases() -> None:
    empty = StreetIndex([segment("c", None, [(8.53, 47.37), (8.54, 47.37)])])
    assert empty.names() == []
    assert empty.nearest_named([8.53], [47.37], 30.0) == [None]
    index = StreetIndex([segment("a", "Seestrasse", [(8.53, 47.37), (8.54, 47.37)])])
    assert index.nearest_named([], [], 30.0) == []
    assert index.nearest_named([np.nan, 8.535], [47.37, np.inf], 30.0) == [None, None]
    with pytest.raises(ValueError, match="shape"):
        index.nearest_named([8.53, 8.54], [47.37], 30.0)
    with pytest.raises(ValueError, match="positive"):
        index.nearest_named([8.53], [47.37], 0.0)
