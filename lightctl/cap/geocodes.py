"""Boundary files for CAP geocodes: a GeoJSON of areas, each named by a code (an ARS from the
official administrative boundaries, a DWD WARNCELLID, a SAME or EMMA_ID code)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely import make_valid
from shapely.geometry import mapping, shape
from shapely.ops import transform

from lightctl.cap.areas import json_lists, polygons_only
from lightctl.domain.records import GeocodeArea
from lightctl.errors import ImportFailed
from lightctl.store import Database
from lightctl.store import cap as cap_store

# Property names that carry the code, tried in this order when none is given (BKG's VG250
# GeoJSON names the 12-digit key "ARS", DWD's warn cell layers "WARNCELLID").
CODE_PROPERTIES = ("ARS", "ars", "WARNCELLID", "warncellid", "SAME", "EMMA_ID", "code", "id")
NAME_PROPERTIES = ("GEN", "name", "NAME", "NAME_DE", "bez")
# A boundary file is a few MB per Land (VG250 municipalities); 512 MB is a whole country.
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(slots=True)
class GeocodeImport:
    scheme: str
    added: int = 0
    replaced: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (feature index, reason)


def import_geocodes(
    db: Database,
    path: Path,
    scheme: str,
    now: datetime,
    code_property: str | None = None,
    name_property: str | None = None,
    crs: str = "EPSG:4326",
) -> GeocodeImport:
    """Read every Polygon/MultiPolygon feature with a code; a bad feature is skipped and named."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportFailed(str(path), f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(str(path), f"not GeoJSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportFailed(str(path), "expected a GeoJSON FeatureCollection")
    try:
        source_crs = CRS.from_user_input(crs)
    except CRSError:
        raise ImportFailed(str(path), f"unknown CRS {crs!r}") from None
    to_wgs84 = None
    if not source_crs.equals(CRS.from_epsg(4326)):
        to_wgs84 = Transformer.from_crs(source_crs, "EPSG:4326", always_xy=True).transform
    scheme = scheme.strip().upper()
    report = GeocodeImport(scheme)
    areas: list[GeocodeArea] = []
    for i, feature in enumerate(doc.get("features") or []):
        area = _area(feature, i, scheme, code_property, name_property, to_wgs84, report, path, now)
        if area is not None:
            areas.append(area)
    if not areas:
        raise ImportFailed(str(path), f"no feature with a {scheme} code and a polygon")
    with db.session() as session:
        report.added, report.replaced = cap_store.save_geocodes(session, areas)
    return report


def _area(
    feature: Any,
    index: int,
    scheme: str,
    code_property: str | None,
    name_property: str | None,
    to_wgs84: Any,
    report: GeocodeImport,
    path: Path,
    now: datetime,
) -> GeocodeArea | None:
    if not isinstance(feature, dict):
        report.skipped.append((index, "not a GeoJSON Feature"))
        return None
    props = feature.get("properties") or {}
    keys = (code_property,) if code_property else CODE_PROPERTIES
    code = next((str(props[k]).strip() for k in keys if props.get(k) not in (None, "")), "")
    if not code:
        report.skipped.append((index, f"no code in properties {', '.join(keys)}"))
        return None
    if scheme == "ARS" and not (code.isdigit() and len(code) == 12):
        report.skipped.append((index, f"ARS {code!r} is not 12 digits"))
        return None
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        report.skipped.append((index, "geometry is not a Polygon or MultiPolygon"))
        return None
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        report.skipped.append((index, f"geometry unreadable: {exc}"))
        return None
    if to_wgs84 is not None:
        geom = transform(to_wgs84, geom)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        report.skipped.append((index, "coordinates are not lon/lat (give --crs)"))
        return None
    if not geom.is_valid:
        geom = polygons_only(make_valid(geom))
    out = dict(mapping(geom))
    out["coordinates"] = json_lists(out["coordinates"])
    names = (name_property,) if name_property else NAME_PROPERTIES
    name = next((str(props[k]) for k in names if props.get(k)), "")
    return GeocodeArea(
        scheme=scheme,
        code=code,
        name=name[:300],
        geometry=out,
        source=path.name[:300],
        imported_at=now,
    )
