"""What each lantern shows in an evacuation: the arrow along its street toward the cheaper end
(true-north bearing a few metres ahead), or neutral, shelter in place, no entry, exit, safe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely

from lightctl.geo.evacuation import Hazard, Solution, edge_fractions, nodes_in
from lightctl.geo.guidance import bearings
from lightctl.geo.snapping import Snap
from lightctl.geo.walkgraph import BoolArray, FloatArray, IntArray, WalkGraph

Kind = Literal["arrow", "neutral", "shelter", "no_entry", "exit", "safe", "no_street"]

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
# Core metres on a way out above this: the way leads through the core, shelter in place.
_CORE_EPS_M = 0.5


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
    metres_u: FloatArray  # true metres to safety walking toward the first vertex
    metres_v: FloatArray
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
    other_through_core = np.where(toward_v, core_u, core_v)
    heading_u, heading_v = _headings(graph, e[ok], s[ok], count, ok)
    inside = _points_in(hazard.area, snap.xy)
    safe_spot = (
        ~_points_in(hazard.safe_from, snap.xy)
        if hazard.safe_from is not None
        else np.zeros(count, dtype=bool)
    )
    near_edge = _within(hazard.area, snap.xy, EDGE_BAND_M * graph.scale) & ~inside
    end_inside = solution.inside[end] if has_edges else np.zeros(count, dtype=bool)
    other_end = np.where(toward_v, u, v)
    other_enters = ~inside & (solution.inside[other_end] if has_edges else False)
    leads_in, inward_v = _approach(graph, hazard, snap, u, v, s, near_edge)
    metres_u = s / graph.scale + (solution.metres[u] if has_edges else 0.0)
    metres_v = (length - s) / graph.scale + (solution.metres[v] if has_edges else 0.0)
    metres = np.where(toward_v, metres_v, metres_u)
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
        # Either way is as good only when neither leads through the core or into the hazard.
        (tie & np.isfinite(other) & ~other_through_core & ~other_enters, "neutral", None),
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
        metres_u=np.where(ok, metres_u, np.nan),
        metres_v=np.where(ok, metres_v, np.nan),
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
