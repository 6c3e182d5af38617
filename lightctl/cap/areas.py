"""CAP areas → a Target: polygons and circles directly, geocodes through imported boundaries.

CAP pairs are ``lat,lon``; GeoJSON and our Target are ``[lon, lat]``: the flip happens here and
only here. A geocode no imported boundary file explains is never guessed: it is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyproj import Geod
from shapely import make_valid
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.ops import unary_union

from lightctl.cap.model import CapArea, CapMessage, NamedValue
from lightctl.cap.xmlread import CapRefused
from lightctl.domain.targets import Circle, TargetSpec
from lightctl.errors import FieldProblem, summarise
from lightctl.geo.shapes import NEAR_DEG, Extent

_GEOD = Geod(ellps="WGS84")
# A circle drawn as a polygon: 72 vertices on a circle of r / cos(pi / 72), so the polygon holds
# the whole circle (it reaches at most 0.1 % further; it never misses a lantern at the edge).
CIRCLE_VERTICES = 72
# Our Target's own circle reaches at most 50 km (geo.shapes.MAX_DISTANCE_M); larger ones, and
# any circle combined with other shapes, are drawn as polygons.
TARGET_CIRCLE_MAX_KM = 50.0

# CAP geocode valueNames → the scheme an operator imports boundaries for.
SCHEME_ALIASES = {
    "WARNVERWALTUNGSBEREICHE": "ARS",  # NINA's parameter with the ARS keys of the warned area
    "ARS": "ARS",
    "AGS": "ARS",
    "WARNCELLID": "WARNCELLID",  # DWD warn cells
    "SAME": "SAME",
    "EMMA_ID": "EMMA_ID",
}
# Geocodes that name no place (NINA's "AreaId" 0 is a running number).
IGNORED_GEOCODES = frozenset({"AREAID"})

# (scheme, code) → GeoJSON geometries (lon/lat) of the imported boundaries that code covers.
GeocodeLookup = Callable[[str, str], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class CapTargeting:
    """What a message's areas reach: a Target (None when nothing could be placed), the codes
    no boundary file explains, and the message's whole area for previews (lon/lat GeoJSON)."""

    target: TargetSpec | None
    unknown_geocodes: tuple[NamedValue, ...]
    used_geocodes: tuple[NamedValue, ...]
    area: dict[str, Any] | None
    warnings: tuple[str, ...] = ()


def scheme_of(name: str) -> str:
    key = name.strip().upper()
    return SCHEME_ALIASES.get(key, key)


