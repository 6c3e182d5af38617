"""JSON lantern documents: GeoJSON, OpenStreetMap Overpass exports and FIWARE NGSI-LD entities."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lightctl.errors import ImportFailed
from lightctl.geo._table import ORIENTATION_KEYS
from lightctl.geo.records import (
    BadRow,
    RawLantern,
    SkippedRow,
    lantern_id_of,
    parse_number,
    parse_orientation,
)

_NGSI_PREFIX = re.compile(r"^urn:ngsi-ld:[^:]+:", re.IGNORECASE)
_NOT_TOPIC_SAFE = re.compile(r"[^A-Za-z0-9._:-]+")
# OSM `direction` may be a compass point instead of degrees.
_COMPASS_POINTS = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW"
_COMPASS = {point: i * 22.5 for i, point in enumerate(_COMPASS_POINTS.split(" "))}


def load_json(path: Path) -> Any:
    """The whole document: the stdlib has no incremental parser, and 42,000 lanterns are ~10 MB."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            return json.load(handle)
    except UnicodeDecodeError as exc:
        raise ImportFailed(str(path), "not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed(str(path), f"not valid JSON: {exc}") from exc


def declared_crs(doc: Any) -> str | None:
    """The CRS named by an old (pre-RFC 7946) GeoJSON ``crs`` member, e.g. EPSG::2056."""
    if not isinstance(doc, dict):
        return None
    member = doc.get("crs")
    if isinstance(member, dict) and isinstance(member.get("properties"), dict):
        name = member["properties"].get("name")
        return name if isinstance(name, str) else None
    return None


def _point(geometry: Any) -> tuple[float, float]:
    """x, y of a GeoJSON Point (or a MultiPoint holding one point, as some WFS servers write)."""
    if geometry is None:
        raise BadRow("missing coordinates (geometry is null)")
    if not isinstance(geometry, Mapping):
        raise BadRow("geometry is not a GeoJSON object")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "MultiPoint" and isinstance(coords, list) and len(coords) == 1:
        kind, coords = "Point", coords[0]
    if kind != "Point":
        raise BadRow(f"geometry is a {kind}, expected a Point")
    if not isinstance(coords, list) or len(coords) < 2:
        raise BadRow("missing coordinates")
    return parse_number(coords[0], "coordinate x/lon"), parse_number(coords[1], "coordinate y/lat")


def _orientation(properties: Mapping[str, Any]) -> float | None:
    key = next((k for k in ORIENTATION_KEYS if properties.get(k) is not None), None)
    return None if key is None else parse_orientation(properties[key])


def geojson_features(path: Path, doc: Any) -> list[Any]:
    if not (isinstance(doc, dict) and isinstance(doc.get("features"), list)):
        raise ImportFailed(str(path), "not a GeoJSON FeatureCollection")
    return list(doc["features"])


def _feature_id(feature: dict[str, Any], properties: dict[str, Any], id_field: str | None) -> Any:
    if id_field is not None:
        return properties.get(id_field)
    candidates = (feature.get("id"), properties.get("nisnr"), properties.get("id"))
    return next((c for c in candidates if c is not None), None)


def _has_ids(features: list[Any]) -> bool:
    """Whether any feature carries an id where ``geojson_rows`` looks (else: ids from positions)."""
    for feature in features:
        if isinstance(feature, dict):
            props = feature.get("properties")
            if _feature_id(feature, props if isinstance(props, dict) else {}, None) is not None:
                return True
    return False


def geojson_rows(features: list[Any], id_field: str | None) -> Iterator[RawLantern | SkippedRow]:
    """Features to raw lanterns: id from ``id_field``, else the feature id, else nisnr/id; a file
    where no feature has any of these gets ids from positions (``id_from_position``)."""
    positional = id_field is None and not _has_ids(features)
    for row_no, feature in enumerate(features, start=1):
        if not (isinstance(feature, dict) and feature.get("type") == "Feature"):
            yield SkippedRow(row_no, "not a GeoJSON Feature")
            continue
        properties = feature.get("properties")
        properties = dict(properties) if isinstance(properties, dict) else {}
        lantern_id: str | None = None
        try:
            if not positional:
                lantern_id = lantern_id_of(_feature_id(feature, properties, id_field))
            x, y = _point(feature.get("geometry"))
        except BadRow as exc:
            yield SkippedRow(row_no, str(exc), lantern_id)
            continue
        yield RawLantern(row_no, lantern_id, x, y, _orientation(properties), properties)


def _is_lamp(element: Any) -> bool:
    return (
        isinstance(element, dict)
        and element.get("type") == "node"
        and isinstance(element.get("tags"), dict)
        and element["tags"].get("highway") == "street_lamp"
    )


def overpass_lamps(path: Path, doc: Any) -> list[tuple[int, dict[str, Any]]]:
    """(element index from 1, node) of every ``highway=street_lamp`` node; the rest are no lamps."""
    if not (isinstance(doc, dict) and isinstance(doc.get("elements"), list)):
        raise ImportFailed(str(path), "not an Overpass JSON export (no 'elements' list)")
    return [(i, el) for i, el in enumerate(doc["elements"], start=1) if _is_lamp(el)]


def _osm_direction(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().upper() in _COMPASS:
        return _COMPASS[value.strip().upper()]
    return parse_orientation(value)


def overpass_rows(
    lamps: list[tuple[int, dict[str, Any]]], id_field: str | None
) -> Iterator[RawLantern | SkippedRow]:
    """Lamp nodes to raw lanterns with id ``osm-node-<id>`` (or the tag named by ``id_field``)."""
    for row_no, node in lamps:
        tags: dict[str, Any] = dict(node["tags"])
        lantern_id: str | None = None
        try:
            if id_field is not None:
                lantern_id = lantern_id_of(tags.get(id_field))
            else:
                osm_id = node.get("id")
                if isinstance(osm_id, bool) or not isinstance(osm_id, int):
                    raise BadRow(f"node id must be an integer, got {osm_id!r}")
                lantern_id = lantern_id_of(f"osm-node-{osm_id}")
            if node.get("lon") is None and node.get("lat") is None:
                raise BadRow("missing coordinates")
            x = parse_number(node.get("lon"), "lon")
            y = parse_number(node.get("lat"), "lat")
        except BadRow as exc:
            yield SkippedRow(row_no, str(exc), lantern_id)
            continue
        facing = _osm_direction(tags.get("direction", tags.get("light:direction")))
        yield RawLantern(row_no, lantern_id, x, y, facing, tags)


def _is_streetlight(entity: Any) -> bool:
    if not isinstance(entity, dict):
        return False
    kind = entity.get("type")
    return isinstance(kind, str) and re.split(r"[/#:]", kind)[-1] == "Streetlight"


def ngsi_streetlights(path: Path, doc: Any) -> list[tuple[int, dict[str, Any]]]:
    """(position from 1, entity) of every Streetlight entity in an array (or a single entity)."""
    entities = [doc] if isinstance(doc, dict) and "id" in doc else doc
    if not isinstance(entities, list):
        raise ImportFailed(str(path), "not an NGSI-LD entity array")
    return [(i, e) for i, e in enumerate(entities, start=1) if _is_streetlight(e)]


def ngsi_lantern_id(entity_id: Any) -> str:
    """``urn:ngsi-ld:Streetlight:guadalajara:4567`` → ``guadalajara:4567``, topic-safe."""
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise BadRow("missing id")
    local = _NGSI_PREFIX.sub("", entity_id.strip())
    return lantern_id_of(_NOT_TOPIC_SAFE.sub("-", local).strip("-"))


def _attribute_value(attribute: Any) -> Any:
    # Normalized NGSI-LD wraps values ({"type": "Property", "value": ...}); keyValues does not.
    if isinstance(attribute, dict):
        if "value" in attribute:
            return attribute["value"]
        if "object" in attribute:
            return attribute["object"]
    return attribute


def ngsi_rows(
    entities: list[tuple[int, dict[str, Any]]], id_field: str | None
) -> Iterator[RawLantern | SkippedRow]:
    """Streetlight entities to raw lanterns; the entity id is kept as property ``ngsi_id``."""
    for row_no, entity in entities:
        properties = {
            key: _attribute_value(value)
            for key, value in entity.items()
            if key not in ("id", "type", "location", "@context")
        }
        properties["ngsi_id"] = entity.get("id")
        lantern_id: str | None = None
        try:
            if id_field is not None:
                lantern_id = lantern_id_of(properties.get(id_field))
            else:
                lantern_id = ngsi_lantern_id(entity.get("id"))
            x, y = _point(_attribute_value(entity.get("location")))
        except BadRow as exc:
            yield SkippedRow(row_no, str(exc), lantern_id)
            continue
        yield RawLantern(row_no, lantern_id, x, y, _orientation(properties), properties)
