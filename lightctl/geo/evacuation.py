"""Evacuation guidance on the walking graph: one multi-source shortest-path run from the safe
nodes gives every node its time to safety and its next step; each lantern then points along its
street toward the cheaper end.

All geometry is metric, in the walking graph's projection. Costs are walking seconds, raised
inside the hazard (people inside must still be able to walk out, so never infinite) and raised
much more inside an optional core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from lightctl.geo.guidance import bearings
from lightctl.geo.walkgraph import BoolArray, FloatArray, IntArray, WalkGraph

Kind = Literal["arrow", "neutral", "shelter", "no_entry", "exit", "safe", "no_street"]

# Inside the hazard a metre costs this many metres of walking outside: a way out through
# 100 m of hazard is taken over a detour up to 1 km outside it, but never refused.
HAZARD_FACTOR = 10.0
# Inside the core (the fire itself, the gas cloud's centre) a metre costs this much: only
# taken when there is no other way, and then the lantern says shelter in place instead.
CORE_FACTOR = 100.0
# Both ends of a lantern's street are about equally good within 3 s (4 m of walking) or 5 %:
# the arrow would be a guess, so the lantern shows the neutral "walk" pictogram.
TIE_S = 3.0
TIE_FRACTION = 0.05
# The arrow's bearing is taken over this stretch of street ahead of the lantern.
BEARING_STEP_M = 3.0
# A lantern outside the hazard within this distance of its edge, on a street that leads in,
# shows "no entry" (turned inward) to people walking toward the danger.
EDGE_BAND_M = 30.0
# Lanterns this close (walking) to a meeting point show "exit": you have arrived.
ARRIVED_M = 25.0
# A held arrow (see ``lightctl.domain.guidance.keeps_arrow``) never leads to a junction this
# close to the core: about 40 s of walking, the distance a cordon keeps from a building fire.
CORE_KEEP_OUT_M = 50.0
# The snapper's first, small search box (metres around a lantern); see ``Snapper.snap``.
_FIRST_REACH_M = 8.0
# Core metres on a way out above this: the way leads through the core, shelter in place.
_CORE_EPS_M = 0.5


@dataclass(frozen=True, slots=True)
class Hazard:
    """The hazard in the graph's metric projection; ``safe_from`` is where safety starts in
    "leave the area" mode (the hazard grown by the buffer), None with meeting points."""

    area: shapely.Geometry
    core: shapely.Geometry | None = None
    safe_from: shapely.Geometry | None = None


@dataclass(frozen=True, slots=True)
class Solution:
    """Per node: seconds to safety (inf: none reachable), the next node on the way (-1 at a
    safe node or unreachable), the safe node reached, and along the way the true metres walked,
    of them in the core and in the hazard; per edge its cost per true metre."""

    seconds: FloatArray
    next_node: IntArray
    source: IntArray
    metres: FloatArray
    core_m: FloatArray
    hazard_m: FloatArray
    rate: FloatArray  # seconds per true metre, per edge
    hazard_fraction: FloatArray  # per edge
    inside: BoolArray  # per node: in the hazard
    safe: BoolArray  # per node

    def path_from(self, node: int, limit: int = 1_000_000) -> list[int]:
        """Nodes from ``node`` to its safe node following the next steps."""
        out = [node]
        while self.next_node[out[-1]] >= 0 and len(out) <= limit:
            out.append(int(self.next_node[out[-1]]))
        return out


def edge_fractions(graph: WalkGraph, geometry: shapely.Geometry | None) -> FloatArray:
    """Per edge, the share of its length inside ``geometry``, measured only on edges whose box
    meets the geometry's (a hazard covers a few hundred metres of a city)."""
    out = np.zeros(graph.edge_count, dtype=np.float64)
    if geometry is None or geometry.is_empty or not graph.edge_count:
        return out
    x0, y0, x1, y1 = shapely.bounds(geometry)
    box = graph.edge_box
    near = np.flatnonzero(
        (box[:, 2] >= x0) & (box[:, 0] <= x1) & (box[:, 3] >= y0) & (box[:, 1] <= y1)
    )
    if not len(near):
        return out
    lines = graph.lines_of(near)
    shapely.prepare(geometry)
    # Wholly inside or wholly outside is a prepared-geometry test; only edges crossing the
    # boundary are cut (a few hundred for a hazard of any size).
    whole = shapely.contains(geometry, lines)
    crossing = np.flatnonzero(~whole & shapely.intersects(geometry, lines))
    out[near[whole]] = 1.0
    if len(crossing):
        cut = lines[crossing]
        total = shapely.length(cut)
        inside = shapely.length(shapely.intersection(cut, geometry))
        share = np.divide(inside, total, out=np.zeros(len(crossing)), where=total > 0)
        out[near[crossing]] = np.clip(share, 0.0, 1.0)
    return out


