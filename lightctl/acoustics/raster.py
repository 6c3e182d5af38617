"""Building footprints on a 2 m grid, and the line-of-sight test of many paths across it.

A path is sampled at fixed fractions of its length; it is blocked where a sample falls in a
building cell. Three things keep that cheap at 100,000 lanterns without changing which sample
is the first one inside a building:

- the footprints are filled row by row (scanline, even-odd rule) instead of one point-in-polygon
  test per cell; cells whose centre lies within a micrometre of an edge are asked of GEOS, so the
  grid is the one ``shapely.contains_xy`` gives;
- a summed-area table answers "is there any building cell in this path's bounding box" in four
  look-ups (a path along a street has none and is never sampled);
- every free cell knows its chessboard distance to the nearest building cell (its clearance), so
  a march skips the samples that cannot reach a building from where it stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# Footprints are rasterised at 2 m and paths sampled every 2 m: a wall thinner than 2 m (a
# garden wall, not a house) can slip between samples; a house cannot.
CELL_M = 2.0
SAMPLE_M = 2.0
# A cell centre this close to an edge (metres) is decided by GEOS, not by the scanline's
# floating-point crossing: coordinates of a city (1e4 m) carry rounding errors near 1e-12 m.
EDGE_TOLERANCE_M = 1e-6
# Clearance is stored in a byte; 255 cells (510 m) is more than any matrix radius needs.
MAX_CLEARANCE = 255
# A skip must stay short of the clearance by the float32 rounding of a sample position (about
# 1e-3 cells at 20,000 cells from the grid's corner); 0.01 cells is ten times that.
SKIP_MARGIN_CELLS = 0.01
# Paths left in a march when the rest are finished all at once: 2,048 x 76 samples is one
# 150,000-cell step instead of dozens of calls on a handful of paths.
_TAIL_PATHS = 2048


@dataclass(frozen=True, slots=True)
class BuildingRaster:
    """Footprints as a boolean grid, its summed-area table and each cell's clearance."""

    x0: float
    y0: float
    inside: npt.NDArray[np.bool_]  # (rows = y, cols = x)
    summed: npt.NDArray[np.int32]  # (rows + 1, cols + 1) cumulative counts
    clearance: npt.NDArray[np.uint8]  # chessboard cells to the nearest building cell (0: inside)

    @classmethod
    def of(cls, buildings: Sequence[shapely.Geometry]) -> BuildingRaster:
        geoms = np.asarray(list(buildings), dtype=object)
        bounds = shapely.bounds(geoms)
        x0, y0 = float(bounds[:, 0].min()) - CELL_M, float(bounds[:, 1].min()) - CELL_M
        nx = int(np.ceil((bounds[:, 2].max() - x0) / CELL_M)) + 2
        ny = int(np.ceil((bounds[:, 3].max() - y0) / CELL_M)) + 2
        inside = rasterise(geoms, x0, y0, nx, ny)
        summed = np.zeros((ny + 1, nx + 1), dtype=np.int32)
        np.cumsum(inside, axis=1, dtype=np.int32, out=summed[1:, 1:])
        np.cumsum(summed[1:, 1:], axis=0, out=summed[1:, 1:])
        if inside.any():
            distance = ndimage.distance_transform_cdt(~inside, metric="chessboard")
            clearance = np.minimum(distance, MAX_CLEARANCE).astype(np.uint8)
        else:
            clearance = np.full(inside.shape, MAX_CLEARANCE, dtype=np.uint8)
        return cls(x0, y0, inside, summed, clearance)

    def cells(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, IntArray]:
        ny, nx = self.inside.shape
        i = np.clip(((x - self.x0) / CELL_M).astype(np.intp), 0, nx - 1)
        j = np.clip(((y - self.y0) / CELL_M).astype(np.intp), 0, ny - 1)
        return i, j

    def any_inside(
        self, i0: IntArray, j0: IntArray, i1: IntArray, j1: IntArray
    ) -> npt.NDArray[np.bool_]:
        """Per cell box ``[i0, i1] x [j0, j1]``: whether it holds a building cell (summed-area
        table, four look-ups)."""
        t = self.summed.ravel()
        w = self.summed.shape[1]
        top, bottom = (j1 + 1) * w, j0 * w
        count = (
            t.take(top + i1 + 1) - t.take(bottom + i1 + 1) - t.take(top + i0) + t.take(bottom + i0)
        )
        return np.asarray(count > 0)

    def first_inside(
        self, grid: tuple[npt.NDArray[np.float32], ...], fractions: FloatArray, reverse: bool
    ) -> npt.NDArray[np.int64]:
        """Per path: the index into ``fractions`` of its first sample inside a building, counted
        from the start (from the end when ``reverse``); -1 when none is. ``grid`` holds each
        path's start and step in raster cells (float32: half the memory traffic).

        A sample at clearance ``D`` (D >= 2) is followed by samples that stay within ``D - 1``
        cells of it for ``(D - 1) * (steps - 1) / max(|vx|, |vy|)`` steps: those are free and
        skipped. The samples evaluated are computed exactly as a plain march would, so the
        answer is the same sample."""
        ny, nx = self.inside.shape
        clear = self.clearance.ravel()
        f32 = fractions.astype(np.float32)
        steps = len(fractions)
        ux, uy, vx, vy = grid
        n = len(ux)
        out = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return out
        # Samples per cell of travel along the faster axis (a zero-length path: one sample).
        reach = np.maximum(np.abs(vx), np.abs(vy))
        per_cell = np.float32(steps - 1) / np.maximum(reach, np.float32(1e-6))
        per_cell = np.minimum(per_cell, np.float32(steps))
        # One float32 block (ux, uy, vx, vy, per_cell, k) is compacted in one call per step.
        state = np.empty((6, n), dtype=np.float32)
        state[0], state[1], state[2], state[3], state[4] = ux, uy, vx, vy, per_cell
        state[5] = steps - 1 if reverse else 0
        idx = np.arange(n, dtype=np.int64)
        direction = np.float32(-1.0 if reverse else 1.0)
        margin = np.float32(1.0 + SKIP_MARGIN_CELLS)
        flat = np.int32 if ny * nx < 2**31 else np.int64  # cell numbers fit 32 bits below 86 km
        width = flat(nx)
        live = np.ones(n, dtype=bool)
        while True:
            k = state[5].astype(np.int32)
            f = f32.take(k, mode="clip")  # finished paths ride along until the next compaction
            i = np.clip(state[0] + state[2] * f, 0, nx - 1).astype(flat)
            j = np.clip(state[1] + state[3] * f, 0, ny - 1).astype(flat)
            d = clear.take(j * width + i)
            hit = (d == 0) & live
            if hit.any():
                out[idx[hit]] = k[hit]
            # Free samples ahead: floor(room * per_cell), room = clearance - 1 - margin >= 0.
            room = np.maximum(d.astype(np.float32) - margin, np.float32(0.0))
            step = np.floor(room * state[4]) + np.float32(1.0)
            state[5] += direction * step
            k_next = state[5]
            live &= ~hit & ((k_next >= 0) if reverse else (k_next < steps))
            count = int(np.count_nonzero(live))
            if count == 0:
                return out
            if count * 4 < len(live) * 3:  # compact when a quarter has finished
                state = np.compress(live, state, axis=1)
                idx = np.compress(live, idx)
                live = np.ones(count, dtype=bool)
            if count <= _TAIL_PATHS:
                # The last few paths: every remaining sample at once, not one step per call.
                rest = np.compress(live, state, axis=1)
                out[idx[live]] = self._rest_at_once(rest, f32, reverse, flat, clear)
                return out

    def _rest_at_once(
        self,
        state: npt.NDArray[np.float32],
        f32: npt.NDArray[np.float32],
        reverse: bool,
        flat: type[np.integer[Any]],
        clear: npt.NDArray[np.uint8],
    ) -> npt.NDArray[np.int64]:
        """Per path in ``state``: its first sample inside a building from its current index on
        (downwards when ``reverse``), each sample computed as the march computes it; -1: none."""
        ny, nx = self.inside.shape
        steps = len(f32)
        k = state[5].astype(np.int64)[:, None]
        f = f32[None, :]
        i = np.clip(state[0][:, None] + state[2][:, None] * f, 0, nx - 1).astype(flat)
        j = np.clip(state[1][:, None] + state[3][:, None] * f, 0, ny - 1).astype(flat)
        inside = clear.take(j * flat(nx) + i) == 0
        ahead = np.arange(steps)[None, :]
        inside &= (ahead <= k) if reverse else (ahead >= k)
        if reverse:
            found = steps - 1 - np.argmax(inside[:, ::-1], axis=1)
        else:
            found = np.argmax(inside, axis=1)
        return np.where(inside.any(axis=1), found, -1).astype(np.int64)


