"""CAP areas as the schema gives them: ``lat,lon`` pairs, circles in km, geocodes, and
NINA's GeoJSON; every malformed token is named with its place."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lightctl.cap.model import CapArea, CapCircle, CapMessage, LatLonRing
from lightctl.cap.reader import Loc, Reader
from lightctl.cap.xmlread import Node

AREA_FIELDS = frozenset(["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"])


def _number(r: Reader, text: str, loc: Loc, what: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        r.problem(loc, f"{what} is not a number", text)
        return None
    if value != value or value in (float("inf"), float("-inf")):
        r.problem(loc, f"{what} is not a finite number", text)
        return None
    return value


def _pair(r: Reader, token: str, loc: Loc) -> tuple[float, float] | None:
    parts = token.split(",")
    if len(parts) != 2:
        r.problem(loc, 'is not a "lat,lon" pair', token)
        return None
    lat = _number(r, parts[0], loc, f"latitude in {token!r}")
    lon = _number(r, parts[1], loc, f"longitude in {token!r}")
    if lat is None or lon is None:
        return None
    if not -90 <= lat <= 90:
        r.problem(loc, "latitude must lie within -90..90 (CAP pairs are lat,lon)", token)
        return None
    if not -180 <= lon <= 180:
        r.problem(loc, "longitude must lie within -180..180", token)
        return None
    return lat, lon


def parse_polygon(r: Reader, text: str, loc: Loc) -> LatLonRing | None:
    tokens = text.split()
    before = len(r.problems)
    ring = []
    for i, token in enumerate(tokens):
        pair = _pair(r, token, (*loc, i))
        if pair is not None:
            ring.append(pair)
    if len(r.problems) > before:
        return None
    if len(ring) < 4:
        r.problem(loc, f"has {len(ring)} lat,lon pairs; CAP needs at least 4 (first = last)")
        return None
    if ring[0] != ring[-1]:
        r.problem(loc, f"is not closed: first pair {tokens[0]} differs from last {tokens[-1]}")
        return None
    return tuple(ring)


def _circle(r: Reader, text: str, loc: Loc) -> CapCircle | None:
    parts = text.split()
    if len(parts) != 2:
        r.problem(loc, 'must be "lat,lon radius" (radius in km)', text)
        return None
    pair = _pair(r, parts[0], loc)
    radius = _number(r, parts[1], loc, "radius")
    if pair is None or radius is None:
        return None
    if radius < 0:
        r.problem(loc, "radius must not be negative (kilometres; 0 is a point)", text)
        return None
    return CapCircle(pair[0], pair[1], radius)


def area_of(r: Reader, node: Node, loc: Loc) -> CapArea:
    r.known(node, AREA_FIELDS, loc)
    polygons = []
    for i, text in enumerate(r.texts(node, "polygon", loc)):
        ring = parse_polygon(r, text, (*loc, "polygon", i))
        if ring is not None:
            polygons.append(ring)
    circles = []
    for i, text in enumerate(r.texts(node, "circle", loc)):
        circle = _circle(r, text, (*loc, "circle", i))
        if circle is not None:
            circles.append(circle)
    altitude = r.one(node, "altitude", loc)
    ceiling = r.one(node, "ceiling", loc)
    altitude_ft = None if altitude is None else _number(r, altitude, (*loc, "altitude"), "altitude")
    ceiling_ft = None if ceiling is None else _number(r, ceiling, (*loc, "ceiling"), "ceiling")
    if ceiling is not None and altitude is None:
        r.warn((*loc, "ceiling"), "given without altitude")
    return CapArea(
        desc=r.one(node, "areaDesc", loc, required=True) or "",
        polygons=tuple(polygons),
        circles=tuple(circles),
        geocodes=r.pairs(node, "geocode", loc, warn_empty=True),
        altitude_ft=altitude_ft,
        ceiling_ft=ceiling_ft,
    )


def with_geojson(r: Reader, message: CapMessage, geojson: dict[str, Any]) -> CapMessage:
    """NINA's GeoJSON ([lon, lat] rings) becomes one more area in every info block."""
    features = geojson.get("features") if geojson.get("type") == "FeatureCollection" else None
    geometries = [f.get("geometry") for f in features or [] if isinstance(f, dict)]
    if geojson.get("type") in ("Polygon", "MultiPolygon"):
        geometries = [geojson]
    rings: list[LatLonRing] = []
    for i, geom in enumerate(geometries):
        if not isinstance(geom, dict):
            continue
        polys: list[Any] = [geom.get("coordinates")] if geom.get("type") == "Polygon" else []
        if geom.get("type") == "MultiPolygon":
            polys = list(geom.get("coordinates") or [])
        for poly in polys:
            try:
                outer = poly[0]
                ring = tuple((float(p[1]), float(p[0])) for p in outer)
            except (TypeError, IndexError, ValueError):
                r.problem(("geojson", "features", i), "is not a GeoJSON polygon of [lon, lat]")
                continue
            if len(ring) >= 4 and ring[0] == ring[-1]:
                rings.append(ring)
            else:
                r.problem(("geojson", "features", i), "ring has fewer than 4 points or is open")
    if not rings:
        return message
    extra = CapArea(desc="GeoJSON", polygons=tuple(rings))
    infos = tuple(replace(i, areas=(*i.areas, extra)) for i in message.infos)
    return replace(message, infos=infos)
