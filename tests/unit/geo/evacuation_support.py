"""Hand-made street graphs in metres around a point in Zürich, and lanterns on them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely

from lightctl.geo.evacuation import Hazard
from lightctl.geo.records import StreetSegment
from lightctl.geo.walkgraph import WalkGraph

LON0, LAT0 = 8.54, 47.37
_M_PER_DEG_LAT = 111_132.0
_M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Metres east and north of the origin as lon/lat (plenty exact over a few hundred metres)."""
    return (LON0 + x / _M_PER_DEG_LON, LAT0 + y / _M_PER_DEG_LAT)


def street(
    sid: str, points: Sequence[tuple[float, float]], cls: str = "residential"
) -> StreetSegment:
    return StreetSegment(sid, f"Strasse {sid}", cls, tuple(lonlat(x, y) for x, y in points))


def metric(graph: WalkGraph, x: float, y: float) -> tuple[float, float]:
    assert graph.projection is not None
    lon, lat = lonlat(x, y)
    xs, ys = graph.projection.to_xy([lon], [lat])
    return float(xs[0]), float(ys[0])


def circle(graph: WalkGraph, x: float, y: float, r: float) -> shapely.Geometry:
    cx, cy = metric(graph, x, y)
    return shapely.Point(cx, cy).buffer(r * graph.scale, quad_segs=32)


def leave(graph: WalkGraph, area: shapely.Geometry, buffer_m: float = 20.0) -> Hazard:
    return Hazard(area=area, safe_from=area.buffer(buffer_m * graph.scale))


def lantern_xy(
    graph: WalkGraph, points: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    xy = np.array([metric(graph, x, y) for x, y in points], dtype=np.float64)
    return xy[:, 0], xy[:, 1]


def angle_off(a: float, b: float) -> float:
    """Smallest difference between two bearings, degrees."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)