def rasterise(
    geoms: npt.NDArray[np.object_], x0: float, y0: float, nx: int, ny: int
) -> npt.NDArray[np.bool_]:
    """Cells (``ny`` x ``nx`` of ``CELL_M`` from ``(x0, y0)``) whose centre lies inside a polygon:
    per polygon part and cell row, the edge crossings sorted along the row bound the spans that
    are inside (even-odd rule, which also cuts out courtyards)."""
    inside = np.zeros((ny, nx), dtype=bool)
    valid = shapely.is_valid(geoms) & np.isin(
        shapely.get_type_id(geoms),
        [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON],
    )
    for geom in geoms[~valid]:  # GEOS decides what an invalid or odd shape covers
        _fill_by_geos(inside, geom, x0, y0)
    parts = shapely.get_parts(geoms[valid])
    if len(parts) == 0:
        return inside
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]  # consecutive vertices of one ring form an edge
    xa, ya = coords[:-1, 0][same], coords[:-1, 1][same]
    xb, yb = coords[1:, 0][same], coords[1:, 1][same]
    part = part_of_ring[ring_of[:-1][same]]
    # Rows whose centre line ``cy`` an edge crosses (half-open: ya > cy differs from yb > cy).
    lo = np.floor((np.minimum(ya, yb) - y0) / CELL_M - 0.5).astype(np.int64) - 1
    hi = np.ceil((np.maximum(ya, yb) - y0) / CELL_M - 0.5).astype(np.int64) + 1
    lo, hi = np.clip(lo, 0, ny - 1), np.clip(hi, 0, ny - 1)
    counts = hi - lo + 1
    edge = np.repeat(np.arange(len(xa)), counts)
    row = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    cy = y0 + (row + 0.5) * CELL_M
    crosses = (ya[edge] > cy) != (yb[edge] > cy)
    edge, row, cy = edge[crosses], row[crosses], cy[crosses]
    x_cross = xa[edge] + (cy - ya[edge]) * (xb[edge] - xa[edge]) / (yb[edge] - ya[edge])
    # Group by (part, row), crossings sorted along the row: pairs (1st, 2nd), (3rd, 4th), ...
    order = np.argsort(x_cross, kind="stable")
    key = part[edge[order]].astype(np.int64) * ny + row[order]
    order = order[np.argsort(key, kind="stable")]
    x_cross, row = x_cross[order], row[order]
    start, end, span_row = x_cross[0::2], x_cross[1::2], row[0::2]
    # Cells with start <= cx < end; cx = x0 + (i + 0.5) * CELL_M as the point test computes it.
    i_start = _first_centre_at_or_after(start, x0, nx)
    i_end = _first_centre_at_or_after(end, x0, nx)
    filled = i_end > i_start
    span_row, i_start, i_end = span_row[filled], i_start[filled], i_end[filled]
    lengths = i_end - i_start
    flat = np.repeat(span_row * nx + i_start - np.cumsum(lengths) + lengths, lengths) + np.arange(
        int(lengths.sum())
    )
    inside.ravel()[flat] = True
    _settle_near_edges(inside, geoms, x_cross, row, coords, x0, y0)
    return inside


