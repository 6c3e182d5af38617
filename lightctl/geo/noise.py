"""Noise maps for the coverage model: the ambient level a warning must rise above, where a city
has mapped it, instead of the street-class default.

Read a GeoJSON FeatureCollection of (Multi)Polygons in any CRS, as EU Environmental Noise
Directive (END) strategic noise maps are published (polygons of 5 dB bands, often exported
from a shapefile) or as a city's own map with one level per polygon. Each feature gives its
level in one of three shapes (property names are matched without regard to case):

- a level: ``lden`` and/or ``lnight`` (dB(A));
- a band: ``db_low`` and ``db_high`` (also ``lower``/``upper``), with ``indicator`` (or
  ``noise_indicator``) ``Lden`` or ``Lnight`` (Lden when missing);
- an END band name in ``category`` (also ``noiseclass``, ``band``): ``Lden5559``, ``Lden 55-59``,
  ``LnightGreaterThan70``, ``Lnight >70``.

A band stands for its top edge (``Lden5559`` is 60 dB(A); ``LdenGreaterThan75`` is 80, one band
above its floor): a coverage figure must not be optimistic, and a band's top is at most one band
width from the truth. Lden is used by day (its evening and night penalties make it the louder of
the day figures), Lnight by night; an indicator a polygon does not give keeps the default there.
Bad files are refused naming the feature and the field; nothing is stored then.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from lightctl.errors import ImportFailed
from lightctl.geo.buildings import polygon_to_lonlat, read_feature_collection

NOISE_FILE = "noise.geojson"
MAX_POLYGONS = 500_000
# Outdoor ambient levels a planner can meet: 20 dB(A) is a still night in the country, 100 is
# beside a motorway's hard shoulder; outside that a value is a unit or column mix-up.
MIN_AMBIENT_DB, MAX_AMBIENT_DB = 20.0, 100.0
# END maps are banded in 5 dB steps; an open top band ("75 and more") reads as one band higher.
BAND_WIDTH_DB = 5.0
INDICATORS = ("lden", "lnight")
_BAND_NAME = re.compile(
    r"^\s*(?P<ind>lden|lnight)?\s*[_ ]?"
    r"(?:(?P<lo>\d{2,3})\s*[-–_]?\s*(?P<hi>\d{2,3})"
    r"|(?:greaterthan|gt|>=?|≥|over)\s*(?P<open>\d{2,3}))\s*(?:db)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class NoiseMap:
    """Polygons in lon/lat with their Lden and Lnight (NaN: not given), and the stored version."""

    ids: list[str]
    polygons: list[shapely.Geometry]
    lden: list[float]
    lnight: list[float]
    version: str = ""
    repaired: int = 0

    def __len__(self) -> int:
        return len(self.ids)


def read_noise_map(path: Path, crs: str | None = None) -> NoiseMap:
    """Read, reproject and check every feature; ``ImportFailed`` names the first wrong one."""
    name = str(path)
    features, source_crs = read_feature_collection(path, crs, MAX_POLYGONS, "noise polygons")
    out = NoiseMap([], [], [], [])
    repaired = 0
    for n, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise ImportFailed(
                name, f"feature #{n}: not a GeoJSON Feature", [_row(n, f"#{n}", "feature")]
            )
        props = feature.get("properties") or {}
        fid = str(feature.get("id") or _get(props, "id", "gml_id", "objectid") or f"#{n}")
        lden, lnight = _levels(props, name, fid, n)
        geom = _polygon(feature, name, fid, n)
        geom = polygon_to_lonlat(geom, source_crs, name, fid, n)
        if not geom.is_valid:
            fixed = shapely.make_valid(geom)
            if fixed.geom_type == "GeometryCollection":
                parts = [g for g in fixed.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
                fixed = shapely.union_all(parts) if parts else shapely.Polygon()
            if fixed.geom_type not in ("Polygon", "MultiPolygon") or fixed.area <= 0:
                reason = shapely.is_valid_reason(geom)
                raise ImportFailed(
                    name,
                    f"feature {fid}: invalid polygon that cannot be repaired ({reason})",
                    [_row(n, fid, reason)],
                )
            geom = fixed
            repaired += 1
        out.ids.append(fid)
        out.polygons.append(geom)
        out.lden.append(lden)
        out.lnight.append(lnight)
    return NoiseMap(out.ids, out.polygons, out.lden, out.lnight, "", repaired)


def _row(n: int, fid: str, reason: str) -> dict[str, Any]:
    return {"row": n, "id": fid, "reason": reason}


def _get(props: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` the properties carry, matched without regard to case."""
    lowered = {str(k).lower(): v for k, v in props.items()}
    for key in names:
        value = lowered.get(key)
        if value is not None and value != "":
            return value
    return None


