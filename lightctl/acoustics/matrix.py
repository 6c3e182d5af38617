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

# 200 m: a 100 dB(A) speaker has fallen to 49 dB(A) there, below daytime ambient on every street
# class, so the sum loses less than 1 dB where it matters; 400 m would quadruple the matrix.
DEFAULT_RADIUS_M = 200.0
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
    footprints = np.asarray(list(buildings), dtype=object)
    btree = shapely.STRtree(footprints) if len(footprints) else None
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
            d = pairs["v"].astype(np.float64)
            hs = sources.height_m[rows]
            z = np.full(len(rows), np.nan)
            if btree is not None and len(rows):
                z, blocked = _roof_detours(
                    sources, receivers, rows, cols, d, btree, footprints, model
                )
                blocked_total += blocked
            att = attenuation_db(d, hs, model, z)
            att += _beam(sources, receivers, rows, cols)
            keep = att <= MAX_ATTENUATION_DB
            r = np.sqrt(d * d + (hs - model.receiver_height_m) ** 2)
            rows_parts.append(rows[keep].astype(np.int32))
            cols_parts.append(cols[keep].astype(np.int32))
            gain_parts.append((10.0 ** (-att[keep] / 10.0)).astype(np.float32))
            delay_parts.append((r[keep] / SPEED_OF_SOUND_M_S).astype(np.float32))
        if progress is not None:
            progress(hi, n)
    rows_all = np.concatenate(rows_parts) if rows_parts else np.zeros(0, np.int32)
    cols_all = np.concatenate(cols_parts) if cols_parts else np.zeros(0, np.int32)
    gains = np.concatenate(gain_parts) if gain_parts else np.zeros(0, np.float32)
    delays = np.concatenate(delay_parts) if delay_parts else np.zeros(0, np.float32)
    order = np.lexsort((cols_all, rows_all))  # canonical CSR: rows, then columns ascending
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows_all, minlength=n), out=indptr[1:])
    gain = csr_matrix((gains[order], cols_all[order], indptr), shape=(n, m))
    gain.has_canonical_format = True
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


def _roof_detours(
    sources: Sources,
    receivers: Receivers,
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    d: FloatArray,
    btree: shapely.STRtree,
    footprints: npt.NDArray[np.object_],
    model: Propagation,
) -> tuple[FloatArray, int]:
    """Per pair: the largest roof detour ``z`` of the buildings its straight path crosses (NaN
    where none does), and how many pairs are blocked."""
    sx, sy = sources.x[rows], sources.y[rows]
    rx, ry = receivers.x[cols], receivers.y[cols]
    lines = shapely.linestrings(np.stack([np.column_stack([sx, sy]), np.column_stack([rx, ry])], 1))
    line_i, poly_i = btree.query(lines, predicate="intersects")
    z = np.full(len(rows), np.nan)
    if len(line_i) == 0:
        return z, 0
    cut = shapely.intersection(lines[line_i], footprints[poly_i])
    to_source = shapely.distance(shapely.points(sx[line_i], sy[line_i]), cut)
    to_receiver = shapely.distance(shapely.points(rx[line_i], ry[line_i]), cut)
    through = d[line_i] - to_source - to_receiver
    detour = roof_detour_m(
        to_source,
        to_receiver,
        through,
        sources.height_m[rows[line_i]],
        model.receiver_height_m,
        model.building_height_m,
    )
    best = np.full(len(rows), -np.inf)
    np.maximum.at(best, line_i, detour)
    z = np.where(np.isfinite(best), best, np.nan)
    return z, int(np.isfinite(best).sum())
