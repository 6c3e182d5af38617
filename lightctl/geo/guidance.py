"""Route guidance: per lantern, the street's bearing toward the destination and the distance along.

Each lantern is projected onto the route (in the UTM zone of the route's centre); the heading is
the true (geodesic) bearing of the route from that nearest point onward, in the direction of
travel, so at a bend the lanterns at the corner already point into the next street.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely.geometry import LineString

from lightctl.domain.steering import Direction
from lightctl.errors import InvalidRequest
from lightctl.geo.crs import MetricProjection
from lightctl.geo.shapes import Loc

FloatArray = npt.NDArray[np.float64]

_GEOD = Geod(ellps="WGS84")
# The bearing is taken over this stretch of route past the nearest point: short against any street
# (a bend's effect reaches 1 m past the corner), long against float noise in metres.
_BEARING_STEP_M = 1.0
# Lon/lat edges longer than this bend once projected (see lightctl.geo.points): split them first.
_SEGMENT_DEG = 0.005
# Ends closer than this make a loop: its direction cannot follow from a destination.
_LOOP_M = 1.0


@dataclass(frozen=True, slots=True)
class RouteGuide:
    """Per lantern (in the order given): bearing toward the destination, and metres travelled
    from the route's start (the end away from the destination) to the lantern's nearest point."""

    headings_deg: FloatArray
    along_m: FloatArray
    length_m: float


def travel_reversed(
    line: LineString,
    direction: Direction | None,
    destination: tuple[float, float] | None,
    width_m: float,
    loc: Loc,
) -> bool:
    """True when travel runs from the line's last position to its first.

    ``destination`` picks the end nearer to it; it must be nearer by more than the corridor's
    half-width, or the direction is a guess and is refused. Both given must agree.
    """
    coords = np.asarray(line.coords)
    first, last = coords[0], coords[-1]
    if destination is not None:
        lon, lat = destination
        _a, _b, ends = _GEOD.inv([lon, lon], [lat, lat], [first[0], last[0]], [first[1], last[1]])
        d_first, d_last = float(ends[0]), float(ends[1])
        _a2, _b2, span = _GEOD.inv(first[0], first[1], last[0], last[1])
        if float(span) < _LOOP_M:
            raise InvalidRequest.at(
                (*loc, "destination"),
                "the route is a loop (it ends where it starts): give direction instead",
            )
        if abs(d_first - d_last) <= width_m:
            raise InvalidRequest.at(
                (*loc, "destination"),
                f"the destination lies about as far from both ends of the route "
                f"({d_first:.0f} m and {d_last:.0f} m): cannot tell the direction; give "
                "direction, or a destination near one end",
            )
        reversed_ = d_first < d_last
        if direction is not None and (direction == "backward") != reversed_:
            raise InvalidRequest.at(
                (*loc, "direction"),
                f"contradicts the destination, which lies at the route's "
                f"{'first' if reversed_ else 'last'} position",
                direction,
            )
        return reversed_
    if direction is None:
        raise InvalidRequest.at(
            (*loc, "direction"),
            "cannot tell the direction: give direction (forward: toward the line's last "
            "position, backward: toward its first) or destination [lon, lat]",
        )
    return direction == "backward"


def guide(line: LineString, lons: FloatArray, lats: FloatArray, reverse: bool) -> RouteGuide:
    """Headings and distances along ``line`` (lon/lat) for the lanterns at ``lons``/``lats``."""
    centre = line.centroid
    projection = MetricProjection.around(centre.x, centre.y)

    def forward(lonlat: FloatArray) -> FloatArray:
        xs, ys = projection.to_xy(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([xs, ys])

    metric = shapely.transform(shapely.segmentize(line, _SEGMENT_DEG), forward)
    if reverse:
        metric = shapely.reverse(metric)
    length = float(metric.length)
    xs, ys = projection.to_xy(lons, lats)
    along = np.asarray(shapely.line_locate_point(metric, shapely.points(xs, ys)), dtype=np.float64)
    step = min(_BEARING_STEP_M, length)
    start = np.minimum(along, length - step)  # at the very end: the last metre before it
    a = shapely.get_coordinates(shapely.line_interpolate_point(metric, start))
    b = shapely.get_coordinates(shapely.line_interpolate_point(metric, start + step))
    lon_a, lat_a = projection.to_lonlat(a[:, 0], a[:, 1])
    lon_b, lat_b = projection.to_lonlat(b[:, 0], b[:, 1])
    azimuth, _back, _dist = _GEOD.inv(lon_a, lat_a, lon_b, lat_b)
    headings = np.mod(np.asarray(azimuth, dtype=np.float64), 360.0)
    scale = projection.scale_at(centre.x, centre.y)  # projected metres per true metre
    return RouteGuide(headings, along / scale, length / scale)