def _first_centre_at_or_after(x: FloatArray, x0: float, nx: int) -> npt.NDArray[np.int64]:
    """Smallest column ``i`` (0..nx) whose centre ``x0 + (i + 0.5) * CELL_M`` is >= ``x``."""
    i = np.clip(np.ceil((x - x0) / CELL_M - 0.5).astype(np.int64), 0, nx)
    below = (x0 + (i + 0.5) * CELL_M < x) & (i < nx)
    i[below] += 1
    above = (i > 0) & (x0 + (i - 0.5) * CELL_M >= x)
    i[above] -= 1
    return i


def _settle_near_edges(
    inside: npt.NDArray[np.bool_],
    geoms: npt.NDArray[np.object_],
    x_cross: FloatArray,
    row: npt.NDArray[np.int64],
    coords: FloatArray,
    x0: float,
    y0: float,
) -> None:
    """Ask GEOS about every cell centre within ``EDGE_TOLERANCE_M`` of a crossing, and about
    whole rows that pass within it of a vertex (where the half-open rule and GEOS's "the
    boundary is outside" can disagree)."""
    ny, nx = inside.shape
    i_near = np.rint((x_cross - x0) / CELL_M - 0.5).astype(np.int64)
    cx = x0 + (i_near + 0.5) * CELL_M
    close = (np.abs(cx - x_cross) < EDGE_TOLERANCE_M) & (i_near >= 0) & (i_near < nx)
    j_near = np.rint((coords[:, 1] - y0) / CELL_M - 0.5).astype(np.int64)
    cy = y0 + (j_near + 0.5) * CELL_M
    at_vertex = (np.abs(cy - coords[:, 1]) < EDGE_TOLERANCE_M) & (j_near >= 0) & (j_near < ny)
    rows = set(j_near[at_vertex].tolist())
    cells = {(j, i) for j, i in zip(row[close].tolist(), i_near[close].tolist(), strict=True)}
    cells = {c for c in cells if c[0] not in rows}
    if not cells and not rows:
        return
    tree = shapely.STRtree(geoms)
    xs = x0 + (np.arange(nx) + 0.5) * CELL_M
    for j in sorted(rows):
        y = y0 + (j + 0.5) * CELL_M
        band = shapely.box(x0, y - EDGE_TOLERANCE_M, x0 + nx * CELL_M, y + EDGE_TOLERANCE_M)
        covered = np.zeros(nx, dtype=bool)
        for g in geoms[tree.query(band)]:
            covered |= shapely.contains_xy(g, xs, np.full(nx, y))
        inside[j] = covered
    for j, i in sorted(cells):
        x, y = float(xs[i]), y0 + (j + 0.5) * CELL_M
        near = geoms[tree.query(shapely.Point(x, y))]
        inside[j, i] = any(bool(shapely.contains_xy(g, x, y)) for g in near)


def _fill_by_geos(
    inside: npt.NDArray[np.bool_], geom: shapely.Geometry, x0: float, y0: float
) -> None:
    """The plain per-cell point test over the shape's bounding box."""
    ny, nx = inside.shape
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    if not np.isfinite(bx0):
        return
    i0, i1 = int((bx0 - x0) // CELL_M), int((bx1 - x0) // CELL_M) + 1
    j0, j1 = int((by0 - y0) // CELL_M), int((by1 - y0) // CELL_M) + 1
    i0, j0 = max(i0, 0), max(j0, 0)
    i1, j1 = min(i1, nx), min(j1, ny)
    cx = x0 + (np.arange(i0, i1) + 0.5) * CELL_M
    cy = y0 + (np.arange(j0, j1) + 0.5) * CELL_M
    gx, gy = np.meshgrid(cx, cy)
    inside[j0:j1, i0:i1] |= shapely.contains_xy(geom, gx, gy)