def _number(value: Any, name: str, fid: str, n: int, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ImportFailed(
            name, f"feature {fid}: {field} is not a number ({value!r})", [_row(n, fid, field)]
        ) from exc
    return _checked(number, name, fid, n, field)


def _checked(level: float, name: str, fid: str, n: int, field: str) -> float:
    if not math.isfinite(level) or not MIN_AMBIENT_DB <= level <= MAX_AMBIENT_DB:
        raise ImportFailed(
            name,
            f"feature {fid}: {field} {level:g} dB(A) is outside "
            f"{MIN_AMBIENT_DB:g}-{MAX_AMBIENT_DB:g}",
            [_row(n, fid, field)],
        )
    return level


def _levels(props: dict[str, Any], name: str, fid: str, n: int) -> tuple[float, float]:
    """(Lden, Lnight) of one feature, NaN for the one it does not give."""
    levels = {"lden": math.nan, "lnight": math.nan}
    for ind in INDICATORS:
        value = _get(props, ind, f"{ind}_db")
        if value is not None:
            levels[ind] = _number(value, name, fid, n, ind)
    low, high = _get(props, "db_low", "lower", "dblow"), _get(props, "db_high", "upper", "dbhigh")
    if low is not None or high is not None:
        if low is None or high is None:
            missing = "db_low" if low is None else "db_high"
            raise ImportFailed(
                name,
                f"feature {fid}: a band needs both db_low and db_high ({missing} missing)",
                [_row(n, fid, missing)],
            )
        lo, hi = _number(low, name, fid, n, "db_low"), _number(high, name, fid, n, "db_high")
        if hi < lo:
            raise ImportFailed(
                name,
                f"feature {fid}: db_high {hi:g} is below db_low {lo:g}",
                [_row(n, fid, "db_high")],
            )
        ind = _indicator(_get(props, "indicator", "noise_indicator") or "lden", name, fid, n)
        # "55-59" in whole decibels means up to 60: the band's top edge.
        top = hi + 1.0 if float(hi).is_integer() and hi - lo < BAND_WIDTH_DB else hi
        levels[ind] = _checked(top, name, fid, n, "db_high")
    category = _get(props, "category", "noiseclass", "noise_class", "band")
    if category is not None:
        ind, level = _band(str(category), _get(props, "indicator", "noise_indicator"), name, fid, n)
        levels[ind] = level
    if all(math.isnan(v) for v in levels.values()):
        raise ImportFailed(
            name,
            f"feature {fid}: no noise level (expected lden / lnight, db_low and db_high, "
            "or an END band such as Lden5559 in category)",
            [_row(n, fid, "level")],
        )
    return levels["lden"], levels["lnight"]


def _indicator(text: Any, name: str, fid: str, n: int) -> str:
    key = str(text).strip().lower()
    if key not in INDICATORS:
        raise ImportFailed(
            name,
            f"feature {fid}: indicator must be Lden or Lnight, not {text!r}",
            [_row(n, fid, "indicator")],
        )
    return key


def _band(text: str, indicator: Any, name: str, fid: str, n: int) -> tuple[str, float]:
    """``Lden5559`` -> ("lden", 60.0); ``LnightGreaterThan70`` -> ("lnight", 75.0)."""
    match = _BAND_NAME.match(text)
    if match is None:
        raise ImportFailed(
            name,
            f"feature {fid}: category {text!r} is not a noise band such as Lden5559",
            [_row(n, fid, "category")],
        )
    ind = _indicator(match["ind"] or indicator or "lden", name, fid, n)
    if match["open"]:
        level = float(match["open"]) + BAND_WIDTH_DB
    else:
        lo, hi = float(match["lo"]), float(match["hi"])
        if hi < lo:
            raise ImportFailed(
                name, f"feature {fid}: category {text!r} runs downwards", [_row(n, fid, "category")]
            )
        level = hi + 1.0
    return ind, _checked(level, name, fid, n, "category")


def _polygon(feature: dict[str, Any], name: str, fid: str, n: int) -> shapely.Geometry:
    try:
        geom = shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise ImportFailed(
            name, f"feature {fid}: not a geometry ({exc})", [_row(n, fid, "geometry")]
        ) from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise ImportFailed(
            name,
            f"feature {fid}: a noise map area must be a (Multi)Polygon, not {geom.geom_type}",
            [_row(n, fid, "geometry type")],
        )
    return geom


def save_noise_map(data_dir: Path, noise: NoiseMap) -> NoiseMap:
    """Write the checked map (lon/lat) and return it with the stored file's version."""

    def level(value: float) -> float | None:
        return None if math.isnan(value) else value

    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": i,
                "properties": {"lden": level(d), "lnight": level(nt)},
                "geometry": mapping(p),
            }
            for i, p, d, nt in zip(noise.ids, noise.polygons, noise.lden, noise.lnight, strict=True)
        ],
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / NOISE_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    tmp.replace(target)
    return NoiseMap(
        noise.ids,
        noise.polygons,
        noise.lden,
        noise.lnight,
        stored_version(data_dir),
        noise.repaired,
    )


