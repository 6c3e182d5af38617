"""Read lantern inventories and street segments from files; bad rows are skipped with a reason.

Every lantern reader yields exactly one ``LanternRecord`` or ``SkippedRow`` per data row, in file
order, so a caller shows progress by counting what it received against ``count_rows(path)``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from lightctl.errors import ImportFailed, InvalidRequest
from lightctl.geo import _documents as docs
from lightctl.geo import osm
from lightctl.geo._table import CsvLayout, count_csv_rows, csv_rows
from lightctl.geo.crs import WGS84, checked_crs, is_wgs84, to_wgs84
from lightctl.geo.records import LanternRecord, RawLantern, SkippedRow, StreetSegment, check

# Enough of a JSON document to see which top-level keys it starts with.
_SNIFF_CHARS = 64 * 1024


class LanternFormat(StrEnum):
    GEOJSON = "geojson"
    CSV = "csv"
    OVERPASS = "overpass"
    NGSI_LD = "ngsi-ld"


def _existing(path: str | Path) -> Path:
    file = Path(path)
    if not file.is_file():
        raise ImportFailed(str(file), "no such file")
    return file


def detect_format(path: str | Path) -> LanternFormat:
    """The inventory format from the extension, or for ``.json`` and others from the first bytes."""
    file = _existing(path)
    suffix = file.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return LanternFormat.CSV
    if suffix == ".geojson":
        return LanternFormat.GEOJSON
    try:
        with file.open(encoding="utf-8-sig") as handle:
            head = handle.read(_SNIFF_CHARS)
    except UnicodeDecodeError as exc:
        raise ImportFailed(str(file), "not UTF-8 text") from exc
    text = head.lstrip()
    if text.startswith("["):
        return LanternFormat.NGSI_LD
    if not text.startswith("{"):
        return LanternFormat.CSV
    markers = {
        '"elements"': LanternFormat.OVERPASS,
        '"features"': LanternFormat.GEOJSON,
        '"FeatureCollection"': LanternFormat.GEOJSON,
        '"@context"': LanternFormat.NGSI_LD,
        '"urn:ngsi-ld:': LanternFormat.NGSI_LD,
    }
    found = {text.find(marker): fmt for marker, fmt in markers.items() if marker in text}
    if not found:
        raise ImportFailed(
            str(file), "cannot tell the format; name it (geojson, csv, overpass, ngsi-ld)"
        )
    return found[min(found)]


def _format(path: Path, fmt: str | LanternFormat | None) -> LanternFormat:
    if fmt is None:
        return detect_format(path)
    try:
        return LanternFormat(str(fmt).lower())
    except ValueError:
        known = tuple(f.value for f in LanternFormat)
        close = tuple(difflib.get_close_matches(str(fmt).lower(), known, n=2)) or known
        raise InvalidRequest.at(("format",), "unknown inventory format", fmt, close) from None


def _check_declared_crs(path: Path, doc: Any, crs: str) -> None:
    declared = docs.declared_crs(doc)
    if declared is None:
        return
    try:
        same = checked_crs(declared).equals(checked_crs(crs), ignore_axis_order=True)
    except InvalidRequest as exc:
        raise ImportFailed(str(path), f"the file names an unknown CRS {declared!r}") from exc
    if not same:
        raise ImportFailed(
            str(path), f"the file declares CRS {declared!r} but crs={crs!r} was given"
        )


def read_lanterns(
    path: str | Path,
    fmt: str | LanternFormat | None = None,
    crs: str = WGS84,
    id_field: str | None = None,
    xy_fields: tuple[str, str] | None = None,
) -> Iterator[LanternRecord | SkippedRow]:
    """Lanterns of an inventory file in WGS 84 lon/lat; ``crs`` is the CRS the file is written in.

    Arguments and the file's layout are checked at once (``InvalidRequest``, ``ImportFailed``);
    rows are then read lazily. Overpass and NGSI-LD are WGS 84 by definition. ``xy_fields``
    names a CSV's coordinate columns (x or lon first) when they have no name we know.
    """
    file = _existing(path)
    kind = _format(file, fmt)
    checked_crs(crs)
    rows: Iterator[RawLantern | SkippedRow]
    if kind is LanternFormat.CSV:
        rows = csv_rows(file, CsvLayout.read(file, id_field, xy_fields))
    else:
        if xy_fields is not None:
            raise InvalidRequest.at(
                ("x_field",), f"only CSV files have coordinate columns; this is {kind.value}"
            )
        if kind is not LanternFormat.GEOJSON and not is_wgs84(crs):
            raise InvalidRequest.at(("crs",), f"{kind.value} files are always WGS 84 lon/lat", crs)
        doc = docs.load_json(file)
        if kind is LanternFormat.GEOJSON:
            _check_declared_crs(file, doc, crs)
            rows = docs.geojson_rows(docs.geojson_features(file, doc), id_field)
        elif kind is LanternFormat.OVERPASS:
            rows = docs.overpass_rows(docs.overpass_lamps(file, doc), id_field)
        else:
            rows = docs.ngsi_rows(docs.ngsi_streetlights(file, doc), id_field)
    return check(rows, crs)


def count_rows(path: str | Path, fmt: str | LanternFormat | None = None) -> int:
    """How many items ``read_lanterns`` will yield (CSV: counted lines, an upper bound)."""
    file = _existing(path)
    kind = _format(file, fmt)
    if kind is LanternFormat.CSV:
        return count_csv_rows(file)
    doc = docs.load_json(file)
    if kind is LanternFormat.GEOJSON:
        return len(docs.geojson_features(file, doc))
    if kind is LanternFormat.OVERPASS:
        return len(docs.overpass_lamps(file, doc))
    return len(docs.ngsi_streetlights(file, doc))


class StreetFormat(StrEnum):
    GEOJSON = "geojson"
    OSM_PBF = "osm-pbf"
    OSM_XML = "osm-xml"
    OVERPASS = "overpass"


def detect_street_format(path: str | Path) -> StreetFormat:
    """The street file's format: OSM PBF/XML by name or first bytes, else JSON by its keys."""
    file = _existing(path)
    kind = osm.osm_format(file)
    if kind == "pbf":
        return StreetFormat.OSM_PBF
    if kind is not None:
        return StreetFormat.OSM_XML
    try:
        with file.open(encoding="utf-8-sig") as handle:
            head = handle.read(_SNIFF_CHARS)
    except UnicodeDecodeError as exc:
        raise ImportFailed(str(file), "not UTF-8 text, nor an OSM PBF extract (.osm.pbf)") from exc
    if '"elements"' in head and '"features"' not in head:
        return StreetFormat.OVERPASS
    if head.lstrip().startswith("{"):
        return StreetFormat.GEOJSON
    raise ImportFailed(
        str(file),
        "cannot tell the format: expected GeoJSON LineStrings, an OSM extract (.osm.pbf, .osm) "
        "or Overpass JSON",
    )


