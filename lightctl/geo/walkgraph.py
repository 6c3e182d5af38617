"""The walking graph of the imported streets: junctions as nodes, street pieces between them as
edges with their class, walking time in seconds and whether they are step-free.

Segments join where they share a position (to 1e-7°, 1 cm): at their ends (Overture splits at
every junction) and at inner vertices shared with another segment (an OpenStreetMap way runs
through junctions). Every piece between two such nodes is one edge. Built once per street-data
version by the guidance service; nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from lightctl.geo.crs import MetricProjection
from lightctl.geo.records import StreetSegment

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# An unhurried adult walks 1.2-1.4 m/s; evacuation studies plan with 1.3 m/s on the flat.
WALK_MPS = 1.3
# Steps: about half the speed along the map (stairs climb ~0.3 m per metre and people queue).
STEPS_MPS = 0.6
# Classes nobody may walk along: motorways and expressways (no pavement, fenced), rails for
# buses, and ways that do not exist yet or any more.
NOT_WALKABLE = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "raceway",
        "bus_guideway",
        "busway",
        "construction",
        "proposed",
        "abandoned",
        "razed",
    }
)
# Classes that are not step-free. Street files carry no elevation, so steepness is not known:
# only stairs are marked (an OSM ``incline`` tag is not imported).
NOT_STEP_FREE = frozenset({"steps"})
# Positions equal to 1e-7° (about 1 cm) are one junction.
_QUANTUM_DEG = 1e-7


def walkable(cls: str | None) -> bool:
    """Whether people may walk along a street of this class (unknown classes: yes)."""
    return (cls or "") not in NOT_WALKABLE


def seconds_per_metre(cls: str | None) -> float:
    return 1.0 / (STEPS_MPS if (cls or "") in NOT_STEP_FREE else WALK_MPS)


@dataclass(frozen=True, slots=True)
class WalkGraph:
    """Nodes and walkable edges in one metric projection.

    Every edge keeps its polyline (``coords[offsets[e]:offsets[e + 1]]``) and the distance along
    it at each vertex (``along``), so a lantern can be placed on it and a bearing taken. The
    solver uses ``pair_u``/``pair_v``: one edge per pair of nodes (the shortest), no loops.
    """

    projection: MetricProjection | None
    node_xy: FloatArray  # (n, 2) metres
    edge_u: IntArray  # node at the edge's first vertex
    edge_v: IntArray  # node at its last vertex
    edge_length_m: FloatArray  # true metres
    edge_seconds: FloatArray  # walking time
    edge_step_free: BoolArray
    edge_class: tuple[str, ...]
    edge_segment: tuple[str, ...]  # street segment id
    edge_name: tuple[str | None, ...]
    coords: FloatArray  # (m, 2) metres, every edge's vertices one after another
    along: FloatArray  # (m,) projected metres from the edge's first vertex
    offsets: IntArray  # (edges + 1,)
    pair_edges: IntArray  # edges the solver uses
    pair_keys: npt.NDArray[np.int64]  # sorted min(u, v) * nodes + max(u, v) of pair_edges
    pair_order: IntArray  # pair_edges[pair_order] lines up with pair_keys
    global_along: FloatArray  # along, plus each edge's start on one rising axis
    edge_base: FloatArray  # where each edge starts on that axis
    edge_box: FloatArray  # (edges, 4): x0, y0, x1, y1 of each polyline
    csr_indptr: IntArray  # the solver's symmetric sparse matrix, built once: its structure
    csr_indices: IntArray
    csr_pair: IntArray  # per stored entry, its position in pair_edges (weights change per solve)
    scale: float  # projected metres per true metre at the centre
    segments: int  # street segments read
    skipped_not_walkable: int

    @property
    def node_count(self) -> int:
        return len(self.node_xy)

    @property
    def edge_count(self) -> int:
        return len(self.edge_u)

    def edge_between(self, a: IntArray, b: IntArray) -> IntArray:
        """The solver's edge joining nodes ``a[i]`` and ``b[i]`` (they must be joined)."""
        n = np.int64(max(self.node_count, 1))
        keys = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b).astype(np.int64)
        at = np.searchsorted(self.pair_keys, keys)
        out: IntArray = self.pair_edges[self.pair_order[at]]
        return out

    def points_at(self, edges: IntArray, distance: FloatArray) -> FloatArray:
        """(k, 2) metric points at ``distance`` projected metres along ``edges`` (clamped)."""
        lengths = self.along[self.offsets[edges + 1] - 1]
        g = self.edge_base[edges] + np.clip(distance, 0.0, lengths)
        lo, hi = self.offsets[edges], self.offsets[edges + 1] - 2
        idx = np.clip(np.searchsorted(self.global_along, g, side="right") - 1, lo, hi)
        span = self.global_along[idx + 1] - self.global_along[idx]
        t = np.divide(g - self.global_along[idx], span, out=np.zeros_like(g), where=span > 0)
        t = np.clip(t, 0.0, 1.0)
        out: FloatArray = self.coords[idx] + t[:, None] * (self.coords[idx + 1] - self.coords[idx])
        return out

    def lines_of(self, edges: IntArray) -> npt.NDArray[np.object_]:
        """These edges as metric shapely LineStrings."""
        sizes = np.diff(self.offsets)[edges]
        starts = np.repeat(
            self.offsets[edges] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes
        )
        flat = starts + np.arange(int(sizes.sum()))
        part = np.repeat(np.arange(len(edges)), sizes)
        lines: npt.NDArray[np.object_] = shapely.linestrings(self.coords[flat], indices=part)
        return lines

    def edge_lines(self) -> npt.NDArray[np.object_]:
        """Each edge as a metric shapely LineString."""
        part = np.repeat(np.arange(self.edge_count), np.diff(self.offsets))
        lines: npt.NDArray[np.object_] = shapely.linestrings(self.coords, indices=part)
        return lines


