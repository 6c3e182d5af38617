"""An inventory read whole: ids for id-less rows, repeated coordinates, points far from the rest,
and rows whose axes look swapped.

A row-by-row reader cannot see any of these: each needs the other rows. ``survey`` runs once on
everything a file gave (and on the lanterns already stored), before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from lightctl.geo.crs import MetricProjection, from_wgs84, is_wgs84
from lightctl.geo.records import LanternRecord, SkippedRow, position_problems

FloatArray = npt.NDArray[np.float64]

_GEOD = Geod(ellps="WGS84")

# A lantern whose nearest neighbour is a kilometre away stands outside any street lighting we
# know (lanterns stand 20-50 m apart, a village's last one is rarely 500 m from the next): in a
# city file such a point is nearly always a typo or a misplaced export row.
MIN_OUTLIER_DISTANCE_M = 1000.0
# ...and in a sparse inventory (rural roads, lamps 200 m apart) the bar rises with the spread of
# nearest-neighbour distances: median + 10 robust standard deviations (1.4826 x MAD).
_MAD_FACTOR = 10.0
_MAD_TO_SIGMA = 1.4826
# Positions equal to 7 decimals of a degree (~1 cm) are one coordinate: the precision of the
# published inventories met so far (Zürich's GeoJSON is rounded to exactly that).
_SAME_POSITION_DECIMALS = 7


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Rows that share one coordinate (several luminaires on one pole, or a copy-paste)."""

    lon: float
    lat: float
    ids: tuple[str, ...]
    rows: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Outlier:
    """A lantern far from every other one (in the file and in the stored inventory)."""

    id: str
    row: int
    lon: float
    lat: float
    nearest_m: float


@dataclass(frozen=True, slots=True)
class Survey:
    """The records with their final ids, and what the file says about itself."""

    records: list[LanternRecord]
    duplicates: list[DuplicateGroup]
    outliers: list[Outlier]
    refused: list[SkippedRow]
    outlier_distance_m: float | None


def survey(
    records: Sequence[LanternRecord],
    refused: Sequence[SkippedRow],
    crs: str,
    reference_lons: Sequence[float] = (),
    reference_lats: Sequence[float] = (),
    min_outlier_m: float = MIN_OUTLIER_DISTANCE_M,
) -> Survey:
    """Final ids, duplicate groups, outliers and swapped-looking rows of one file.

    ``refused``: the rows the reader found impossible in ``crs`` (``refuses_file``); they come
    back, with a clearer reason when swapping their axes would put them among the others, plus
    every in-range row whose axes look swapped. ``reference_*``: stored lanterns not in the file.
    """
    with_ids = assign_position_ids(records)
    duplicates = duplicate_groups(with_ids)
    outliers, threshold, near = _outliers(with_ids, reference_lons, reference_lats, min_outlier_m)
    swapped, refused_out = _swapped(with_ids, outliers, refused, crs, near, threshold)
    if swapped:
        gone = {o.row for o in swapped}
        outliers = [o for o in outliers if o.row not in gone]
    return Survey(with_ids, duplicates, outliers, refused_out, threshold)


def _stable_key(record: LanternRecord) -> tuple[float, float, float, str]:
    facing = -1.0 if record.orientation_deg is None else record.orientation_deg
    props = json.dumps(record.properties, sort_keys=True, default=str, ensure_ascii=False)
    return (record.lon, record.lat, facing, props)


def assign_position_ids(records: Sequence[LanternRecord]) -> list[LanternRecord]:
    """Position ids made unique: the rows in one geohash cell, ordered by their coordinates and
    then their other columns, are ``pos-…``, ``pos-…-2``, ``pos-…-3``: the same in any row order.
    """
    cells: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        if record.id_from_position:
            cells.setdefault(record.id, []).append(i)
    out = list(records)
    for key, members in cells.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: _stable_key(records[i]))
        for n, i in enumerate(members[1:], start=2):
            out[i] = replace(records[i], id=f"{key}-{n}")
    return out


def _position_codes(lons: FloatArray, lats: FloatArray) -> npt.NDArray[np.int64]:
    scale = 10.0**_SAME_POSITION_DECIMALS
    lon_i = np.round(lons * scale).astype(np.int64)
    lat_i = np.round(lats * scale).astype(np.int64)
    # lon and lat in 1e-7 degrees need 32 bits each: one int64 per position.
    return (lon_i + 1_800_000_000) * 4_000_000_000 + (lat_i + 900_000_000)


def duplicate_groups(records: Sequence[LanternRecord]) -> list[DuplicateGroup]:
    """Groups of two or more records at one coordinate, in the order their first row comes."""
    if not records:
        return []
    codes = _position_codes(
        np.array([r.lon for r in records], dtype=np.float64),
        np.array([r.lat for r in records], dtype=np.float64),
    )
    groups: dict[int, list[LanternRecord]] = {}
    for code, record in zip(codes.tolist(), records, strict=True):
        groups.setdefault(code, []).append(record)
    found = [
        DuplicateGroup(
            members[0].lon,
            members[0].lat,
            tuple(m.id for m in members),
            tuple(m.row for m in members),
        )
        for members in groups.values()
        if len(members) > 1
    ]
    return sorted(found, key=lambda g: g.rows[0])


@dataclass(frozen=True, slots=True)
class _Neighbours:
    """The metric projection and a tree over the positions that are not outliers."""

    projection: MetricProjection
    tree: shapely.STRtree


