"""Named streets in metres: the street a lantern stands on, a street's lines by any spelling."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import shapely

from lightctl.errors import InvalidRequest
from lightctl.geo.crs import MetricProjection
from lightctl.geo.names import normalize_street_name, suggest
from lightctl.geo.records import StreetSegment


class StreetIndex:
    """Named segments projected once to the UTM zone of their centre, with one STRtree over them.

    Spellings that normalise to the same key ("Bahnhofstrasse", "Bahnhofstraße") are one street,
    shown with the first spelling met. Unnamed segments (mostly footways) are left out.
    """

    __slots__ = ("_canonical", "_line_names", "_segments", "_tree", "projection")

    def __init__(self, segments: Iterable[StreetSegment]) -> None:
        named = [s for s in segments if s.name]
        self._canonical: dict[str, str] = {}
        self._segments: dict[str, list[StreetSegment]] = {}
        for segment in named:
            raw = segment.name or ""  # never empty: ``named`` keeps only named segments
            name = self._canonical.setdefault(normalize_street_name(raw), raw)
            self._segments.setdefault(name, []).append(segment)
        self._line_names: list[str] = [
            self._canonical[normalize_street_name(s.name or "")] for s in named
        ]
        self.projection: MetricProjection | None = None
        self._tree: shapely.STRtree | None = None
        if not named:
            return
        lonlat = np.array([p for s in named for p in s.coords], dtype=np.float64)
        part = np.repeat(np.arange(len(named)), [len(s.coords) for s in named])
        self.projection = MetricProjection.for_extent(lonlat[:, 0], lonlat[:, 1])
        xs, ys = self.projection.to_xy(lonlat[:, 0], lonlat[:, 1])
        lines = shapely.linestrings(np.column_stack([xs, ys]), indices=part)
        self._tree = shapely.STRtree(lines)

    def __len__(self) -> int:
        """Number of named segments in the index."""
        return len(self._line_names)

    def names(self) -> list[str]:
        """Known street names, one spelling per street, sorted."""
        return sorted(self._segments)

    def resolve(self, name: str, loc: tuple[str | int, ...] = ("streets",)) -> str:
        """The known spelling of ``name``, or ``InvalidRequest`` at ``loc`` with close names."""
        known = self._canonical.get(normalize_street_name(name))
        if known is None:
            raise InvalidRequest.at(
                loc, "unknown street", value=name, suggestions=tuple(suggest(name, self._segments))
            )
        return known

    def lines_for(self, name: str) -> shapely.MultiLineString:
        """All segments of a street, in lon/lat as read (any spelling of the name is accepted)."""
        segments = self._segments[self.resolve(name)]
        return shapely.MultiLineString([s.coords for s in segments])

    def nearest_named(
        self, lons: npt.ArrayLike, lats: npt.ArrayLike, max_distance_m: float
    ) -> list[tuple[str, float] | None]:
        """Per lon/lat point, the nearest named street and its distance in metres, or None if none
        lies within ``max_distance_m``. Ties go to the segment read first, so results are stable.
        """
        lon_arr = np.atleast_1d(np.asarray(lons, dtype=np.float64))
        lat_arr = np.atleast_1d(np.asarray(lats, dtype=np.float64))
        if lon_arr.shape != lat_arr.shape or lon_arr.ndim != 1:
            raise ValueError(f"lons and lats differ in shape: {lon_arr.shape} vs {lat_arr.shape}")
        if not (math.isfinite(max_distance_m) and max_distance_m > 0):
            raise ValueError(
                f"max_distance_m must be a positive number of metres, got {max_distance_m}"
            )
        result: list[tuple[str, float] | None] = [None] * len(lon_arr)
        if self._tree is None or self.projection is None or not len(lon_arr):
            return result
        xs, ys = self.projection.to_xy(lon_arr, lat_arr)
        # GEOS refuses NaN points; points that are not finite (or failed to project) match nothing.
        usable = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
        points = shapely.points(np.column_stack([xs[usable], ys[usable]]))
        (hit_idx, line_idx), distances = self._tree.query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=True
        )
        point_idx = usable[hit_idx]
        order = np.lexsort((line_idx, point_idx))
        point_idx, line_idx, distances = point_idx[order], line_idx[order], distances[order]
        first = np.unique(point_idx, return_index=True)[1]
        for p, li, d in zip(
            point_idx[first].tolist(),
            line_idx[first].tolist(),
            distances[first].tolist(),
            strict=True,
        ):
            result[p] = (self._line_names[li], d)
        return result