def read_streets(
    path: str | Path, crs: str = WGS84, fmt: str | StreetFormat | None = None
) -> Iterator[StreetSegment | SkippedRow]:
    """Street segments of GeoJSON LineStrings/MultiLineStrings (one segment per part), of an
    OpenStreetMap extract (.osm.pbf, .osm XML) or of Overpass JSON (named highway ways)."""
    file = _existing(path)
    checked_crs(crs)
    kind = detect_street_format(file) if fmt is None else _street_format(fmt)
    if kind is not StreetFormat.GEOJSON and not is_wgs84(crs):
        raise InvalidRequest.at(("crs",), f"{kind.value} files are always WGS 84 lon/lat", crs)
    if kind is StreetFormat.OSM_PBF:
        return osm.iter_items(osm.read_osm_streets(file, "pbf"))
    if kind is StreetFormat.OSM_XML:
        compressed = osm.osm_format(file)  # .osm.bz2 / .osm.gz are XML too
        plain = compressed if compressed not in (None, "pbf") else "osm"
        return osm.iter_items(osm.read_osm_streets(file, plain or "osm"))
    doc = docs.load_json(file)
    if kind is StreetFormat.OVERPASS:
        return osm.iter_items(osm.overpass_streets(file, doc))
    _check_declared_crs(file, doc, crs)
    features = docs.geojson_features(file, doc)
    return _street_segments(features, crs)


def _street_format(fmt: str | StreetFormat) -> StreetFormat:
    try:
        return StreetFormat(str(fmt).lower())
    except ValueError:
        known = tuple(f.value for f in StreetFormat)
        close = tuple(difflib.get_close_matches(str(fmt).lower(), known, n=2)) or known
        raise InvalidRequest.at(("format",), "unknown street file format", fmt, close) from None


def _street_segments(features: list[Any], crs: str) -> Iterator[StreetSegment | SkippedRow]:
    for row_no, feature in enumerate(features, start=1):
        if not (isinstance(feature, dict) and isinstance(feature.get("geometry"), dict)):
            yield SkippedRow(row_no, "not a GeoJSON Feature with a geometry")
            continue
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        seg_id = str(next((v for v in (feature.get("id"), props.get("id")) if v), f"row-{row_no}"))
        name = _clean_name(props.get("name"))
        cls = next(
            (v for v in (props.get("class"), props.get("highway")) if isinstance(v, str)), None
        )
        geometry = feature["geometry"]
        kind, coords = geometry.get("type"), geometry.get("coordinates")
        if kind == "LineString":
            parts = [coords]
        elif kind == "MultiLineString" and isinstance(coords, list):
            parts = coords
        else:
            yield SkippedRow(row_no, f"geometry is a {kind}, expected a LineString", seg_id)
            continue
        for part_no, part in enumerate(parts):
            part_id = seg_id if len(parts) == 1 else f"{seg_id}#{part_no}"
            line = _line_lonlat(part, crs)
            if isinstance(line, str):
                yield SkippedRow(row_no, line, part_id)
            else:
                yield StreetSegment(part_id, name, cls, line)


def _clean_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"\s+", " ", value).strip() or None


def _line_lonlat(part: Any, crs: str) -> tuple[tuple[float, float], ...] | str:
    """The part as (lon, lat) pairs, or the reason it cannot be one."""
    if not isinstance(part, list) or len(part) < 2:
        return "a line needs at least two points"
    try:
        xs = [float(p[0]) for p in part]
        ys = [float(p[1]) for p in part]
    except (TypeError, ValueError, IndexError):
        return "line coordinates are not number pairs"
    lons, lats = to_wgs84(crs, xs, ys)
    pairs = tuple(zip(lons.tolist(), lats.tolist(), strict=True))
    for lon, lat in pairs:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return "line coordinates are not finite"
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            return f"line point ({lon}, {lat}) outside the lon/lat range"
    return pairs
