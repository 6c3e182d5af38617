"""Request cost ceilings: counted before any geometry work, each naming its limit."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString

from lightctl.errors import InvalidRequest
from lightctl.geo.limits import (
    MAX_CORRIDOR_KM2,
    MAX_ROUTE_POSITIONS,
    check_corridor,
    check_positions,
)
from lightctl.geo.shapes import line_lonlat


def test_positions_are_counted_in_nested_coordinates() -> None:
    rings = [[[0.0, 0.0]] * 3, [[1.0, 1.0]] * 3]
    check_positions([rings], ("area",), "the area", 6)
    with pytest.raises(InvalidRequest) as caught:
        check_positions([rings, rings], ("area",), "the area", 6)
    assert caught.value.problems[0].limit == 6
    check_positions("not coordinates", ("area",), "the area", 6)  # left to the shape checks


def test_a_route_of_too_many_positions_is_refused_by_the_line_check() -> None:
    coords = [[8.5 + i * 1e-6, 47.3] for i in range(MAX_ROUTE_POSITIONS + 1)]
    with pytest.raises(InvalidRequest) as caught:
        line_lonlat({"type": "LineString", "coordinates": coords}, ("route", "line"))
    problem = caught.value.problems[0]
    assert problem.loc == ("route", "line")
    assert problem.limit == MAX_ROUTE_POSITIONS


def test_corridor_area_is_length_times_twice_the_width() -> None:
    line = LineString([(8.5, 47.3), (8.5, 47.39)])  # ~10.0 km north
    check_corridor(line, 4_900, ("route",))  # 98 km²
    with pytest.raises(InvalidRequest) as caught:
        check_corridor(line, 5_100, ("route",))  # 102 km²
    assert caught.value.problems[0].limit == MAX_CORRIDOR_KM2
    assert "10.0 km" in caught.value.problems[0].msg
