"""What readers yield (lanterns, skipped rows, street segments) and the checks on lantern rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lightctl.geo.crs import area_of_use, from_wgs84, is_wgs84, to_wgs84
from lightctl.geo.geohash import geohashes
from lightctl.protocol.topics import is_valid_lantern_id

# Rows are transformed in batches: pyproj costs ~1 µs per point in an array but ~20 µs per call.
_BATCH = 2048

# In source units (metres in every projected CRS met so far): LV95 round-trips within 1.2 mm, while
# points outside a projection's domain come back thousands of kilometres away.
_ROUND_TRIP_TOLERANCE = 1.0
# A CRS's area of use is its official extent (LV95: Switzerland). 5° of slack because German states
# keep all of Germany in UTM 32 (6°-12°E) up to 15°E; a Swiss-grid typo landing in Siberia fails.
_AREA_MARGIN_DEG = 5.0


@dataclass(frozen=True, slots=True)
class LanternRecord:
    """One lantern read from a file, in WGS 84 lon/lat.

    ``id_from_position``: the file gave no id, so ``id`` is the position key (``pos-`` and a
    12-character geohash, ~2 cm); ``lightctl.geo.survey`` makes such ids unique. ``row`` counts
    data records from 1, like ``SkippedRow.row`` (0: not read from a file).
    """

    id: str
    lon: float
    lat: float
    orientation_deg: float | None = None
    properties: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    row: int = field(default=0, compare=False)
    id_from_position: bool = False


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row that was not imported and why; ``row`` counts data records from 1 (no header), ``id``
    is the row's id when it could be read."""

    row: int
    reason: str
    id: str | None = None
    # Coordinates that cannot be in the declared CRS refuse the whole file (a wrong --crs or
    # swapped columns, never a typo to skip quietly); ``xy`` keeps them as written, in file units.
    refuses_file: bool = False
    xy: tuple[float, float] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StreetSegment:
    """One street or path segment as a polyline of (lon, lat) pairs."""

    id: str
    name: str | None
    cls: str | None
    coords: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class RawLantern:
    """A parsed row before its coordinates are transformed and checked (source CRS units)."""

    row: int
    lantern_id: str | None  # None: the file has no ids, the position gives one
    x: float
    y: float
    orientation_deg: float | None
    properties: dict[str, Any]


class BadRow(ValueError):
    """Raised by the parsing helpers; the message becomes the skip reason."""


def parse_number(value: Any, what: str) -> float:
    """A coordinate from a cell or JSON value; NaN and inf pass here, ``check`` refuses them."""
    if isinstance(value, float):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadRow(f"missing {what}")
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # float() alone would also take "1_000"; digit grouping in a coordinate is a typo, not a number.
    if isinstance(value, str) and "_" not in value:
        try:
            return float(value)
        except ValueError:
            pass
    raise BadRow(f"{what} is not a number: {value!r}")


def parse_orientation(value: Any) -> float | None:
    """Facing in degrees 0..360, or None if absent or unreadable (the lantern still warns)."""
    try:
        deg = parse_number(value, "orientation")
    except BadRow:
        return None
    return deg % 360.0 if math.isfinite(deg) else None


def lantern_id_of(value: Any) -> str:
    """A lantern id from a cell or JSON value; refused if missing or unfit as a topic level."""
    if value is None:
        raise BadRow("missing id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRow(f"id must be a string or an integer, got {value!r}")
    text = str(value).strip()
    if not text:
        raise BadRow("missing id")
    if not is_valid_lantern_id(text):
        raise BadRow(
            f"id {text!r} cannot be an MQTT topic level (allowed: A-Z a-z 0-9 . _ : -, 1..64)"
        )
    return text


def check(
    rows: Iterable[RawLantern | SkippedRow], crs: str
) -> Iterator[LanternRecord | SkippedRow]:
    """Transform parsed rows to lon/lat and yield one record or skip per row, in file order."""
    seen: dict[str, int] = {}
    batch: list[RawLantern | SkippedRow] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= _BATCH:
            yield from _check_batch(batch, crs, seen)
            batch = []
    if batch:
        yield from _check_batch(batch, crs, seen)


def _check_batch(
    batch: list[RawLantern | SkippedRow], crs: str, seen: dict[str, int]
) -> Iterator[LanternRecord | SkippedRow]:
    raws = [item for item in batch if isinstance(item, RawLantern)]
    xs = np.array([r.x for r in raws], dtype=np.float64)
    ys = np.array([r.y for r in raws], dtype=np.float64)
    lons, lats = to_wgs84(crs, xs, ys)
    # Out of its domain a projection can answer with a plausible but wrong lon/lat (LV95 maps
    # (1e30, 1e30) to 7.44, 43.13); such points do not come back to where they started.
    back_xs, back_ys = from_wgs84(crs, lons, lats)
    with np.errstate(invalid="ignore"):
        drift = np.maximum(np.abs(back_xs - xs), np.abs(back_ys - ys))
    usable = _usable_area(crs)
    keys = _position_keys(raws, lons, lats)
    positions = zip(lons.tolist(), lats.tolist(), drift.tolist(), keys, strict=True)
    for item in batch:
        if isinstance(item, SkippedRow):
            yield item
            continue
        lon, lat, moved, key = next(positions)
        reason = _placeholder_problem(item)
        refuses = False
        if reason is None:
            reason = _crs_problem(item, lon, lat, crs, moved, usable)
            refuses = reason is not None
        if reason is None and item.lantern_id is not None and item.lantern_id in seen:
            reason = f"duplicate id {item.lantern_id!r} (first on row {seen[item.lantern_id]})"
        if reason is not None:
            xy = (item.x, item.y) if refuses else None
            yield SkippedRow(item.row, reason, item.lantern_id, refuses, xy)
            continue
        if item.lantern_id is None:
            yield LanternRecord(
                key, lon, lat, item.orientation_deg, item.properties, item.row, True
            )
            continue
        seen[item.lantern_id] = item.row
        yield LanternRecord(
            item.lantern_id, lon, lat, item.orientation_deg, item.properties, item.row
        )


POSITION_ID_PREFIX = "pos-"


def _position_keys(
    raws: list[RawLantern], lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64]
) -> list[str]:
    """``pos-<geohash>`` for rows without an id whose position is usable, "" for the rest."""
    keys = [""] * len(raws)
    wanted = [
        i
        for i, r in enumerate(raws)
        if r.lantern_id is None
        and math.isfinite(lons[i])
        and math.isfinite(lats[i])
        and -180.0 <= lons[i] <= 180.0
        and -90.0 <= lats[i] <= 90.0
    ]
    if wanted:
        for i, code in zip(wanted, geohashes(lons[wanted], lats[wanted]), strict=True):
            keys[i] = POSITION_ID_PREFIX + code
    return keys