def build_walk_graph(segments: Iterable[StreetSegment]) -> WalkGraph:
    """The walking graph of these segments (lon/lat); non-walkable classes are left out."""
    read = list(segments)
    usable = [s for s in read if len(s.coords) >= 2]
    walk = [s for s in usable if walkable(s.cls)]
    skipped = len(usable) - len(walk)
    if not walk:
        return _empty(len(read), skipped)
    counts = np.array([len(s.coords) for s in walk], dtype=np.intp)
    lonlat = np.array([p for s in walk for p in s.coords], dtype=np.float64)
    projection = MetricProjection.for_extent(lonlat[:, 0], lonlat[:, 1])
    xs, ys = projection.to_xy(lonlat[:, 0], lonlat[:, 1])
    xy = np.column_stack([xs, ys])
    centre_lon = float((lonlat[:, 0].min() + lonlat[:, 0].max()) / 2)
    centre_lat = float((lonlat[:, 1].min() + lonlat[:, 1].max()) / 2)
    scale = projection.scale_at(centre_lon, centre_lat)

    # One id per distinct position; a position is a node at a segment end or where it repeats.
    keys = np.round(lonlat / _QUANTUM_DEG).astype(np.int64)
    _uniq, vertex, seen = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    vertex = vertex.reshape(-1)
    seg_of = np.repeat(np.arange(len(walk)), counts)
    ends = np.concatenate([[0], np.cumsum(counts)])
    is_end = np.zeros(len(xy), dtype=bool)
    is_end[ends[:-1]] = True
    is_end[ends[1:] - 1] = True
    is_node_vertex = is_end | (seen[vertex] > 1)
    node_vertex_ids = np.unique(vertex[is_node_vertex])
    node_of_vertex = np.full(len(seen), -1, dtype=np.intp)
    node_of_vertex[node_vertex_ids] = np.arange(len(node_vertex_ids))
    # A node sits at the first position read for it.
    first_at = np.full(len(seen), -1, dtype=np.intp)
    first_at[vertex[::-1]] = np.arange(len(vertex))[::-1]
    node_xy = xy[first_at[node_vertex_ids]]

    # Edges: from each node position to the next one within the same segment.
    at = np.flatnonzero(is_node_vertex)
    same = seg_of[at[:-1]] == seg_of[at[1:]]
    starts, stops = at[:-1][same], at[1:][same]
    step = np.hypot(*(xy[1:] - xy[:-1]).T)
    cum = np.concatenate([[0.0], np.cumsum(step)])
    length_proj = cum[stops] - cum[starts]
    edge_seg = seg_of[starts]
    # Flat polylines of the edges: positions starts..stops inclusive.
    sizes = stops - starts + 1
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    flat = np.repeat(starts - offsets[:-1], sizes) + np.arange(offsets[-1])
    coords = xy[flat]
    along = cum[flat] - np.repeat(cum[starts], sizes)
    classes = tuple((walk[i].cls or "") for i in edge_seg.tolist())
    rate = np.array([seconds_per_metre(c) for c in classes], dtype=np.float64)
    length_m = length_proj / scale
    edge_u = node_of_vertex[vertex[starts]]
    edge_v = node_of_vertex[vertex[stops]]
    pair_edges, pair_keys, pair_order = _pairs(edge_u, edge_v, length_m * rate, len(node_xy))
    global_along, edge_base = _axis(along, offsets)
    indptr, indices, pair_of = _structure(edge_u[pair_edges], edge_v[pair_edges], len(node_xy))
    return WalkGraph(
        projection=projection,
        node_xy=node_xy,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length_m=length_m,
        edge_seconds=length_m * rate,
        edge_step_free=np.array([c not in NOT_STEP_FREE for c in classes], dtype=bool),
        edge_class=classes,
        edge_segment=tuple(walk[i].id for i in edge_seg.tolist()),
        edge_name=tuple(walk[i].name for i in edge_seg.tolist()),
        coords=coords,
        along=along,
        offsets=offsets,
        pair_edges=pair_edges,
        pair_keys=pair_keys,
        pair_order=pair_order,
        global_along=global_along,
        edge_base=edge_base,
        edge_box=_boxes(coords, offsets),
        csr_indptr=indptr,
        csr_indices=indices,
        csr_pair=pair_of,
        scale=scale,
        segments=len(read),
        skipped_not_walkable=skipped,
    )


