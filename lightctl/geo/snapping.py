"""Lanterns placed on the walking graph: each one's nearest street piece and where along it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from lightctl.geo.walkgraph import FloatArray, IntArray, WalkGraph

# The snapper's first, small search box (metres around a lantern); see ``Snapper.snap``.
_FIRST_REACH_M = 8.0


@dataclass(frozen=True, slots=True)
class Snap:
    """Lanterns placed on the walking graph: edge (-1: none within reach), projected metres
    along it from its first vertex, and true metres off the street."""

    edge: IntArray
    along: FloatArray
    distance_m: FloatArray
    xy: FloatArray  # the lanterns' own metric positions


class Snapper:
    """One STRtree over every straight step of every edge: a lantern's nearest street piece
    and where along it, in O(n log v)."""

    __slots__ = ("_edge_of", "_graph", "_start_along", "_steps", "_tree")

    def __init__(self, graph: WalkGraph) -> None:
        self._graph = graph
        m = len(graph.coords)
        last = np.zeros(m, dtype=bool)
        last[graph.offsets[1:] - 1] = True
        starts = np.flatnonzero(~last) if m else np.empty(0, dtype=np.intp)
        self._steps = np.stack([graph.coords[starts], graph.coords[starts + 1]], axis=1)
        self._start_along = graph.along[starts]
        self._edge_of = np.repeat(np.arange(graph.edge_count), np.diff(graph.offsets) - 1)
        self._tree = shapely.STRtree(shapely.linestrings(self._steps)) if len(starts) else None

    def snap(self, xs: FloatArray, ys: FloatArray, max_distance_m: float) -> Snap:
        count = len(xs)
        edge = np.full(count, -1, dtype=np.intp)
        along = np.zeros(count, dtype=np.float64)
        dist = np.full(count, np.inf, dtype=np.float64)
        xy = np.column_stack([xs, ys]) if count else np.empty((0, 2), dtype=np.float64)
        finite = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
        if self._tree is None or not len(finite):
            return Snap(edge, along, dist, xy)
        reach = max_distance_m * self._graph.scale
        # Most lanterns stand within a few metres of their street (Zürich: median 6.2 m), so a
        # small box first; only the lanterns it leaves open are asked again with the full reach.
        # A step within the small radius is the nearest overall: any nearer one meets the box.
        todo = finite
        for radius in sorted({min(_FIRST_REACH_M * self._graph.scale, reach), reach}):
            if not len(todo):
                break
            found, steps, d, t, seg_len2 = self._nearest(xy[todo], radius)
            idx = todo[found]
            edge[idx] = self._edge_of[steps]
            along[idx] = self._start_along[steps] + t * np.sqrt(seg_len2)
            dist[idx] = d / self._graph.scale
            todo = todo[np.setdiff1d(np.arange(len(todo)), found, assume_unique=True)]
        return Snap(edge, along, dist, xy)

    def _nearest(
        self, xy: FloatArray, radius: float
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
        """For the points with a step within ``radius``: their index, the nearest step, its
        distance, where on the step (0..1) and the step's squared length."""
        px, py = xy[:, 0], xy[:, 1]
        # Candidates by box (an envelope test, no GEOS distance), then exact point-to-step
        # distances in numpy.
        boxes = shapely.box(px - radius, py - radius, px + radius, py + radius)
        pts, steps = self._tree.query(boxes) if self._tree is not None else ([], [])
        pts, steps = np.asarray(pts, dtype=np.intp), np.asarray(steps, dtype=np.intp)
        a, b = self._steps[steps, 0], self._steps[steps, 1]
        seg = b - a
        seg_len2 = np.einsum("ij,ij->i", seg, seg)
        rel = np.column_stack([px[pts], py[pts]]) - a
        t = np.divide(
            np.einsum("ij,ij->i", rel, seg), seg_len2, out=np.zeros(len(pts)), where=seg_len2 > 0
        )
        t = np.clip(t, 0.0, 1.0)
        off = rel - t[:, None] * seg
        d = np.hypot(off[:, 0], off[:, 1])
        near = d <= radius
        pts, steps, d, t, seg_len2 = pts[near], steps[near], d[near], t[near], seg_len2[near]
        # Nearest step per point; of equally near ones the first (a lantern on a junction's
        # bisector), so answers are stable.
        order = np.lexsort((steps, d, pts))
        pts, steps, d, t, seg_len2 = pts[order], steps[order], d[order], t[order], seg_len2[order]
        first = np.concatenate([[True], pts[1:] != pts[:-1]]) if len(pts) else pts.astype(bool)
        return pts[first], steps[first], d[first], t[first], seg_len2[first]