def _usable_area(crs: str) -> tuple[float, float, float, float] | None:
    area = None if is_wgs84(crs) else area_of_use(crs)
    if area is None:
        return None
    west, south, east, north = area
    m = _AREA_MARGIN_DEG
    return (west - m, south - m, east + m, north + m)


def _inside(lon: float, lat: float, box: tuple[float, float, float, float]) -> bool:
    west, south, east, north = box
    lon_ok = west <= lon <= east if west <= east else (lon >= west or lon <= east)
    return lon_ok and south <= lat <= north


def _placeholder_problem(raw: RawLantern) -> str | None:
    """Coordinates that stand for "unknown": the row is skipped, the rest of the file is fine."""
    if not (math.isfinite(raw.x) and math.isfinite(raw.y)):
        return f"coordinates are not finite numbers: ({raw.x}, {raw.y})"
    # 0,0 is what broken exports write for "unknown"; no lantern stands at the origin of any CRS.
    if raw.x == 0.0 and raw.y == 0.0:
        return "coordinates are exactly (0, 0), a placeholder for a missing position"
    return None


def position_problems(
    xs: Sequence[float], ys: Sequence[float], crs: str
) -> list[tuple[float, float, str | None]]:
    """(lon, lat, why it cannot be a lantern position or None) for coordinates in ``crs``."""
    x_arr = np.asarray(xs, dtype=np.float64)
    y_arr = np.asarray(ys, dtype=np.float64)
    lons, lats = to_wgs84(crs, x_arr, y_arr)
    back_xs, back_ys = from_wgs84(crs, lons, lats)
    with np.errstate(invalid="ignore"):
        drift = np.maximum(np.abs(back_xs - x_arr), np.abs(back_ys - y_arr))
    usable = _usable_area(crs)
    out: list[tuple[float, float, str | None]] = []
    for x, y, lon, lat, moved in zip(
        x_arr.tolist(), y_arr.tolist(), lons.tolist(), lats.tolist(), drift.tolist(), strict=True
    ):
        raw = RawLantern(0, None, x, y, None, {})
        reason = _placeholder_problem(raw) or _crs_problem(raw, lon, lat, crs, moved, usable)
        out.append((lon, lat, reason))
    return out


def _crs_problem(
    raw: RawLantern,
    lon: float,
    lat: float,
    crs: str,
    moved: float,
    usable: tuple[float, float, float, float] | None,
) -> str | None:
    """Why numbers cannot be a position in ``crs`` (a wrong CRS or swapped axes), or None."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return f"coordinates ({raw.x}, {raw.y}) cannot be transformed from {crs} to lon/lat"
    if not -180.0 <= lon <= 180.0:
        return f"lon {lon:.7f} outside -180..180 (from ({raw.x}, {raw.y}) in {crs})"
    if not -90.0 <= lat <= 90.0:
        return f"lat {lat:.7f} outside -90..90 (from ({raw.x}, {raw.y}) in {crs})"
    if not moved <= _ROUND_TRIP_TOLERANCE:
        return f"coordinates ({raw.x}, {raw.y}) lie outside the domain of {crs}"
    if usable is not None and not _inside(lon, lat, usable):
        return (
            f"position {lon:.5f}, {lat:.5f} is far outside the area of use of {crs} "
            f"(lon {usable[0]:.2f}..{usable[2]:.2f}, lat {usable[1]:.2f}..{usable[3]:.2f})"
        )
    return None
