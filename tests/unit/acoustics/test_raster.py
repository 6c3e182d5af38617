"""The fast building raster and line-of-sight march give what the plain per-cell point test and
the plain sample-by-sample march give (the matrix must not change when it gets faster)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import shapely

from lightctl.acoustics.matrix import Sources, build_matrix
from lightctl.acoustics.raster import CELL_M, BuildingRaster
from lightctl.acoustics.receivers import place_receivers


def point_test_grid(raster: BuildingRaster, buildings: list[shapely.Geometry]) -> np.ndarray:
    """Every cell centre asked of GEOS: the reference the scanline fill must reproduce."""
    ny, nx = raster.inside.shape
    cx = raster.x0 + (np.arange(nx) + 0.5) * CELL_M
    cy = raster.y0 + (np.arange(ny) + 0.5) * CELL_M
    gx, gy = np.meshgrid(cx, cy)
    out = np.zeros((ny, nx), dtype=bool)
    for geom in buildings:
        out |= shapely.contains_xy(geom, gx, gy)
    return out


def odd_buildings() -> list[shapely.Geometry]:
    courtyard = shapely.Polygon(
        [(0, 0), (40, 0), (40, 30), (0, 30)], [[(10, 10), (30, 10), (30, 20), (10, 20)]]
    )
    rng = np.random.default_rng(7)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 11))
    radii = rng.uniform(8, 20, 11)
    star = shapely.Polygon(
        np.column_stack([70 + radii * np.cos(angles), 25 + radii * np.sin(angles)])
    )
    # Edges and vertices exactly on cell centres (odd metres from the grid's corner at -2 m).
    aligned = shapely.box(-1.0, 41.0, 9.0, 51.0)
    twin = shapely.MultiPolygon([shapely.box(20, 40, 26, 48), shapely.box(30.3, 40.7, 36.1, 47.9)])
    bowtie = shapely.Polygon([(50, 40), (60, 50), (60, 40), (50, 50)])  # invalid: GEOS decides
    overlapping = [shapely.box(80, 30, 90, 40), shapely.box(85, 35, 95, 45)]
    return [courtyard, star, aligned, twin, bowtie, *overlapping]


def test_the_scanline_fill_is_the_per_cell_point_test() -> None:
    buildings = odd_buildings()
    raster = BuildingRaster.of(buildings)
    expected = point_test_grid(raster, buildings)
    assert expected.sum() > 300  # the shapes do cover cells
    assert not expected[int((15 - raster.y0) // CELL_M), int((20 - raster.x0) // CELL_M)]
    np.testing.assert_array_equal(raster.inside, expected)


def test_clearance_is_the_chessboard_distance_to_the_nearest_building_cell() -> None:
    raster = BuildingRaster.of([shapely.box(0, 0, 10, 10), shapely.box(40, 0, 44, 4)])
    built = np.argwhere(raster.inside)
    ny, nx = raster.inside.shape
    jj, ii = np.mgrid[0:ny, 0:nx]
    nearest = np.min(
        np.maximum(np.abs(jj[..., None] - built[:, 0]), np.abs(ii[..., None] - built[:, 1])),
        axis=-1,
    )
    np.testing.assert_array_equal(raster.clearance, nearest)


def plain_march(
    raster: BuildingRaster, grid: tuple[np.ndarray, ...], fractions: np.ndarray, reverse: bool
) -> npt.NDArray[np.int64]:
    """Every sample in turn, in float32 like the matrix: the first one inside a building."""
    ny, nx = raster.inside.shape
    ux, uy, vx, vy = grid
    out = np.full(len(ux), -1, dtype=np.int64)
    order = range(len(fractions) - 1, -1, -1) if reverse else range(len(fractions))
    for k in order:
        f = np.float32(fractions[k])
        i = np.clip(ux + vx * f, 0, nx - 1).astype(np.intp)
        j = np.clip(uy + vy * f, 0, ny - 1).astype(np.intp)
        new = (out < 0) & raster.inside[j, i]
        out[new] = k
    return out


@pytest.mark.parametrize("reverse", [False, True])
def test_the_skipping_march_finds_the_sample_a_plain_march_finds(reverse: bool) -> None:
    rng = np.random.default_rng(19)
    houses = [
        shapely.box(x, y, x + w, y + h)
        for x, y, w, h in zip(
            rng.uniform(0, 400, 60),
            rng.uniform(0, 400, 60),
            rng.uniform(2, 40, 60),
            rng.uniform(2, 40, 60),
            strict=True,
        )
    ]
    raster = BuildingRaster.of(houses)
    n = 20_000
    sx, sy = rng.uniform(-20, 450, n), rng.uniform(-20, 450, n)
    length, heading = rng.uniform(0, 150, n), rng.uniform(0, 2 * np.pi, n)
    length[:50] = 0.0  # a receiver right under the speaker
    rx, ry = sx + length * np.cos(heading), sy + length * np.sin(heading)
    grid = (
        ((sx - raster.x0) / CELL_M).astype(np.float32),
        ((sy - raster.y0) / CELL_M).astype(np.float32),
        ((rx - sx) / CELL_M).astype(np.float32),
        ((ry - sy) / CELL_M).astype(np.float32),
    )
    fractions = np.linspace(0.0, 1.0, 76)
    expected = plain_march(raster, grid, fractions, reverse)
    assert 0.2 < (expected >= 0).mean() < 0.9  # both blocked and free paths are tried
    np.testing.assert_array_equal(raster.first_inside(grid, fractions, reverse), expected)


def test_a_building_block_between_two_streets_gets_the_barrier_on_every_crossing_path() -> None:
    # Two parallel streets 60 m apart with a block of houses between them.
    receivers = place_receivers([np.array([[0.0, 60.0], [200.0, 60.0]])], spacing_m=5.0)
    sources = Sources.omni(np.arange(0.0, 201.0, 30.0), np.zeros(7), 5.0)
    block = shapely.box(-50.0, 15.0, 250.0, 45.0)
    matrix = build_matrix(sources, receivers, [block])
    assert matrix.blocked_pairs == matrix.gain.nnz  # every path crosses the block
    open_air = build_matrix(sources, receivers)
    loss = 10 * np.log10(
        open_air.gain.toarray() / np.where(matrix.gain.toarray() > 0, matrix.gain.toarray(), np.nan)
    )
    assert np.nanmin(loss) > 10.0  # a three-storey block costs every path at least 10 dB