def _boxes(coords: FloatArray, offsets: IntArray) -> FloatArray:
    starts = offsets[:-1]
    lo = np.minimum.reduceat(coords, starts, axis=0)
    hi = np.maximum.reduceat(coords, starts, axis=0)
    out: FloatArray = np.column_stack([lo, hi])
    return out


def _structure(u: IntArray, v: IntArray, nodes: int) -> tuple[IntArray, IntArray, IntArray]:
    """CSR rows, columns and pair index of the symmetric walking matrix (each pair twice), so
    a solve only fills in the weights: no sparse matrix is built per hazard."""
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    pair = np.concatenate([np.arange(len(u)), np.arange(len(u))])
    order = np.lexsort((cols, rows))
    indptr = np.zeros(nodes + 1, dtype=np.intp)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr).astype(np.intp), cols[order].astype(np.intp), pair[order]


def _axis(along: FloatArray, offsets: IntArray) -> tuple[FloatArray, FloatArray]:
    """Every edge's vertices on one rising axis (1 m apart between edges), so a point at a
    distance along any edge is one ``searchsorted`` away."""
    lengths = along[offsets[1:] - 1]
    base = np.concatenate([[0.0], np.cumsum(lengths + 1.0)[:-1]])
    return along + np.repeat(base, np.diff(offsets)), base


def _pairs(
    u: IntArray, v: IntArray, seconds: FloatArray, nodes: int
) -> tuple[IntArray, npt.NDArray[np.int64], IntArray]:
    """Of the edges between the same two nodes the quickest, none from a node to itself (a
    sparse matrix would add parallel edges up instead of choosing one), and their lookup keys."""
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((seconds, hi, lo))
    lo_s, hi_s = lo[order], hi[order]
    first = np.concatenate([[True], (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])])
    keep = order[first]
    keep = np.sort(keep[u[keep] != v[keep]])
    n = np.int64(max(nodes, 1))
    keys = np.minimum(u[keep], v[keep]).astype(np.int64) * n + np.maximum(u[keep], v[keep])
    order = np.argsort(keys, kind="stable")
    return keep, keys[order], order


def _empty(segments: int, skipped: int) -> WalkGraph:
    none_i = np.empty(0, dtype=np.intp)
    none_f = np.empty(0, dtype=np.float64)
    return WalkGraph(
        projection=None,
        node_xy=np.empty((0, 2), dtype=np.float64),
        edge_u=none_i,
        edge_v=none_i,
        edge_length_m=none_f,
        edge_seconds=none_f,
        edge_step_free=np.empty(0, dtype=bool),
        edge_class=(),
        edge_segment=(),
        edge_name=(),
        coords=np.empty((0, 2), dtype=np.float64),
        along=none_f,
        offsets=np.zeros(1, dtype=np.intp),
        pair_edges=none_i,
        pair_keys=np.empty(0, dtype=np.int64),
        pair_order=none_i,
        global_along=none_f,
        edge_base=none_f,
        edge_box=np.empty((0, 4), dtype=np.float64),
        csr_indptr=np.zeros(1, dtype=np.intp),
        csr_indices=none_i,
        csr_pair=none_i,
        scale=1.0,
        segments=segments,
        skipped_not_walkable=skipped,
    )
