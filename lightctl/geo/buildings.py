"""Building footprints for the coverage model: read a GeoJSON file in any CRS, check and repair
each polygon, keep them as WGS 84 lon/lat in ``<data_dir>/buildings.geojson``.

A footprint file (e.g. an OpenStreetMap ``building=*`` export) is refused as a whole when its
CRS does not fit its coordinates or when a polygon cannot be repaired; the error names the
feature. Self-intersections and wrong ring orientation are repaired (``make_valid``), and the
report counts them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from lightctl.errors import ImportFailed
from lightctl.geo.crs import WGS84, checked_crs, is_wgs84, to_wgs84

BUILDINGS_FILE = "buildings.geojson"
MAX_BUILDINGS = 2_000_000


@dataclass(frozen=True, slots=True)
class Footprints:
    """Polygons in lon/lat, their ids, and the digest of the stored file (its version)."""

    ids: list[str]
    polygons: list[shapely.Geometry]
    version: str
    repaired: int = 0


def _crs_of(doc: dict[str, Any], given: str | None) -> str:
    if given:
        checked_crs(given, ("crs",))
        return given
    named = (
        doc.get("crs", {}).get("properties", {}).get("name")
        if isinstance(doc.get("crs"), dict)
        else None
    )
    return str(named) if named else WGS84


def read_feature_collection(
    path: Path, crs: str | None, limit: int, what: str
) -> tuple[list[Any], str]:
    """The features of a GeoJSON FeatureCollection (at most ``limit`` ``what``) and the CRS they
    are in (``crs`` if given, else the file's, else WGS 84); ``ImportFailed`` says what is wrong."""
    name = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(name, f"not a readable GeoJSON file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportFailed(name, "expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise ImportFailed(name, "the file has no features")
    if len(features) > limit:
        raise ImportFailed(name, f"more than {limit} {what}")
    return features, _crs_of(doc, crs)


def read_footprints(path: Path, crs: str | None = None) -> Footprints:
    """Read, reproject, check and repair; ``ImportFailed`` names the feature that is wrong."""
    name = str(path)
    features, source_crs = read_feature_collection(path, crs, MAX_BUILDINGS, "buildings")
    ids: list[str] = []
    polygons: list[shapely.Geometry] = []
    repaired = 0
    for n, feature in enumerate(features):
        fid = str(feature.get("id") or (feature.get("properties") or {}).get("id") or f"#{n}")
        try:
            geom = shape(feature["geometry"])
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            shapely.errors.GEOSException,
        ) as exc:
            raise ImportFailed(
                name,
                f"feature {fid}: not a geometry ({exc})",
                [{"row": n, "id": fid, "reason": "geometry"}],
            ) from exc
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ImportFailed(
                name,
                f"feature {fid}: a footprint must be a (Multi)Polygon, not {geom.geom_type}",
                [{"row": n, "id": fid, "reason": "geometry type"}],
            )
        geom = polygon_to_lonlat(geom, source_crs, name, fid, n)
        if not geom.is_valid:
            fixed = shapely.make_valid(geom)
            fixed = _polygonal(fixed)
            if fixed is None or fixed.area <= 0:
                reason = shapely.is_valid_reason(geom)
                raise ImportFailed(
                    name,
                    f"feature {fid}: invalid polygon that cannot be repaired ({reason})",
                    [{"row": n, "id": fid, "reason": reason}],
                )
            geom = fixed
            repaired += 1
        if geom.area <= 0:
            raise ImportFailed(
                name,
                f"feature {fid}: polygon has no area",
                [{"row": n, "id": fid, "reason": "empty"}],
            )
        ids.append(fid)
        polygons.append(geom)
    return Footprints(ids, polygons, "", repaired)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(parts) if parts else None
    return None


def polygon_to_lonlat(
    geom: shapely.Geometry, crs: str, name: str, fid: str, n: int
) -> shapely.Geometry:
    """The polygon in lon/lat, or ``ImportFailed`` naming the feature whose coordinates do not
    fit the CRS (projected metres read as degrees, say)."""
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise ImportFailed(
            name,
            f"feature {fid}: coordinates are not finite",
            [{"row": n, "id": fid, "reason": "coordinates"}],
        )
    if not is_wgs84(crs):
        lons, lats = to_wgs84(crs, coords[:, 0], coords[:, 1])
        geom = shapely.set_coordinates(geom, np.column_stack([lons, lats]))
        coords = shapely.get_coordinates(geom)
    lon, lat = coords[:, 0], coords[:, 1]
    if not (np.isfinite(coords).all() and (np.abs(lon) <= 180).all() and (np.abs(lat) <= 90).all()):
        hint = (
            ""
            if crs != WGS84
            else "; the coordinates look projected: give the file's CRS (--crs, e.g. EPSG:2056)"
        )
        x, y = float(coords[0, 0]), float(coords[0, 1])
        raise ImportFailed(
            name,
            f"feature {fid}: ({x:g}, {y:g}) is not a lon/lat position in {crs}{hint}",
            [{"row": n, "id": fid, "reason": "crs"}],
        )
    return geom


def save_footprints(data_dir: Path, footprints: Footprints) -> Footprints:
    """Write the checked footprints (lon/lat) and return them with the file's digest."""
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": i, "properties": {}, "geometry": mapping(p)}
            for i, p in zip(footprints.ids, footprints.polygons, strict=True)
        ],
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / BUILDINGS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(body)
    tmp.replace(target)
    return Footprints(
        footprints.ids, footprints.polygons, stored_version(data_dir), footprints.repaired
    )


def stored_version(data_dir: Path) -> str:
    """Size and modification time of the stored footprints ("" when none): moves with every
    import without reading the file."""
    target = data_dir / BUILDINGS_FILE
    try:
        stat = target.stat()
    except FileNotFoundError:
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def load_footprints(data_dir: Path) -> Footprints:
    """The stored footprints, or none."""
    target = data_dir / BUILDINGS_FILE
    if not target.exists():
        return Footprints([], [], "")
    doc = json.loads(target.read_text(encoding="utf-8"))
    ids = [str(f.get("id")) for f in doc["features"]]
    polygons = [shape(f["geometry"]) for f in doc["features"]]
    return Footprints(ids, polygons, stored_version(data_dir))