def _outliers(
    records: Sequence[LanternRecord],
    reference_lons: Sequence[float],
    reference_lats: Sequence[float],
    min_outlier_m: float,
) -> tuple[list[Outlier], float | None, _Neighbours | None]:
    lons = np.array([r.lon for r in records], dtype=np.float64)
    lats = np.array([r.lat for r in records], dtype=np.float64)
    ref_lons = np.asarray(reference_lons, dtype=np.float64)
    ref_lats = np.asarray(reference_lats, dtype=np.float64)
    all_lons, all_lats = np.concatenate([lons, ref_lons]), np.concatenate([lats, ref_lats])
    codes = _position_codes(all_lons, all_lats)
    unique_codes, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    if len(unique_codes) < 2 or not len(records):
        return [], None, None
    try:
        projection = MetricProjection.around(float(np.median(all_lons)), float(np.median(all_lats)))
    except ValueError:  # a centre beyond the UTM bands (polar): no metric frame to measure in
        return [], None, None
    xs, ys = projection.to_xy(all_lons[first], all_lats[first])
    points = shapely.points(xs, ys)
    # Transverse Mercator has no finite image of a point ~90° from its meridian: such a point is
    # half a world away, measured to the centre on the ellipsoid instead.
    finite = np.isfinite(xs) & np.isfinite(ys)
    nearest = np.full(len(unique_codes), np.inf)
    if not finite.all():
        lost = np.flatnonzero(~finite)
        _f, _b, away = _GEOD.inv(
            np.full(len(lost), float(np.median(all_lons))),
            np.full(len(lost), float(np.median(all_lats))),
            all_lons[first][lost],
            all_lats[first][lost],
        )
        nearest[lost] = np.asarray(away, dtype=np.float64)
    usable = np.flatnonzero(finite)
    if len(usable) >= 2:
        tree = shapely.STRtree(points[usable])
        # exclusive: a point's own position is not its nearest neighbour (they are distinct).
        (src, _dst), dist = tree.query_nearest(
            points[usable], exclusive=True, return_distance=True, all_matches=False
        )
        nearest[usable[src]] = dist
    nearest[~np.isfinite(nearest)] = 0.0  # a lone finite point among lost ones: not measured
    # The spacing that is normal here: every position's, stored ones included (a one-row file
    # has no spacing of its own).
    median = float(np.median(nearest))
    mad = float(np.median(np.abs(nearest - median)))
    threshold = max(min_outlier_m, median + _MAD_FACTOR * _MAD_TO_SIGMA * mad)
    far_positions = set(np.flatnonzero(nearest > threshold).tolist())
    outliers = [
        Outlier(r.id, r.row, r.lon, r.lat, float(nearest[inverse[i]]))
        for i, r in enumerate(records)
        if int(inverse[i]) in far_positions
    ]
    kept = np.array(sorted(set(usable.tolist()) - far_positions), dtype=np.intp)
    near = _Neighbours(projection, shapely.STRtree(points[kept])) if len(kept) else None
    return outliers, threshold, near


def _swapped(
    records: Sequence[LanternRecord],
    outliers: list[Outlier],
    refused: Sequence[SkippedRow],
    crs: str,
    near: _Neighbours | None,
    threshold: float | None,
) -> tuple[list[Outlier], list[SkippedRow]]:
    """Outliers and refused rows that would stand among the others with x and y exchanged."""
    candidates: list[tuple[float, float]] = []
    for o in outliers:
        xs, ys = from_wgs84(crs, [o.lon], [o.lat])
        candidates.append((float(xs[0]), float(ys[0])))
    candidates.extend(r.xy for r in refused if r.xy is not None)
    if near is None or threshold is None or not candidates:
        return [], list(refused)
    checked = position_problems([c[1] for c in candidates], [c[0] for c in candidates], crs)
    usable = [i for i, (_lon, _lat, problem) in enumerate(checked) if problem is None]
    distance = np.full(len(candidates), np.inf)
    if usable:
        xs, ys = near.projection.to_xy(
            [checked[i][0] for i in usable], [checked[i][1] for i in usable]
        )
        ok = np.isfinite(xs) & np.isfinite(ys)
        if ok.any():
            spots = shapely.points(xs[ok], ys[ok])
            (src, _dst), dist = near.tree.query_nearest(
                spots, return_distance=True, all_matches=False
            )
            picked = np.asarray(usable, dtype=np.intp)[np.flatnonzero(ok)]
            distance[picked[src]] = dist
    axes = "lon/lat" if is_wgs84(crs) else "x/y"
    swapped_outliers: list[Outlier] = []
    out: list[SkippedRow] = []
    by_id = {r.id: r for r in records}
    for i, o in enumerate(outliers):
        if distance[i] <= threshold:
            swapped_outliers.append(o)
            x, y = candidates[i]
            out.append(
                SkippedRow(
                    o.row,
                    f"{axes} look swapped: ({_num(x)}, {_num(y)}) lies "
                    f"{o.nearest_m / 1000.0:.1f} km from the nearest other lantern, "
                    f"({_num(y)}, {_num(x)}) would be {distance[i]:.0f} m from one",
                    None if by_id[o.id].id_from_position else o.id,
                    True,
                    (x, y),
                )
            )
    offset = len(outliers)
    refused_with_xy = iter(range(offset, len(candidates)))
    for row in refused:
        if row.xy is None:
            out.append(row)
            continue
        i = next(refused_with_xy)
        if distance[i] <= threshold:
            x, y = row.xy
            row = replace(
                row,
                reason=f"{row.reason}; {axes} look swapped: ({_num(y)}, {_num(x)}) would be "
                f"{distance[i]:.0f} m from another lantern",
            )
        out.append(row)
    return swapped_outliers, sorted(out, key=lambda r: r.row)


def _num(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
