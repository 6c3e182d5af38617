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
    raster = BuildingRaster.of(buildings) if len(buildings) else None
    rows_parts: list[npt.NDArray[np.int32]] = []
    cols_parts: list[npt.NDArray[np.int32]] = []
    gain_parts: list[npt.NDArray[np.float32]] = []
    delay_parts: list[npt.NDArray[np.float32]] = []
    blocked_total = 0
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        if tree is not None:
            near = cKDTree(np.column_stack([sources.x[lo:hi], sources.y[lo:hi]]))
            pairs = near.sparse_distance_matrix(tree, radius_m, output_type="ndarray")
            rows = pairs["i"].astype(np.int64) + lo
            cols = pairs["j"].astype(np.int64)
            d = pairs["v"]
            hs = sources.height_m[rows]
            z = None
            if raster is not None and len(rows):
                z = raster.roof_detours(sources, receivers, rows, cols, d, model)
                blocked_total += int(np.isfinite(z).sum())
            att = attenuation_db(d, hs, model, z)
            att += _beam(sources, receivers, rows, cols)
            keep = att <= MAX_ATTENUATION_DB
            r = np.sqrt(d * d + (hs - model.receiver_height_m) ** 2)
            rows_parts.append(rows[keep].astype(np.int32))
            cols_parts.append(cols[keep].astype(np.int32))
            gain_parts.append(np.power(10.0, att[keep] / -10.0).astype(np.float32))
            delay_parts.append((r[keep] / SPEED_OF_SOUND_M_S).astype(np.float32))
        if progress is not None:
            progress(hi, n)
    rows_all = np.concatenate(rows_parts) if rows_parts else np.zeros(0, np.int32)
    cols_all = np.concatenate(cols_parts) if cols_parts else np.zeros(0, np.int32)
    gains = np.concatenate(gain_parts) if gain_parts else np.zeros(0, np.float32)
    delays = np.concatenate(delay_parts) if delay_parts else np.zeros(0, np.float32)
    # Chunks come in row order and sparse_distance_matrix keeps each row's pairs together
    # only per chunk, so a stable sort by row (radix on int32) makes the CSR layout.
    order = np.argsort(rows_all, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows_all, minlength=n), out=indptr[1:])
    gain = csr_matrix((gains[order], cols_all[order], indptr), shape=(n, m))
    return AttenuationMatrix(gain, delays[order], radius_m, blocked_total)


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


# Footprints are rasterised at 2 m and paths sampled every 2 m: a wall thinner than 2 m (a
# garden wall, not a house) can slip between samples; a house cannot.
CELL_M = 2.0
SAMPLE_M = 2.0


