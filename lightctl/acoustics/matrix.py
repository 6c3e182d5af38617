"""The sparse lantern -> listener attenuation matrix, built once per inventory and buildings.

Row ``i`` holds, for every listener point within ``radius_m`` of lantern ``i``, the linear gain
``10^(-A/10)`` (``A`` from ``propagation.attenuation_db``, plus the beam term and, on a path a
building blocks, the barrier term) and the sound's travel time. A preview then only sums rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

from lightctl.acoustics.propagation import (
    SPEED_OF_SOUND_M_S,
    Propagation,
    attenuation_db,
    roof_detour_m,
)
from lightctl.acoustics.raster import CELL_M, SAMPLE_M, BuildingRaster
from lightctl.acoustics.receivers import Receivers
from lightctl.errors import InvalidRequest

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]

# 150 m: a 100 dB(A) speaker has fallen to 52 dB(A) there, below the daytime ambient of every
# street class and 3 dB short of intelligible on the quietest night street; 300 m would
# quadruple the matrix for contributions that decide almost nothing.
DEFAULT_RADIUS_M = 150.0
MIN_RADIUS_M, MAX_RADIUS_M = 20.0, 1000.0
# A contribution attenuated by more than 75 dB stays below 25 dB(A) from a 100 dB(A) speaker:
# inaudible in any street, not worth a matrix entry.
MAX_ATTENUATION_DB = 75.0
_CHUNK = 4096  # lanterns per step: bounds the pair arrays at a few hundred MB worst case
# Pairs computed together: 131,072 float64 values are 1 MB, so each step's arrays stay in the
# processor's cache (twice as fast as the whole chunk at once, measured on the 100k city).
_BATCH = 1 << 17


@dataclass(frozen=True, slots=True)
class Sources:
    """Lantern positions in metres with per-lantern height and optional beam (NaN: omni)."""

    x: FloatArray
    y: FloatArray
    height_m: FloatArray
    heading_deg: FloatArray
    beam_deg: FloatArray
    off_axis_db: float = 10.0

    @classmethod
    def omni(cls, x: npt.ArrayLike, y: npt.ArrayLike, height_m: npt.ArrayLike) -> Sources:
        xs = np.asarray(x, dtype=np.float64)
        nan = np.full(len(xs), np.nan)
        heights = np.broadcast_to(np.asarray(height_m, dtype=np.float64), xs.shape).copy()
        return cls(xs, np.asarray(y, dtype=np.float64), heights, nan, nan.copy())

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True, slots=True)
class AttenuationMatrix:
    """``gain`` (lanterns x receivers, CSR, linear) and ``delay_s`` aligned with ``gain.data``."""

    gain: csr_matrix
    delay_s: npt.NDArray[np.float32]
    radius_m: float
    blocked_pairs: int  # pairs a building stands between (kept with the barrier term)

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.gain.shape
        return int(rows), int(cols)

    @property
    def nbytes(self) -> int:
        g = self.gain
        return int(g.data.nbytes + g.indices.nbytes + g.indptr.nbytes + self.delay_s.nbytes)


def check_radius(radius_m: float, loc: tuple[str | int, ...] = ("radius_m",)) -> float:
    if not np.isfinite(radius_m) or not MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M:
        raise InvalidRequest.at(loc, f"must be {MIN_RADIUS_M:g} to {MAX_RADIUS_M:g} m", radius_m)
    return radius_m


def _on_paths(
    buildings: Sequence[shapely.Geometry], sources: Sources, receivers: Receivers
) -> list[shapely.Geometry]:
    """The buildings that can stand on a straight path between a lantern and a receiver: those
    touching the box around all of them. One stray footprint kilometres away would otherwise
    stretch the 2 m grid (and its summed-area table) to gigabytes."""
    if not len(buildings) or not len(sources) or not len(receivers):
        return []
    xs = np.concatenate([sources.x, receivers.x])
    ys = np.concatenate([sources.y, receivers.y])
    box = shapely.box(xs.min() - CELL_M, ys.min() - CELL_M, xs.max() + CELL_M, ys.max() + CELL_M)
    geoms = np.asarray(list(buildings), dtype=object)
    return list(geoms[shapely.intersects(geoms, box)])


def build_matrix(
    sources: Sources,
    receivers: Receivers,
    buildings: Sequence[shapely.Geometry] = (),
    model: Propagation = Propagation(),
    radius_m: float = DEFAULT_RADIUS_M,
    progress: Progress | None = None,
) -> AttenuationMatrix:
    """Every lantern/receiver pair within ``radius_m``, with its gain and travel time."""
    check_radius(radius_m)
    n, m = len(sources), len(receivers)
    tree = cKDTree(np.column_stack([receivers.x, receivers.y])) if m else None
    on_paths = _on_paths(buildings, sources, receivers)
    raster = BuildingRaster.of(on_paths) if len(on_paths) else None
    rows_parts: list[npt.NDArray[np.int32]] = []
    cols_parts: list[npt.NDArray[np.int32]] = []
    gain_parts: list[npt.NDArray[np.float32]] = []
    delay_parts: list[npt.NDArray[np.float32]] = []
    blocked_total = 0
    cells = _Cells.of(raster, sources, receivers) if raster is not None else None
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        if tree is not None:
            near = cKDTree(np.column_stack([sources.x[lo:hi], sources.y[lo:hi]]))
            pairs = near.sparse_distance_matrix(tree, radius_m, output_type="ndarray")
            # sparse_distance_matrix keeps a row's pairs in its own order but not the rows
            # together: a stable sort by row (radix on int16, within one chunk) makes the CSR
            # layout, and the chunks follow each other in row order.
            order = np.argsort(pairs["i"].astype(np.int16), kind="stable")  # radix sort
            # Paths are sampled every SAMPLE_M of the longest path in the chunk: the same
            # fractions for all its pairs.
            d_all = pairs["v"][order]
            steps = max(2, int(np.ceil(float(d_all.max(initial=0.0)) / SAMPLE_M)) + 1)
            for a in range(0, len(order), _BATCH):
                part = order[a : a + _BATCH]
                rows = pairs["i"][part].astype(np.int64) + lo
                cols = pairs["j"][part].astype(np.int64)
                d = d_all[a : a + _BATCH]
                hs = sources.height_m[rows]
                z = None
                if raster is not None and cells is not None:
                    z = roof_detours(raster, cells, sources, receivers, rows, cols, d, model, steps)
                    blocked_total += int(np.isfinite(z).sum())
                att = attenuation_db(d, hs, model, z)
                att += _beam(sources, receivers, rows, cols)
                r = np.sqrt(d * d + (hs - model.receiver_height_m) ** 2)
                keep = att <= MAX_ATTENUATION_DB
                if not keep.all():
                    rows, cols, att, r = rows[keep], cols[keep], att[keep], r[keep]
                rows_parts.append(rows.astype(np.int32))
                cols_parts.append(cols.astype(np.int32))
                gain_parts.append(np.power(10.0, att / -10.0).astype(np.float32))
                delay_parts.append((r / SPEED_OF_SOUND_M_S).astype(np.float32))
        if progress is not None:
            progress(hi, n)
    rows_all = np.concatenate(rows_parts) if rows_parts else np.zeros(0, np.int32)
    cols_all = np.concatenate(cols_parts) if cols_parts else np.zeros(0, np.int32)
    gains = np.concatenate(gain_parts) if gain_parts else np.zeros(0, np.float32)
    delays = np.concatenate(delay_parts) if delay_parts else np.zeros(0, np.float32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows_all, minlength=n), out=indptr[1:])
    gain = csr_matrix((gains, cols_all, indptr), shape=(n, m))
    return AttenuationMatrix(gain, delays, radius_m, blocked_total)


def _beam(
    sources: Sources, receivers: Receivers, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]
) -> FloatArray:
    """Off-axis attenuation for directional speakers (zero for omni ones)."""
    beam = sources.beam_deg[rows]
    directional = np.isfinite(beam) & np.isfinite(sources.heading_deg[rows]) & (beam < 360)
    out = np.zeros(len(rows))
    if not directional.any():
        return out
    r, c = rows[directional], cols[directional]
    bearing = np.degrees(np.arctan2(receivers.x[c] - sources.x[r], receivers.y[c] - sources.y[r]))
    off = np.abs((bearing - sources.heading_deg[r] + 180.0) % 360.0 - 180.0)
    out[directional] = np.where(off <= beam[directional] / 2.0, 0.0, sources.off_axis_db)
    return out


@dataclass(frozen=True, slots=True)
class _Cells:
    """Raster cell of every lantern and receiver, computed once: the cell of a coordinate
    rises with it, so a path's bounding box in cells is the min/max of its two ends' cells."""

    source_i: npt.NDArray[np.intp]
    source_j: npt.NDArray[np.intp]
    receiver_i: npt.NDArray[np.intp]
    receiver_j: npt.NDArray[np.intp]

    @classmethod
    def of(cls, raster: BuildingRaster, sources: Sources, receivers: Receivers) -> _Cells:
        si, sj = raster.cells(sources.x, sources.y)
        ri, rj = raster.cells(receivers.x, receivers.y)
        return cls(si, sj, ri, rj)


def roof_detours(
    raster: BuildingRaster,
    cells: _Cells,
    sources: Sources,
    receivers: Receivers,
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    d: FloatArray,
    model: Propagation,
    steps: int,
) -> FloatArray:
    """Per pair: the roof detour ``z`` over the buildings its straight path crosses, taken
    as one block from the first to the last building sample (NaN: free line of sight)."""
    z = np.full(len(rows), np.nan)
    # A path along a street has no building cell in its bounding box and needs no sampling.
    si, sj = cells.source_i[rows], cells.source_j[rows]
    ri, rj = cells.receiver_i[cols], cells.receiver_j[cols]
    busy = raster.any_inside(
        np.minimum(si, ri), np.minimum(sj, rj), np.maximum(si, ri), np.maximum(sj, rj)
    )
    candidates = np.flatnonzero(busy)
    if candidates.size == 0:
        return z
    sx, sy = sources.x[rows[candidates]], sources.y[rows[candidates]]
    rx, ry = receivers.x[cols[candidates]], receivers.y[cols[candidates]]
    frac = np.linspace(0.0, 1.0, steps)
    grid = (
        ((sx - raster.x0) / CELL_M).astype(np.float32),
        ((sy - raster.y0) / CELL_M).astype(np.float32),
        ((rx - sx) / CELL_M).astype(np.float32),
        ((ry - sy) / CELL_M).astype(np.float32),
    )
    # March from the source to the first building sample, then from the receiver back to the
    # last one: a path into a block stops after a few samples, not after all.
    first = raster.first_inside(grid, frac, reverse=False)
    hit = np.flatnonzero(first >= 0)
    if hit.size == 0:
        return z
    last = raster.first_inside(tuple(g[hit] for g in grid), frac, reverse=True)
    blocked = candidates[hit]
    dist = d[blocked]
    lo, hi = frac[first[hit]], frac[last]
    z[blocked] = roof_detour_m(
        lo * dist,
        (1.0 - hi) * dist,
        (hi - lo) * dist,
        sources.height_m[rows[blocked]],
        model.receiver_height_m,
        model.building_height_m,
    )
    return z
