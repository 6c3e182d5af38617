"""What one request may cost: ceilings checked before any geometry work, each refusal a 422 at
the field that names the limit (issue 13: one 10,000-position zigzag route 50 km wide took 36 s
and 1.3 GB in one preview)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pyproj import Geod
from shapely.geometry import LineString

from lightctl.errors import InvalidRequest

Loc = tuple[str | int, ...]
_GEOD = Geod(ellps="WGS84")

# A route is drawn along streets: a 20 km route from OpenStreetMap has ~2,000 positions.
MAX_ROUTE_POSITIONS = 5_000
# A polygon is an area of a city: the city of Zürich's boundary has ~3,300 positions; a finer
# area is simplified by the client (every ring and polygon of a MultiPolygon counted together).
MAX_AREA_POSITIONS = 50_000
# A corridor (length x 2 x width) larger than a whole city (Zürich: 88 km²) is a region, for
# sirens and cell broadcast; it would also pair every piece of the route with every lantern.
MAX_CORRIDOR_KM2 = 100.0
# A map preview lists every lantern as a GeoJSON feature (~200 bytes each): 50,000 features are
# ~10 MB, a whole city (~40,000 lanterns) and more than any map shows legibly.
MAX_PREVIEW_FEATURES = 50_000


def check_positions(coordinates: Any, loc: Loc, what: str, limit: int) -> None:
    """Count positions in nested GeoJSON coordinates (no conversion; anything malformed is left
    to the shape checks, which word it) and refuse more than ``limit``."""
    count, stack = 0, [coordinates]
    while stack:  # a loop, not recursion: the nesting comes from the request
        item = stack.pop()
        if not isinstance(item, list) or not item:
            continue
        if not isinstance(item[0], list):  # a position: [lon, lat(, alt)]
            count += 1
        else:
            stack.extend(item)
        if count > limit:
            break
    if count > limit:
        raise InvalidRequest.at(
            loc,
            f"{what} has more than {limit:,} positions, the limit: simplify it",
            limit=limit,
        )


def check_corridor(line: LineString, width_m: float, loc: Loc) -> None:
    """Refuse a corridor (length x 2 x width) above ``MAX_CORRIDOR_KM2``."""
    coords = np.asarray(line.coords, dtype=np.float64)
    length_m = float(_GEOD.line_length(coords[:, 0], coords[:, 1]))
    area_km2 = length_m * 2.0 * width_m / 1e6
    if area_km2 > MAX_CORRIDOR_KM2:
        raise InvalidRequest.at(
            loc,
            f"the corridor of {length_m / 1000:,.1f} km x 2 x {width_m:,.0f} m covers "
            f"{area_km2:,.0f} km², more than the limit of {MAX_CORRIDOR_KM2:g} km²: "
            "narrow it or shorten the route",
            limit=MAX_CORRIDOR_KM2,
        )


def check_preview_size(lanterns: int, loc: Loc) -> None:
    if lanterns > MAX_PREVIEW_FEATURES:
        raise InvalidRequest.at(
            loc,
            f"the target reaches {lanterns:,} lanterns; a map preview shows at most "
            f"{MAX_PREVIEW_FEATURES:,}: ask without the map (geojson=false) or narrow it",
            limit=MAX_PREVIEW_FEATURES,
        )