def stored_version(data_dir: Path) -> str:
    """Size and modification time of the stored map ("" when none)."""
    try:
        stat = (data_dir / NOISE_FILE).stat()
    except FileNotFoundError:
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def load_noise_map(data_dir: Path) -> NoiseMap:
    """The stored noise map, or an empty one."""
    target = data_dir / NOISE_FILE
    if not target.exists():
        return NoiseMap([], [], [], [])
    doc = json.loads(target.read_text(encoding="utf-8"))
    feats = doc["features"]

    def level(value: Any) -> float:
        return math.nan if value is None else float(value)

    return NoiseMap(
        [str(f.get("id")) for f in feats],
        [shape(f["geometry"]) for f in feats],
        [level(f["properties"].get("lden")) for f in feats],
        [level(f["properties"].get("lnight")) for f in feats],
        stored_version(data_dir),
    )


def ambient_from_map(
    midpoints_lonlat: tuple[np.ndarray, np.ndarray], noise: NoiseMap
) -> tuple[np.ndarray, np.ndarray]:
    """Per street segment (given by its midpoint): the loudest Lden and Lnight of the noise
    polygons that hold it, NaN where the map says nothing."""
    lons, lats = midpoints_lonlat
    day = np.full(len(lons), np.nan)
    night = np.full(len(lons), np.nan)
    if not len(noise) or not len(lons):
        return day, night
    tree = shapely.STRtree(np.asarray(noise.polygons, dtype=object))
    points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
    seg, poly = tree.query(points, predicate="within")
    lden = np.asarray(noise.lden, dtype=float)[poly]
    lnight = np.asarray(noise.lnight, dtype=float)[poly]
    np.fmax.at(day, seg, lden)
    np.fmax.at(night, seg, lnight)
    return day, night