def nodes_in(graph: WalkGraph, geometry: shapely.Geometry | None) -> BoolArray:
    """Per node: inside ``geometry`` (boundary included)."""
    out = np.zeros(graph.node_count, dtype=bool)
    if geometry is None or geometry.is_empty or not graph.node_count:
        return out
    x0, y0, x1, y1 = shapely.bounds(geometry)
    xs, ys = graph.node_xy[:, 0], graph.node_xy[:, 1]
    near = np.flatnonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))
    if len(near):
        shapely.prepare(geometry)
        out[near] = shapely.intersects_xy(geometry, xs[near], ys[near])
    return out


def solve(graph: WalkGraph, hazard: Hazard, sources: IntArray | None = None) -> Solution:
    """Time to safety from every node. ``sources``: the safe nodes (meeting points); None:
    every node outside ``hazard.safe_from`` is safe ("leave the area")."""
    in_hazard = edge_fractions(graph, hazard.area)
    in_core = edge_fractions(graph, hazard.core)
    factor = 1.0 + (HAZARD_FACTOR - 1.0) * in_hazard + (CORE_FACTOR - HAZARD_FACTOR) * in_core
    rate = np.divide(
        graph.edge_seconds,
        graph.edge_length_m,
        out=np.full(graph.edge_count, 1.0, dtype=np.float64),
        where=graph.edge_length_m > 0,
    )
    rate = rate * factor
    inside = nodes_in(graph, hazard.area)
    if sources is None:
        safe = ~nodes_in(graph, hazard.safe_from if hazard.safe_from is not None else hazard.area)
        sources = np.flatnonzero(safe)
    else:
        safe = np.zeros(graph.node_count, dtype=bool)
        safe[sources] = True
    n = graph.node_count
    if not len(sources) or not n:
        return _unreachable(graph, rate, in_hazard, inside, safe)
    e = graph.pair_edges
    # Zero-length edges (two junctions 1 cm apart) must stay edges: a sparse zero is no edge.
    w = np.maximum(graph.edge_length_m[e] * rate[e], 1e-6)
    matrix = csr_matrix((w[graph.csr_pair], graph.csr_indices, graph.csr_indptr), shape=(n, n))
    seconds, pred, source = dijkstra(
        matrix, directed=True, indices=sources, min_only=True, return_predecessors=True
    )
    pred = np.where(pred < 0, -1, pred).astype(np.intp)
    metres, core_m, hazard_m = _along_the_way(graph, pred, in_core, in_hazard)
    return Solution(
        seconds=np.asarray(seconds, dtype=np.float64),
        next_node=pred,
        source=np.where(np.isfinite(seconds), source, -1).astype(np.intp),
        metres=metres,
        core_m=core_m,
        hazard_m=hazard_m,
        rate=rate,
        hazard_fraction=in_hazard,
        inside=inside,
        safe=safe,
    )