@dataclass(frozen=True, slots=True)
class BuildingRaster:
    """Footprints as a boolean grid plus its summed-area table, for line-of-sight tests."""

    x0: float
    y0: float
    inside: npt.NDArray[np.bool_]  # (rows = y, cols = x)
    summed: npt.NDArray[np.int32]  # (rows + 1, cols + 1) cumulative counts

    @classmethod
    def of(cls, buildings: Sequence[shapely.Geometry]) -> BuildingRaster:
        bounds = shapely.bounds(np.asarray(list(buildings), dtype=object))
        x0, y0 = float(bounds[:, 0].min()) - CELL_M, float(bounds[:, 1].min()) - CELL_M
        nx = int(np.ceil((bounds[:, 2].max() - x0) / CELL_M)) + 2
        ny = int(np.ceil((bounds[:, 3].max() - y0) / CELL_M)) + 2
        inside = np.zeros((ny, nx), dtype=bool)
        for geom, (bx0, by0, bx1, by1) in zip(buildings, bounds, strict=True):
            i0, i1 = int((bx0 - x0) // CELL_M), int((bx1 - x0) // CELL_M) + 1
            j0, j1 = int((by0 - y0) // CELL_M), int((by1 - y0) // CELL_M) + 1
            cx = x0 + (np.arange(i0, i1) + 0.5) * CELL_M
            cy = y0 + (np.arange(j0, j1) + 0.5) * CELL_M
            gx, gy = np.meshgrid(cx, cy)
            inside[j0:j1, i0:i1] |= shapely.contains_xy(geom, gx, gy)
        summed = np.zeros((ny + 1, nx + 1), dtype=np.int32)
        summed[1:, 1:] = inside.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
        return cls(x0, y0, inside, summed)

    def _cells(
        self, x: FloatArray, y: FloatArray
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        ny, nx = self.inside.shape
        i = np.clip(((x - self.x0) / CELL_M).astype(np.intp), 0, nx - 1)
        j = np.clip(((y - self.y0) / CELL_M).astype(np.intp), 0, ny - 1)
        return i, j

    def _march(
        self,
        grid: tuple[npt.NDArray[np.float32], ...],
        pairs: npt.NDArray[np.intp],
        fractions: FloatArray,
    ) -> FloatArray:
        """Per pair (NaN elsewhere): the first of ``fractions`` along the path that falls
        inside a building; pairs leave the march as soon as they hit. ``grid`` holds each
        path's start and step in raster cells (float32: half the memory traffic)."""
        ny, nx = self.inside.shape
        cells = self.inside.ravel()
        out = np.full(len(grid[0]), np.nan)
        idx = pairs
        ux, uy, vx, vy = (g[pairs] for g in grid)
        for f in fractions:
            if idx.size == 0:
                break
            f32 = np.float32(f)
            i = np.clip(ux + vx * f32, 0, nx - 1).astype(np.intp)
            j = np.clip(uy + vy * f32, 0, ny - 1).astype(np.intp)
            hit = cells[j * nx + i]
            if hit.any():
                out[idx[hit]] = f
                keep = ~hit
                idx, ux, uy, vx, vy = idx[keep], ux[keep], uy[keep], vx[keep], vy[keep]
        return out

    def roof_detours(
        self,
        sources: Sources,
        receivers: Receivers,
        rows: npt.NDArray[np.int64],
        cols: npt.NDArray[np.int64],
        d: FloatArray,
        model: Propagation,
    ) -> FloatArray:
        """Per pair: the roof detour ``z`` over the buildings its straight path crosses, taken
        as one block from the first to the last building sample (NaN: free line of sight)."""
        sx, sy = sources.x[rows], sources.y[rows]
        rx, ry = receivers.x[cols], receivers.y[cols]
        # Summed-area test on each path's bounding box: a path along a street has no building
        # cell in its box and needs no sampling.
        i0, j0 = self._cells(np.minimum(sx, rx), np.minimum(sy, ry))
        i1, j1 = self._cells(np.maximum(sx, rx), np.maximum(sy, ry))
        t = self.summed
        count = t[j1 + 1, i1 + 1] - t[j0, i1 + 1] - t[j1 + 1, i0] + t[j0, i0]
        z = np.full(len(rows), np.nan)
        candidates = np.flatnonzero(count > 0)
        if candidates.size == 0:
            return z
        steps = max(2, int(np.ceil(float(d.max(initial=0.0)) / SAMPLE_M)) + 1)
        frac = np.linspace(0.0, 1.0, steps)
        # March from the source until the first building sample, then from the receiver back
        # to the last one: a path into a block stops after a few samples, not after all.
        grid = (
            ((sx - self.x0) / CELL_M).astype(np.float32),
            ((sy - self.y0) / CELL_M).astype(np.float32),
            ((rx - sx) / CELL_M).astype(np.float32),
            ((ry - sy) / CELL_M).astype(np.float32),
        )
        first = self._march(grid, candidates, frac)
        blocked = candidates[np.isfinite(first[candidates])]
        if blocked.size == 0:
            return z
        last = self._march(grid, blocked, frac[::-1])
        dist = d[blocked]
        lo, hi = first[blocked], last[blocked]
        z[blocked] = roof_detour_m(
            lo * dist,
            (1.0 - hi) * dist,
            (hi - lo) * dist,
            sources.height_m[rows[blocked]],
            model.receiver_height_m,
            model.building_height_m,
        )
        return z
