"""Import lantern inventories and street geometry; give each lantern its nearest named street."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lightctl.domain.targets import CAPABILITIES
from lightctl.errors import InvalidRequest
from lightctl.geo.names import normalize_street_name
from lightctl.geo.readers import read_lanterns, read_streets
from lightctl.geo.records import LanternRecord, SkippedRow, StreetSegment
from lightctl.geo.streets import StreetIndex
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


def _no_progress(_n: int) -> None:
    return None


@dataclass
class ImportReport:
    """What an import did: rows taken (inserted/updated/unchanged) and rows skipped, with why."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    with_street: int = 0
    lanterns_reassigned: int = 0

    @property
    def taken(self) -> int:
        return self.inserted + self.updated + self.unchanged


def parse_capabilities(text: str) -> tuple[str, ...]:
    caps = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in caps if c not in CAPABILITIES]
    if unknown:
        raise InvalidRequest.at(
            ("capabilities",),
            f"unknown capability; known: {', '.join(CAPABILITIES)}",
            ",".join(unknown),
        )
    return caps


def _street_index(db: Database) -> StreetIndex | None:
    with db.session() as session:
        stored = lantern_store.all_street_segments(session)
    segments = [
        StreetSegment(sid, name, cls, tuple((float(p[0]), float(p[1])) for p in coords))
        for sid, name, cls, coords in stored
    ]
    if not any(s.name for s in segments):
        return None
    return StreetIndex(segments)


def _street_columns(
    index: StreetIndex | None, lons: Sequence[float], lats: Sequence[float], max_m: float
) -> list[tuple[str | None, str | None, float | None]]:
    if index is None or not lons:
        return [(None, None, None)] * len(lons)
    out: list[tuple[str | None, str | None, float | None]] = []
    for hit in index.nearest_named(lons, lats, max_m):
        if hit is None:
            out.append((None, None, None))
        else:
            name, dist = hit
            out.append((name, normalize_street_name(name), round(float(dist), 2)))
    return out


def import_lanterns(
    db: Database,
    path: Path,
    fmt: str | None = None,
    crs: str = "EPSG:4326",
    id_field: str | None = None,
    max_street_distance_m: float = 30.0,
    capabilities: Iterable[str] = CAPABILITIES,
    progress: Progress = _no_progress,
    source: str | None = None,
) -> ImportReport:
    """Upsert lanterns by the inventory's own id; re-importing the same file changes nothing.

    ``source`` is recorded on every lantern (default: the file's name).
    """
    caps = set(capabilities)
    report = ImportReport()
    records: list[LanternRecord] = []
    for item in read_lanterns(path, fmt=fmt, crs=crs, id_field=id_field):
        progress(1)
        if isinstance(item, SkippedRow):
            report.skipped.append(item)
        else:
            records.append(item)
    streets = _street_columns(
        _street_index(db),
        [r.lon for r in records],
        [r.lat for r in records],
        max_street_distance_m,
    )
    rows = [
        {
            "id": r.id,
            "lon": r.lon,
            "lat": r.lat,
            "orientation_deg": r.orientation_deg,
            "street": street,
            "street_key": key,
            "street_distance_m": dist,
            "cap_speaker": "speaker" in caps,
            "cap_rgb": "rgb" in caps,
            "cap_projector": "projector" in caps,
            "cap_path_light": "path_light" in caps,
            "source": source or path.name,
        }
        for r, (street, key, dist) in zip(records, streets, strict=True)
    ]
    report.with_street = sum(1 for s in streets if s[0] is not None)
    with db.session() as session:
        counts = lantern_store.upsert_lanterns(session, rows)
    report.inserted, report.updated, report.unchanged = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    log.info("imported %s: %d taken, %d skipped", path, report.taken, len(report.skipped))
    return report


def import_streets(
    db: Database,
    path: Path,
    max_street_distance_m: float = 30.0,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Upsert street segments by id, then re-assign every stored lantern's nearest street."""
    report = ImportReport()
    segments: list[dict[str, object]] = []
    for item in read_streets(path):
        progress(1)
        if isinstance(item, SkippedRow):
            report.skipped.append(item)
            continue
        segments.append(
            {
                "id": item.id,
                "name": item.name,
                "name_key": normalize_street_name(item.name) if item.name else None,
                "cls": item.cls or "",
                "coords_json": json.dumps([[lon, lat] for lon, lat in item.coords]),
            }
        )
    with db.session() as session:
        counts = lantern_store.replace_streets(session, segments)
    report.inserted, report.updated, report.unchanged = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    report.lanterns_reassigned, report.with_street = reassign_streets(db, max_street_distance_m)
    return report


def reassign_streets(db: Database, max_street_distance_m: float) -> tuple[int, int]:
    """Nearest named street for every lantern; returns (changed, lanterns with a street)."""
    index = _street_index(db)
    with db.session() as session:
        positions = lantern_store.all_positions(session)
        current = {
            row.id: (row.street, row.street_distance_m)
            for row in lantern_store.list_lanterns(session, limit=10_000_000)
        }
    streets = _street_columns(
        index, [p[1] for p in positions], [p[2] for p in positions], max_street_distance_m
    )
    changes = [
        {"id": lid, "street": s, "street_key": k, "street_distance_m": d}
        for (lid, _lon, _lat), (s, k, d) in zip(positions, streets, strict=True)
        if current.get(lid) != (s, d)
    ]
    with db.session() as session:
        lantern_store.set_streets(session, changes)
    return len(changes), sum(1 for s in streets if s[0] is not None)
