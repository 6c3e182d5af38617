"""Route guidance: headings follow the street's bearing toward the destination, distances rise."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from lightctl.errors import InvalidRequest
from lightctl.geo.guidance import guide, travel_reversed

GEOD = Geod(ellps="WGS84")
# An L through Zürich: 400 m at 160° (down Bahnhofstrasse's direction), then 200 m at 80°.


def _forward(origin: tuple[float, float], bearing: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from ``origin`` (lon, lat) at ``bearing`` on the ellipsoid."""
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], bearing, distance_m)
    return float(lon), float(lat)


START = (8.5382, 47.3725)
CORNER = _forward(START, 160.0, 400.0)
END = _forward(CORNER, 80.0, 200.0)
LINE = shapely.LineString([START, CORNER, END])


def _beside(
    origin: tuple[float, float], bearing: float, along_m: float, side_m: float
) -> tuple[float, float]:
    """A lantern ``along_m`` down a leg, ``side_m`` to its right (negative: left)."""
    return _forward(_forward(origin, bearing, along_m), bearing + 90.0, side_m)


def _lanterns() -> tuple[np.ndarray, np.ndarray, list[float]]:
    points, expected = [], []
    for d in range(10, 391, 20):
        points.append(_beside(START, 160.0, d, 8.0 if d % 40 else -8.0))
        expected.append(160.0)
    for d in range(10, 191, 20):
        points.append(_beside(CORNER, 80.0, d, -6.0))
        expected.append(80.0)
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    return lons, lats, expected


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_headings_follow_each_leg_of_a_bent_route_within_half_a_degree() -> None:
    lons, lats, expected = _lanterns()
    found = guide(LINE, lons, lats, reverse=False)
    for heading, want in zip(found.headings_deg.tolist(), expected, strict=True):
        assert _angle(heading, want) <= 0.5, (heading, want)
    assert np.all(np.diff(found.along_m) > 0), "distances rise toward the destination"
    assert found.length_m == pytest.approx(600.0, abs=0.5)


def test_travelled_backwards_every_arrow_turns_round_and_distances_count_from_the_end() -> None:
    lons, lats, expected = _lanterns()
    found = guide(LINE, lons, lats, reverse=True)
    for heading, want in zip(found.headings_deg.tolist(), expected, strict=True):
        assert _angle(heading, want + 180.0) <= 0.5
    assert np.all(np.diff(found.along_m) < 0)


def test_at_the_corner_the_arrow_already_points_into_the_next_street() -> None:
    lons, lats = np.array([CORNER[0]]), np.array([CORNER[1]])
    assert _angle(float(guide(LINE, lons, lats, False).headings_deg[0]), 80.0) <= 0.5


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 359.9), st.floats(50, 2000), st.floats(-20, 20))
def test_any_straight_street_gives_its_own_bearing(
    bearing: float, length: float, side: float
) -> None:
    end = GEOD.fwd(*START, bearing, length)[:2]
    line = shapely.LineString([START, end])
    lon, lat = _beside(START, bearing, length / 2, side)
    found = guide(line, np.array([lon]), np.array([lat]), False)
    # The geodesic bearing turns along the way (~0.0005°/m here at most): compare to the middle.
    middle = GEOD.fwd(*START, bearing, length / 2, return_back_azimuth=True)
    assert _angle(float(found.headings_deg[0]), (middle[2] + 180.0) % 360.0) <= 1.0
    assert found.along_m[0] == pytest.approx(length / 2, abs=0.5)


def test_direction_comes_from_the_destination_nearer_one_end() -> None:
    assert travel_reversed(LINE, None, END, 15.0, ("guidance",)) is False
    assert travel_reversed(LINE, None, START, 15.0, ("guidance",)) is True
    assert travel_reversed(LINE, "backward", None, 15.0, ("guidance",)) is True
    assert travel_reversed(LINE, "forward", END, 15.0, ("guidance",)) is False


@pytest.mark.parametrize(
    ("line", "direction", "destination", "field"),
    [
        (LINE, None, None, "direction"),
        (LINE, "backward", END, "direction"),
        (shapely.LineString([START, CORNER, START]), None, END, "destination"),
        (shapely.LineString([START, END]), None, GEOD.fwd(*START, 0, 0)[:2], None),
    ],
)
def test_a_direction_that_cannot_be_told_is_refused_naming_the_field(
    line: shapely.LineString,
    direction: str | None,
    destination: tuple[float, float] | None,
    field: str | None,
) -> None:
    if field is None:  # the midpoint between both ends: equally far from each
        lon, lat = np.asarray(line.coords).mean(axis=0)
        destination, field = (float(lon), float(lat)), "destination"
    with pytest.raises(InvalidRequest) as caught:
        travel_reversed(line, direction, destination, 15.0, ("guidance",))  # type: ignore[arg-type]
    assert caught.value.problems[0].loc == ("guidance", field)
