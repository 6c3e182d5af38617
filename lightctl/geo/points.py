"""Lantern points in metres: which lie in an area, within a circle, or along a corridor.

The points are projected once into the UTM zone of their centre with an STRtree over them; query
shapes come in lon/lat, already checked (``lightctl.geo.shapes``), and are projected per query.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Polygon

from lightctl.geo.crs import MetricProjection

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

_GEOD = Geod(ellps="WGS84")
# Circles: candidates come from the metric tree a little beyond the radius (the UTM scale is within
# 0.1 % of 1 inside a zone), then only exact geodesic distances decide.
_CANDIDATE_SLACK = 1.001
_CANDIDATE_MARGIN_M = 1.0
# An edge straight in lon/lat bends in UTM: 2 cm of sagitta on a 1 km edge at 47°N, about 2 m at
# 10 km. Splitting edges every 0.005° (400-550 m) before projecting keeps it under 1 cm.
_SEGMENT_DEG = 0.005


class MetricPoints:
    """Positions by index: lon/lat as given, x/y in metres, and an STRtree over the x/y points."""

    __slots__ = ("_lats", "_lons", "_tree", "_x", "_y", "projection")

    def __init__(self, lons: FloatArray, lats: FloatArray) -> None:
        """``lons``/``lats`` are finite and not empty (an empty inventory has no MetricPoints)."""
        self._lons, self._lats = lons, lats
        self.projection = MetricProjection.for_extent(lons, lats)
        self._x, self._y = self.projection.to_xy(lons, lats)
        self._tree = shapely.STRtree(shapely.points(self._x, self._y))

    def xy(self) -> tuple[FloatArray, FloatArray]:
        """The x/y metres of every point, in index order."""
        return self._x, self._y

    def in_area(self, area: Polygon | MultiPolygon) -> IntArray:
        """Points inside the lon/lat ``area`` or on its boundary."""
        metric = self._to_metric(_split_long_edges(area))
        # Envelope hits from the tree, then one vectorised point-in-polygon test: 3x faster than
        # the tree's own predicate (2 ms instead of 6.5 ms for 3,700 of 1,000,000 lanterns).
        candidates = np.asarray(self._tree.query(metric), dtype=np.intp)
        shapely.prepare(metric)
        inside = shapely.intersects_xy(metric, self._x[candidates], self._y[candidates])
        return np.asarray(candidates[inside], dtype=np.intp)

    def in_circle(self, lon: float, lat: float, radius_m: float) -> IntArray:
        """Points whose geodesic distance (WGS 84 ellipsoid) from lon/lat is at most the radius."""
        xs, ys = self.projection.to_xy([lon], [lat])
        x, y = float(xs[0]), float(ys[0])
        scale = self.projection.scale_at(lon, lat)
        reach = radius_m * scale * _CANDIDATE_SLACK + _CANDIDATE_MARGIN_M
        box = shapely.box(x - reach, y - reach, x + reach, y + reach)
        candidates = np.asarray(self._tree.query(box), dtype=np.intp)
        candidates = candidates[np.hypot(self._x[candidates] - x, self._y[candidates] - y) <= reach]
        if not len(candidates):
            return candidates
        n = len(candidates)
        _az, _back, dist = _GEOD.inv(
            np.full(n, lon), np.full(n, lat), self._lons[candidates], self._lats[candidates]
        )
        return np.asarray(candidates[np.asarray(dist) <= radius_m], dtype=np.intp)

    def near_line(self, line: LineString, width_m: float) -> IntArray:
        """Points at most ``width_m`` from the lon/lat ``line`` (a corridor 2 x width_m wide)."""
        centre = line.centroid
        # One scale for the whole corridor: it changes by 1e-6 over 2 km, 1e-4 over 100 km.
        reach = width_m * self.projection.scale_at(centre.x, centre.y)
        metric = self._to_metric(_split_long_edges(line))
        # Candidates come from a copy of the line simplified by the reach, asked at twice the
        # reach (every point near the line is that near the copy); the exact distance to the
        # full line then decides. The copy keeps the number of pieces near length / reach
        # whatever the line's wiggles: a 1,000-position zigzag under a 2 km reach asked piece
        # by piece paired each piece with ~10,000 of 40,000 lanterns (6 s); now 60 ms.
        coarse = shapely.simplify(metric, reach, preserve_topology=False)
        # Asked piece by piece: the envelope of a whole winding 2 km route holds ~20 times the
        # lanterns its 25 m corridor does, each piece's envelope only a few times.
        coords = shapely.get_coordinates(shapely.segmentize(coarse, max(4.0 * reach, 50.0)))
        pieces = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
        _piece, hits = self._tree.query(pieces, predicate="dwithin", distance=2.0 * reach)
        candidates = np.unique(hits).astype(np.intp)
        shapely.prepare(metric)
        near = shapely.dwithin(metric, self._tree.geometries.take(candidates), reach)
        return np.asarray(candidates[near], dtype=np.intp)

    def _to_metric(self, geometry: shapely.Geometry) -> shapely.Geometry:
        projection = self.projection

        def forward(lonlat: FloatArray) -> FloatArray:
            xs, ys = projection.to_xy(lonlat[:, 0], lonlat[:, 1])
            return np.column_stack([xs, ys])

        return shapely.transform(geometry, forward)


def _split_long_edges(geometry: shapely.Geometry) -> shapely.Geometry:
    """Edges longer than ``_SEGMENT_DEG`` split, so they stay straight in lon/lat once projected
    (checked first: segmentize costs ~2 ms on 1,000 vertices even when nothing is split)."""
    coords = shapely.get_coordinates(geometry)
    steps = np.diff(coords, axis=0)
    if not len(steps) or float(np.hypot(steps[:, 0], steps[:, 1]).max()) <= _SEGMENT_DEG:
        return geometry
    return shapely.segmentize(geometry, _SEGMENT_DEG)