def ring_lonlat(ring: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """A CAP ring of (lat, lon) as (lon, lat) positions."""
    return [(lon, lat) for lat, lon in ring]


def circle_polygon(lat: float, lon: float, radius_km: float) -> Polygon:
    reach_m = radius_km * 1000 / math.cos(math.pi / CIRCLE_VERTICES)
    azimuths = [i * 360 / CIRCLE_VERTICES for i in range(CIRCLE_VERTICES)]
    lons, lats, _back = _GEOD.fwd(
        [lon] * CIRCLE_VERTICES, [lat] * CIRCLE_VERTICES, azimuths, [reach_m] * CIRCLE_VERTICES
    )
    return Polygon(list(zip(lons, lats, strict=True)))


def _swapped(bounds: Sequence[float], extent: Extent | None) -> bool:
    """True when a shape misses the inventory but would reach it with lat and lon exchanged."""
    if extent is None:
        return False
    near = box(
        extent[0] - NEAR_DEG, extent[1] - NEAR_DEG, extent[2] + NEAR_DEG, extent[3] + NEAR_DEG
    )
    minx, miny, maxx, maxy = bounds
    return not near.intersects(box(minx, miny, maxx, maxy)) and near.intersects(
        box(miny, minx, maxy, maxx)
    )


def message_targeting(
    message: CapMessage,
    lookup: GeocodeLookup,
    extent: Extent | None,
) -> CapTargeting:
    """The Target of every area of every info block (each language repeats the same areas)."""
    problems: list[FieldProblem] = []
    warnings: list[str] = []
    shapes: list[Polygon | MultiPolygon] = []
    circles: list[tuple[float, float, float]] = []
    unknown: dict[tuple[str, str], NamedValue] = {}
    used: dict[tuple[str, str], NamedValue] = {}
    seen: set[str] = set()
    for i, info in enumerate(message.infos):
        ars = info.parameter("warnVerwaltungsbereiche")
        extra_codes = tuple(
            NamedValue("warnVerwaltungsbereiche", c.strip())
            for c in (ars or "").split(",")
            if c.strip()
        )
        for j, area in enumerate(info.areas):
            key = repr((area.polygons, area.circles, area.geocodes))
            if key in seen:
                continue  # the same area in another language
            seen.add(key)
            loc: tuple[str | int, ...] = ("alert", "info", i, "area", j)
            _geometry(area, loc, extent, shapes, circles, problems, warnings)
            if area.polygons or area.circles:
                continue
            for code in (*area.geocodes, *extra_codes):
                if code.name.strip().upper() in IGNORED_GEOCODES or not code.value:
                    continue
                scheme = scheme_of(code.name)
                found = lookup(scheme, code.value)
                entry = NamedValue(scheme, code.value)
                if not found:
                    unknown[(scheme, code.value)] = entry
                    continue
                used[(scheme, code.value)] = entry
                shapes.extend(polygons_only(shape(g)) for g in found)
    if problems:
        raise CapRefused(summarise(problems), problems)
    target, whole = _target(shapes, list(dict.fromkeys(circles)))
    return CapTargeting(
        target, tuple(unknown.values()), tuple(used.values()), whole, tuple(warnings)
    )


def _geometry(
    area: CapArea,
    loc: tuple[str | int, ...],
    extent: Extent | None,
    shapes: list[Polygon | MultiPolygon],
    circles: list[tuple[float, float, float]],
    problems: list[FieldProblem],
    warnings: list[str],
) -> None:
    for k, ring in enumerate(area.polygons):
        poly = Polygon(ring_lonlat(ring))
        where = (*loc, "polygon", k)
        if _swapped(poly.bounds, extent):
            problems.append(FieldProblem(where, _SWAP_MESSAGE))
            continue
        if not poly.is_valid:
            warnings.append(f"{'.'.join(map(str, where))}: self-intersecting; repaired")
            poly = polygons_only(make_valid(poly))
        shapes.append(poly)
    for k, c in enumerate(area.circles):
        where = (*loc, "circle", k)
        if _swapped((c.lon, c.lat, c.lon, c.lat), extent):
            problems.append(FieldProblem(where, _SWAP_MESSAGE))
            continue
        if c.radius_km == 0:
            warnings.append(f"{'.'.join(map(str, where))}: radius 0 km is a point; reaches none")
            continue
        circles.append((c.lat, c.lon, c.radius_km))


_SWAP_MESSAGE = (
    "coordinates look like lon,lat: they reach the lanterns only with latitude and longitude "
    "exchanged (CAP pairs are lat,lon); not played"
)


def polygons_only(geom: Any) -> Polygon | MultiPolygon:
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    return unary_union(parts) if parts else MultiPolygon()


def _target(
    shapes: list[Polygon | MultiPolygon], circles: list[tuple[float, float, float]]
) -> tuple[TargetSpec | None, dict[str, Any] | None]:
    if not shapes and len(circles) == 1 and circles[0][2] <= TARGET_CIRCLE_MAX_KM:
        lat, lon, radius_km = circles[0]
        drawn = circle_polygon(lat, lon, radius_km)
        spec = TargetSpec(
            circle=Circle(lon=lon, lat=lat, radius_m=radius_km * 1000),
            allow_empty=True,
            confirm_large=True,
        )
        return spec, dict(mapping(drawn))
    everything = shapes + [circle_polygon(*c) for c in circles]
    if not everything:
        return None, None
    union = unary_union(everything)
    if union.is_empty:
        return None, None
    area = dict(mapping(union))
    area["coordinates"] = json_lists(area["coordinates"])
    spec = TargetSpec(area=area, repair=True, allow_empty=True, confirm_large=True)
    return spec, area


def json_lists(value: Any) -> Any:
    """Shapely's nested tuples as JSON lists."""
    if isinstance(value, tuple | list):
        return [json_lists(v) for v in value]
    return value


def outside(
    area: dict[str, Any] | None,
    extent: Extent | None,
    cells: Callable[[Extent], Sequence[Extent]] | None = None,
) -> tuple[dict[str, Any] | None, float]:
    """The part of ``area`` no lantern reaches (GeoJSON) and its share of the area.

    ``cells`` gives the grid cells within some bounds that hold lanterns (the inventory's
    footprint); without it the inventory's bounding box stands in for the footprint."""
    if area is None:
        return None, 0.0
    geom = shape(area)
    if extent is None:
        return area, 1.0
    footprint = [box(*extent)] if cells is None else [box(*c) for c in cells(geom.bounds)]
    covered = unary_union(footprint)
    rest = geom.difference(covered)
    whole = abs(_GEOD.geometry_area_perimeter(geom)[0])
    if rest.is_empty or whole == 0:
        return None, 0.0
    part = abs(_GEOD.geometry_area_perimeter(rest)[0])
    out = dict(mapping(polygons_only(rest)))
    out["coordinates"] = json_lists(out["coordinates"])
    return out, round(part / whole, 4)
