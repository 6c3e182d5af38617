"""Streets from OpenStreetMap: ``.osm.pbf`` and ``.osm`` XML extracts (pyosmium) and Overpass JSON.

A street is a way with a ``highway`` tag and a ``name``; its class is the highway value
(primary, residential, footway, ...). A way without a name (most footways, paths, steps,
crossings and pedestrian links) is kept too when people may walk it: a walk-only way with no
name, so it joins the walking graph of evacuation guidance (the only way out of a dead end is
often an unnamed footpath) but is never a street a lantern stands on, a target names or street
search offers. Its id is ``osm-way-<id>`` like every way's, stable across re-imports. Ways are
read whole before anything is stored, so a truncated or corrupt file fails the import and
leaves the stored streets as they were.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import osmium

from lightctl.errors import ImportFailed
from lightctl.geo.records import SkippedRow, StreetSegment
from lightctl.geo.walkgraph import walkable

# Highway values that are no street a person stands in: not built yet or any more, or a
# platform/stop/indoor corridor that shares the tag. Everything else with a name is kept.
_NOT_STREETS = frozenset(
    {
        "proposed",
        "construction",
        "abandoned",
        "razed",
        "disused",
        "platform",
        "bus_stop",
        "elevator",
        "corridor",
        "rest_area",
        "services",
    }
)
# The street table's class column holds 50 characters (highway values are short words).
_CLASS_CHARS = 50
# An unnamed way is only there to be walked: left out when its tags shut pedestrians out
# (``use_sidepath``: walk the sidewalk mapped beside it, which is kept on its own).
_NO_FEET = frozenset({"no", "private", "use_sidepath"})


@dataclass(slots=True)
class _Tally:
    """What a file held, for the message when it has no named street."""

    ways: int = 0
    highways: int = 0
    walk_only: int = 0  # unnamed ways kept for walking


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"\s+", " ", value).strip() or None


def _street_of(tags: Mapping[str, Any], tally: _Tally) -> tuple[str | None, str] | None:
    """(name, class) of a way that is a named street, (None, class) of an unnamed way people
    may walk, else None."""
    tally.ways += 1
    highway = _clean(tags.get("highway"))
    if highway is None or highway in _NOT_STREETS:
        return None
    tally.highways += 1
    cls = highway[:_CLASS_CHARS]
    name = _clean(tags.get("name"))
    if name is not None:
        return (name, cls)
    if not walkable(cls) or not _feet_allowed(tags):
        return None
    tally.walk_only += 1
    return (None, cls)


def _feet_allowed(tags: Mapping[str, Any]) -> bool:
    """Whether pedestrians may use the way: ``foot`` decides, else ``access`` (OSM's rule)."""
    foot = _clean(tags.get("foot"))
    if foot is not None:
        return foot not in _NO_FEET
    access = _clean(tags.get("access"))
    return access is None or access not in _NO_FEET


def _segment(
    row: int, way_id: Any, street: tuple[str | None, str], points: list[tuple[float, float]]
) -> StreetSegment | SkippedRow:
    seg_id = f"osm-way-{way_id}"
    usable = [
        (lon, lat)
        for lon, lat in points
        if math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
    ]
    if len(usable) < 2:
        return SkippedRow(row, "fewer than two of its nodes are in the file", seg_id)
    return StreetSegment(seg_id, street[0], street[1], tuple(usable))


class _WayReader(osmium.SimpleHandler):
    """Collects named highway ways with their node locations (pyosmium calls ``way``)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[StreetSegment | SkippedRow] = []
        self.tally = _Tally()

    def way(self, way: Any) -> None:
        street = _street_of({t.k: t.v for t in way.tags}, self.tally)
        if street is None:
            return
        points = [
            (node.location.lon, node.location.lat) for node in way.nodes if node.location.valid()
        ]
        self.items.append(_segment(self.tally.ways, way.id, street, points))


# What libosmium calls each kind of extract; Geofabrik and others publish .osm.pbf and .osm.bz2.
_SUFFIXES = (
    (".osm.pbf", "pbf"),
    (".pbf", "pbf"),
    (".osm.bz2", "osm.bz2"),
    (".osm.gz", "osm.gz"),
    (".osm.xml", "osm"),
    (".osm", "osm"),
)


def osm_format(path: Path) -> str | None:
    """libosmium's name for an OSM extract (``pbf``, ``osm``, ``osm.bz2``, ``osm.gz``) by the
    file's name, else by its first bytes; None if it is no OSM extract."""
    name = path.name.lower()
    for suffix, kind in _SUFFIXES:
        if name.endswith(suffix):
            return kind
    with path.open("rb") as handle:
        head = handle.read(512)
    # A PBF file starts with the length of its first header, then the blob type "OSMHeader".
    if b"OSMHeader" in head[:32]:
        return "pbf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if (text.startswith(b"<?xml") and b"<osm" in head) or text.startswith(b"<osm"):
        return "osm"
    return None


def read_osm_streets(path: Path, kind: str) -> list[StreetSegment | SkippedRow]:
    """Named highway ways and unnamed walkable ones of an OSM extract (``kind`` as
    ``osm_format`` names it), one segment per way (``osm-way-<id>``)."""
    reader = _WayReader()
    what = "OSM PBF" if kind == "pbf" else "OSM XML"
    try:
        reader.apply_file(osmium.io.File(str(path), kind), locations=True)
    except (RuntimeError, ValueError, osmium.InvalidLocationError) as exc:
        raise ImportFailed(
            str(path),
            f"not a readable {what} file ({exc}); it may be truncated or corrupt: "
            "download or export it again",
        ) from exc
    return _checked(path, reader.items, reader.tally)


def _checked(
    path: Path, items: list[StreetSegment | SkippedRow], tally: _Tally
) -> list[StreetSegment | SkippedRow]:
    if not any(isinstance(i, StreetSegment) and i.name for i in items):
        raise ImportFailed(
            str(path),
            f"no named streets: of {tally.ways} ways, {tally.highways} are highways and none of "
            "those has a usable name and two nodes in the file (an extract of the wrong area, "
            "or one made without ways or tags?)",
        )
    return items


def overpass_streets(path: Path, doc: Any) -> list[StreetSegment | SkippedRow]:
    """Named highway ways and unnamed walkable ones of an Overpass JSON answer: ``out geom;``
    (each way carries its ``geometry``) or ``out body; >; out skel;`` (ways list node ids, the
    nodes follow)."""
    if not (isinstance(doc, dict) and isinstance(doc.get("elements"), list)):
        raise ImportFailed(str(path), "not an Overpass JSON answer (no 'elements' list)")
    elements = doc["elements"]
    nodes: dict[Any, tuple[float, float]] = {}
    for el in elements:
        if isinstance(el, dict) and el.get("type") == "node":
            lon, lat = el.get("lon"), el.get("lat")
            if isinstance(lon, int | float) and isinstance(lat, int | float):
                nodes[el.get("id")] = (float(lon), float(lat))
    tally = _Tally()
    items: list[StreetSegment | SkippedRow] = []
    for el in elements:
        if not (isinstance(el, dict) and el.get("type") == "way"):
            continue
        tags = el.get("tags")
        street = _street_of(tags if isinstance(tags, dict) else {}, tally)
        if street is None:
            continue
        items.append(_segment(tally.ways, el.get("id"), street, _way_points(el, nodes)))
    if items and not any(isinstance(i, StreetSegment) for i in items):
        raise ImportFailed(
            str(path),
            f"{len(items)} highway ways ({len(items) - tally.walk_only} named) but none with "
            "its nodes' positions: ask Overpass "
            "with `out geom;` (or `out body; >; out skel;`), not `out tags;`/`out center;`",
        )
    return _checked(path, items, tally)


def _way_points(
    way: dict[str, Any], nodes: dict[Any, tuple[float, float]]
) -> list[tuple[float, float]]:
    geometry = way.get("geometry")
    if isinstance(geometry, list):
        # `out geom(bbox)` writes null for the nodes of a way outside the box.
        return [
            (float(p["lon"]), float(p["lat"]))
            for p in geometry
            if isinstance(p, dict)
            and isinstance(p.get("lon"), int | float)
            and isinstance(p.get("lat"), int | float)
        ]
    refs = way.get("nodes")
    if isinstance(refs, list):
        return [nodes[ref] for ref in refs if ref in nodes]
    return []


def iter_items(items: list[StreetSegment | SkippedRow]) -> Iterator[StreetSegment | SkippedRow]:
    """The items as the lazy iterator ``read_streets`` promises."""
    yield from items