def _along_the_way(
    graph: WalkGraph, pred: IntArray, in_core: FloatArray, in_hazard: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Sums over each node's way to safety by pointer doubling: log2(longest way) numpy passes
    instead of one Python step per node (100,000 nodes: a few ms)."""
    n = graph.node_count
    has = np.flatnonzero(pred >= 0)
    parent = np.arange(n, dtype=np.intp)
    parent[has] = pred[has]
    acc = np.zeros((n, 3), dtype=np.float64)
    if len(has):
        e = graph.edge_between(has, pred[has])
        length = graph.edge_length_m[e]
        acc[has] = np.column_stack([length, length * in_core[e], length * in_hazard[e]])
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        acc += acc[parent]  # roots hold 0: a node whose parent is a root is already complete
        parent = grand
    return acc[:, 0].copy(), acc[:, 1].copy(), acc[:, 2].copy()


def _unreachable(
    graph: WalkGraph, rate: FloatArray, in_hazard: FloatArray, inside: BoolArray, safe: BoolArray
) -> Solution:
    n = graph.node_count
    inf = np.full(n, np.inf, dtype=np.float64)
    return Solution(
        seconds=inf,
        next_node=np.full(n, -1, dtype=np.intp),
        source=np.full(n, -1, dtype=np.intp),
        metres=inf.copy(),
        core_m=np.zeros(n),
        hazard_m=np.zeros(n),
        rate=rate,
        hazard_fraction=in_hazard,
        inside=inside,
        safe=safe,
    )


# ---- lanterns -----------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class LanternGuide:
    """Per lantern (in the order given): what it shows and why, the bearing of each way along
    its street and what each costs, and where its arrow leads."""

    kind: list[Kind]
    heading_deg: FloatArray  # NaN where no arrow (shelter, safe, ...)
    toward_v: BoolArray  # the arrow runs toward the edge's last vertex
    heading_u: FloatArray  # bearing toward the edge's first vertex
    heading_v: FloatArray
    cost_u: FloatArray  # seconds to safety walking toward the first vertex
    cost_v: FloatArray
    metres: FloatArray  # true metres to safety along the arrow's way (NaN without one)
    exit_node: IntArray  # the safe node the arrow leads to (-1 without one)
    end_node: IntArray  # the first node the arrow walks to (-1 without one)
    inside: BoolArray  # the lantern stands in the hazard
    blocked_u: BoolArray  # walking toward the first vertex leads into the danger (core, or in)
    blocked_v: BoolArray
    reason: list[str | None]


def guide_lanterns(
    graph: WalkGraph,
    solution: Solution,
    snap: Snap,
    hazard: Hazard,
    meeting_nodes: Sequence[int] = (),
) -> LanternGuide:
    """What every snapped lantern shows, vectorised over lanterns."""
    count = len(snap.edge)
    ok = snap.edge >= 0
    e = np.where(ok, snap.edge, 0)
    has_edges = graph.edge_count > 0
    length = graph.along[graph.offsets[e + 1] - 1] if has_edges else np.zeros(count)
    s = np.clip(snap.along, 0.0, length)
    u = graph.edge_u[e] if has_edges else np.zeros(count, dtype=np.intp)
    v = graph.edge_v[e] if has_edges else np.zeros(count, dtype=np.intp)
    rate = solution.rate[e] if has_edges else np.zeros(count)
    d_u = solution.seconds[u] if has_edges else np.full(count, np.inf)
    d_v = solution.seconds[v] if has_edges else np.full(count, np.inf)
    cost_u = np.where(ok, s / graph.scale * rate + d_u, np.inf)
    cost_v = np.where(ok, (length - s) / graph.scale * rate + d_v, np.inf)
    toward_v = cost_v < cost_u
    # A way out through the core: take the other end when it avoids the core.
    core_u, core_v = _through_core(graph, solution, hazard, snap, e, s, ok)
    toward_v = np.where(toward_v & core_v & ~core_u & np.isfinite(cost_u), False, toward_v)
    toward_v = np.where(~toward_v & core_u & ~core_v & np.isfinite(cost_v), True, toward_v)
    best = np.where(toward_v, cost_v, cost_u)
    other = np.where(toward_v, cost_u, cost_v)
    end = np.where(toward_v, v, u)
    through_core = np.where(toward_v, core_v, core_u)
    heading_u, heading_v = _headings(graph, e[ok], s[ok], count, ok)
    inside = _points_in(hazard.area, snap.xy)
    safe_spot = (
        ~_points_in(hazard.safe_from, snap.xy)
        if hazard.safe_from is not None
        else np.zeros(count, dtype=bool)
    )
    near_edge = _within(hazard.area, snap.xy, EDGE_BAND_M * graph.scale) & ~inside
    end_inside = solution.inside[end] if has_edges else np.zeros(count, dtype=bool)
    leads_in, inward_v = _approach(graph, hazard, snap, u, v, s, near_edge)
    metres = np.where(toward_v, (length - s) / graph.scale, s / graph.scale) + (
        solution.metres[end] if has_edges else 0.0
    )
    meeting = np.zeros(graph.node_count, dtype=bool)
    meeting[list(meeting_nodes)] = True
    with np.errstate(invalid="ignore"):  # inf - inf where no way leads out: not a tie
        gap = np.abs(best - other)
        tie = gap <= np.maximum(TIE_S, TIE_FRACTION * np.minimum(best, other))
    at_meeting = np.zeros(count, dtype=bool)
    if len(meeting_nodes) and has_edges:
        source = solution.source[end]
        at_meeting = (metres <= ARRIVED_M) & (source >= 0) & meeting[np.maximum(source, 0)]
    no_way = ~np.isfinite(best)
    rules = [
        (~ok, "no_street", "no walkable street within reach"),
        (no_way, "shelter", "no way out: no safe place can be reached on foot"),
        (through_core, "shelter", "every way out leads through the hazard's core"),
        (safe_spot & ~inside, "safe", None),
        (~inside & (end_inside | (near_edge & leads_in)), "no_entry", None),
        (at_meeting, "exit", None),
        (tie & np.isfinite(other), "neutral", None),
    ]
    kind_arr = np.select([r[0] for r in rules], [r[1] for r in rules], "arrow").astype(object)
    reasons: list[str | None] = [None] * count
    for kind, cond, why in (
        ("no_street", ~ok, rules[0][2]),
        ("shelter", no_way, rules[1][2]),
        ("shelter", ~no_way, rules[2][2]),
    ):
        for i in np.flatnonzero((kind_arr == kind) & cond).tolist():
            reasons[i] = why
    kinds: list[Kind] = kind_arr.tolist()
    # An arrow held the old way (hysteresis) may not lead to an end near the core, even where the
    # solver's way from that end turns back: people would walk toward the fire first.
    back_u = _near_core(graph, hazard, u)
    back_v = _near_core(graph, hazard, v)
    arrow = kind_arr == "arrow"
    no_entry = kind_arr == "no_entry"
    # "No entry" is turned toward the danger: the way in, not the way out.
    inward_v = np.where(end_inside & ~near_edge, toward_v, inward_v)
    heading = np.full(count, np.nan)
    heading[arrow] = np.where(toward_v, heading_v, heading_u)[arrow]
    heading[no_entry] = np.where(inward_v, heading_v, heading_u)[no_entry]
    leads = arrow | (kind_arr == "neutral") | (kind_arr == "exit")
    exit_node = np.where(leads, solution.source[end] if has_edges else -1, -1).astype(np.intp)
    return LanternGuide(
        kind=kinds,
        heading_deg=heading,
        toward_v=toward_v,
        heading_u=heading_u,
        heading_v=heading_v,
        cost_u=cost_u,
        cost_v=cost_v,
        metres=np.where(leads, metres, np.nan),
        exit_node=exit_node,
        end_node=np.where(leads, end, -1).astype(np.intp),
        inside=inside,
        blocked_u=core_u | (~inside & (solution.inside[u] if has_edges else False)) | back_u,
        blocked_v=core_v | (~inside & (solution.inside[v] if has_edges else False)) | back_v,
        reason=reasons,
    )


def _through_core(
    graph: WalkGraph,
    solution: Solution,
    hazard: Hazard,
    snap: Snap,
    e: IntArray,
    s: FloatArray,
    ok: BoolArray,
) -> tuple[BoolArray, BoolArray]:
    """Per lantern and direction: whether walking that way passes through the core (on its own
    street toward the end, at the end, or beyond). A lantern in the core is already in it: only
    what lies beyond its own street counts for it."""
    count = len(e)
    if hazard.core is None or not graph.edge_count:
        return np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    u, v = graph.edge_u[e], graph.edge_v[e]
    node_core = nodes_in(graph, hazard.core)
    in_core = _points_in(hazard.core, snap.xy)
    beyond_u = solution.core_m[u] > _CORE_EPS_M
    beyond_v = solution.core_m[v] > _CORE_EPS_M
    own_u = np.zeros(count, dtype=bool)
    own_v = np.zeros(count, dtype=bool)
    # Per edge touching the core, the first and last distance along it that lies in the core:
    # the stretch from a lantern toward an end crosses the core when that end's side holds one.
    touching = np.flatnonzero(edge_fractions(graph, hazard.core) > 0)
    first = np.full(graph.edge_count, np.inf)
    last = np.full(graph.edge_count, -np.inf)
    for edge, line in zip(touching.tolist(), graph.lines_of(touching), strict=True):
        cut = shapely.get_coordinates(shapely.intersection(line, hazard.core))
        if len(cut):
            at = shapely.line_locate_point(line, shapely.points(cut))
            first[edge], last[edge] = float(at.min()), float(at.max())
    own_u = ok & (first[e] <= s)
    own_v = ok & (last[e] >= s)
    core_u = ~in_core & (own_u | node_core[u]) | beyond_u
    core_v = ~in_core & (own_v | node_core[v]) | beyond_v
    return core_u & ok, core_v & ok


def _approach(
    graph: WalkGraph,
    hazard: Hazard,
    snap: Snap,
    u: IntArray,
    v: IntArray,
    s: FloatArray,
    near: BoolArray,
) -> tuple[BoolArray, BoolArray]:
    """For lanterns near the hazard: whether their street heads into it (toward one end it
    comes closer by at least half the way walked, a course within 60° of straight at it) and
    whether that end is the last vertex."""
    count = len(u)
    leads = np.zeros(count, dtype=bool)
    inward_v = np.zeros(count, dtype=bool)
    idx = np.flatnonzero(near)
    if not len(idx) or not graph.edge_count:
        return leads, inward_v
    area = hazard.area
    here = shapely.distance(area, shapely.points(snap.xy[idx]))
    at_u = shapely.distance(area, shapely.points(graph.node_xy[u[idx]]))
    at_v = shapely.distance(area, shapely.points(graph.node_xy[v[idx]]))
    length = graph.along[graph.offsets[snap.edge[idx] + 1] - 1]
    walk_u, walk_v = s[idx], length - s[idx]
    closer_u = here - at_u >= 0.5 * np.minimum(walk_u, EDGE_BAND_M * graph.scale)
    closer_v = here - at_v >= 0.5 * np.minimum(walk_v, EDGE_BAND_M * graph.scale)
    leads[idx] = (closer_u & (walk_u > 0)) | (closer_v & (walk_v > 0))
    inward_v[idx] = closer_v & ((at_v <= at_u) | ~closer_u)
    return leads, inward_v


def _near_core(graph: WalkGraph, hazard: Hazard, nodes: IntArray) -> BoolArray:
    if hazard.core is None or not len(nodes):
        return np.zeros(len(nodes), dtype=bool)
    xy = graph.node_xy[nodes]
    return np.asarray(
        shapely.dwithin(hazard.core, shapely.points(xy), CORE_KEEP_OUT_M * graph.scale), dtype=bool
    )


def _headings(
    graph: WalkGraph, e: IntArray, s: FloatArray, count: int, ok: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Bearings a few metres ahead toward each end of the lantern's edge (at an end: the last
    few metres before it)."""
    heading_u = np.full(count, np.nan)
    heading_v = np.full(count, np.nan)
    if not len(e) or graph.projection is None:
        return heading_u, heading_v
    length = graph.along[graph.offsets[e + 1] - 1]
    step = np.minimum(BEARING_STEP_M * graph.scale, length)
    a_v = np.minimum(s, length - step)
    a_u = np.maximum(s, step)
    pv = graph.points_at(e, a_v)
    qv = graph.points_at(e, a_v + step)
    pu = graph.points_at(e, a_u)
    qu = graph.points_at(e, a_u - step)
    both = bearings(graph.projection, np.vstack([pv, pu]), np.vstack([qv, qu]))
    heading_v[ok] = both[: len(e)]
    heading_u[ok] = both[len(e) :]
    return heading_u, heading_v


def _points_in(geometry: shapely.Geometry | None, xy: FloatArray) -> BoolArray:
    if geometry is None or not len(xy):
        return np.zeros(len(xy), dtype=bool)
    shapely.prepare(geometry)
    finite = np.isfinite(xy).all(axis=1)
    out = np.zeros(len(xy), dtype=bool)
    out[finite] = shapely.intersects_xy(geometry, xy[finite, 0], xy[finite, 1])
    return out


def _within(geometry: shapely.Geometry, xy: FloatArray, distance: float) -> BoolArray:
    if not len(xy):
        return np.zeros(0, dtype=bool)
    finite = np.isfinite(xy).all(axis=1)
    out = np.zeros(len(xy), dtype=bool)
    out[finite] = shapely.dwithin(geometry, shapely.points(xy[finite]), distance)
    return out
