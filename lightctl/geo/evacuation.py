"""Evacuation guidance on the walking graph: one multi-source shortest-path run from the safe
nodes gives every node its time to safety and its next step (what each lantern then shows:
``lightctl.geo.arrows``).

All geometry is metric, in the walking graph's projection. Costs are walking seconds, raised
inside the hazard (people inside must still be able to walk out, so never infinite) and raised
much more inside an optional core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from lightctl.geo.walkgraph import BoolArray, FloatArray, IntArray, WalkGraph

# Inside the hazard a metre costs this many metres of walking outside: a way out through
# 100 m of hazard is taken over a detour up to 1 km outside it, but never refused.
HAZARD_FACTOR = 10.0
# Inside the core (the fire itself, the gas cloud's centre) a metre costs this much: only
# taken when there is no other way, and then the lantern says shelter in place instead.
CORE_FACTOR = 100.0


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
