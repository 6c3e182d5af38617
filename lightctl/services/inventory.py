"""Import lantern inventories and street geometry; give each lantern its nearest named street."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from lightctl.domain.targets import CAPABILITIES
from lightctl.errors import ImportFailed, InvalidRequest
from lightctl.geo._table import column_key
from lightctl.geo.names import normalize_street_name
from lightctl.geo.readers import read_lanterns, read_streets
from lightctl.geo.records import LanternRecord, SkippedRow, StreetSegment
from lightctl.geo.streets import StreetIndex
from lightctl.geo.survey import MIN_OUTLIER_DISTANCE_M, DuplicateGroup, Outlier, survey
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# Rows between progress calls: a rich bar costs ~10 µs an update, 2 s over 200,000 rows one by one.
_PROGRESS_EVERY = 1000


def _no_progress(_n: int) -> None:
    return None


class OutlierPolicy(StrEnum):
    """What an import does with a lantern far from every other one (it is always reported)."""

    # The default: a far point may be a real lantern (a depot, a lone crossing light), and one
    # left out would never warn anybody; one kept at a wrong spot is in the report to be fixed.
    KEEP = "keep"
    SKIP = "skip"


@dataclass
class ImportReport:
    """What an import did: rows taken (inserted/updated/unchanged) and rows skipped, with why;
    coordinates several rows share, points far from the rest, where ids and streets came from."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    with_street: int = 0
    lanterns_reassigned: int = 0
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    outliers: list[Outlier] = field(default_factory=list)
    outliers_skipped: bool = False
    outlier_distance_m: float | None = None
    ids_from_position: int = 0
    street_field: str | None = None
    classes: dict[str, int] = field(default_factory=dict)
    # Street imports: segments without a name (footways, paths, steps, ...): no street a lantern
    # stands on or a target names, but part of the walking graph where their class is walkable.
    unnamed: dict[str, int] = field(default_factory=dict)

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
    keys: dict[str, str] = {}  # a city has thousands of streets, not 200,000
    for hit in index.nearest_named(lons, lats, max_m):
        if hit is None:
            out.append((None, None, None))
        else:
            name, dist = hit
            key = keys.get(name)
            if key is None:
                key = keys[name] = normalize_street_name(name)
            out.append((name, key, round(float(dist), 2)))
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
    street_field: str | None = None,
    outliers: OutlierPolicy | str = OutlierPolicy.KEEP,
    min_outlier_m: float = MIN_OUTLIER_DISTANCE_M,
    xy_fields: tuple[str, str] | None = None,
) -> ImportReport:
    """Upsert lanterns by the inventory's own id (or by position when it has none); re-importing
    the same file changes nothing.

    The whole file is read and checked before anything is written: rows whose coordinates cannot
    be in ``crs`` (or look swapped) refuse the file (``ImportFailed`` naming them), so a failed
    import leaves the stored inventory as it was. ``source`` is recorded on every lantern
    (default: the file's name). ``xy_fields`` names a CSV's x/lon and y/lat columns when no
    known name is found. ``street_field`` names the property holding each lantern's street
    (default: one called street, strasse, strassenname, ... if the file has it; else the nearest
    named street is used).
    """
    policy = _outlier_policy(outliers)
    caps = set(capabilities)
    report = ImportReport()
    records: list[LanternRecord] = []
    refused: list[SkippedRow] = []
    pending = 0
    for item in read_lanterns(path, fmt=fmt, crs=crs, id_field=id_field, xy_fields=xy_fields):
        pending += 1
        if pending == _PROGRESS_EVERY:
            progress(pending)
            pending = 0
        if isinstance(item, LanternRecord):
            records.append(item)
        elif item.refuses_file:
            refused.append(item)
        else:
            report.skipped.append(item)
    progress(pending)
    report.street_field = _street_field(records, street_field)
    file_ids = {r.id for r in records}
    with db.session() as session:
        stored = [p for p in lantern_store.all_positions(session) if p[0] not in file_ids]
    checked = survey(
        records, refused, crs, [p[1] for p in stored], [p[2] for p in stored], min_outlier_m
    )
    if checked.refused:
        total = len(records) + len(refused) + len(report.skipped)
        raise _refusal(path, crs, checked.refused, len(records) + len(refused), total)
    records = checked.records
    report.duplicates, report.outliers = checked.duplicates, checked.outliers
    report.outlier_distance_m = checked.outlier_distance_m
    report.ids_from_position = sum(1 for r in records if r.id_from_position)
    if policy is OutlierPolicy.SKIP and checked.outliers:
        report.outliers_skipped = True
        far = {o.row: o for o in checked.outliers}
        records = [r for r in records if r.row not in far]
        report.skipped.extend(
            SkippedRow(
                o.row, f"outlier: {o.nearest_m / 1000.0:.1f} km from any other lantern", o.id
            )
            for o in checked.outliers
        )
        report.skipped.sort(key=lambda s: s.row)
    streets = _street_columns(
        _street_index(db),
        [r.lon for r in records],
        [r.lat for r in records],
        max_street_distance_m,
    )
    if report.street_field is not None:
        streets = _streets_from_file(records, report.street_field, streets)
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


def xy_fields_of(x_field: str | None, y_field: str | None) -> tuple[str, str] | None:
    """Both coordinate columns named, or neither; one alone is a mistake worth naming."""
    if x_field is None and y_field is None:
        return None
    if x_field is None or y_field is None:
        missing = "x_field" if x_field is None else "y_field"
        raise InvalidRequest.at((missing,), "name both coordinate columns (x_field and y_field)")
    return (x_field, y_field)


def _outlier_policy(value: OutlierPolicy | str) -> OutlierPolicy:
    try:
        return OutlierPolicy(str(value).lower())
    except ValueError:
        known = tuple(p.value for p in OutlierPolicy)
        raise InvalidRequest.at(("outliers",), "must be keep or skip", value, known) from None


# Properties that hold a lantern's street in inventories met so far, compared like CSV headers.
_STREET_FIELDS = tuple(
    column_key(k)
    for k in (
        "street",
        "street_name",
        "strasse",
        "straße",
        "strassenname",
        "straßenname",
        "str_name",
        "addr:street",
        "road_name",
    )
)
# Enough rows to see which properties a file has without scanning 200,000 of them.
_SNIFF_ROWS = 200


def _street_field(records: Sequence[LanternRecord], wanted: str | None) -> str | None:
    """The property holding the street name: ``wanted`` (must exist), or a known name, or None."""
    names: dict[str, str] = {}
    for record in records[:_SNIFF_ROWS]:
        for key in record.properties:
            names.setdefault(column_key(key), key)
    if wanted is not None:
        found = names.get(column_key(wanted))
        if found is None and records:
            known = tuple(sorted(names.values()))[:20]
            raise InvalidRequest.at(
                ("street_field",),
                f"no such column or property in the file (it has {', '.join(known)})",
                wanted,
                known,
            )
        return found
    return next((names[k] for k in _STREET_FIELDS if k in names), None)


def _streets_from_file(
    records: Sequence[LanternRecord],
    field_name: str,
    nearest: list[tuple[str | None, str | None, float | None]],
) -> list[tuple[str | None, str | None, float | None]]:
    """The file's street where a row names one (no distance: nobody measured it), else the
    nearest named street."""
    out: list[tuple[str | None, str | None, float | None]] = []
    for record, fallback in zip(records, nearest, strict=True):
        value = record.properties.get(field_name)
        name = " ".join(str(value).split()) if value is not None else ""
        if name:
            out.append((name[:200], normalize_street_name(name)[:200], None))
        else:
            out.append(fallback)
    return out


# Rows named in a refusal's message; the API's problem+json lists up to _LISTED_ROWS of them.
_NAMED_ROWS = 5
_LISTED_ROWS = 100


def _refusal(
    path: Path, crs: str, refused: Sequence[SkippedRow], positioned: int, rows: int
) -> ImportFailed:
    """``positioned``: rows with readable coordinates; ``rows``: every data row read."""
    named = "; ".join(f"row {r.row}: {r.reason}" for r in refused[:_NAMED_ROWS])
    more = f" (and {len(refused) - _NAMED_ROWS} more)" if len(refused) > _NAMED_ROWS else ""
    if len(refused) == positioned:
        hint = (
            f"No row can be a position in {crs}: the file is probably written in another CRS; "
            "name it (--crs / crs=, e.g. EPSG:2056 for Swiss LV95 metres)."
        )
    else:
        hint = "Fix these rows (or give the file's real CRS) and import again."
    reason = (
        f"{len(refused)} of {rows} rows have coordinates that cannot be in {crs}, "
        f"so nothing was imported: {named}{more}. {hint}"
    )
    listed = [{"row": r.row, "reason": r.reason, "id": r.id} for r in refused[:_LISTED_ROWS]]
    return ImportFailed(str(path), reason, listed)


def import_streets(
    db: Database,
    path: Path,
    max_street_distance_m: float = 30.0,
    progress: Progress = _no_progress,
    fmt: str | None = None,
) -> ImportReport:
    """Upsert street segments by id, then re-assign every stored lantern's nearest street.

    GeoJSON LineStrings, OSM extracts (.osm.pbf, .osm) and Overpass JSON; the file is read whole
    first, and one with no named street is refused, so the stored streets stay as they were.
    Segments without a name are stored for the walking graph (``report.unnamed``); lanterns,
    targets and street search only ever see named ones.
    """
    report = ImportReport()
    segments: list[dict[str, object]] = []
    for item in read_streets(path, fmt=fmt):
        progress(1)
        if isinstance(item, SkippedRow):
            report.skipped.append(item)
            continue
        tally = report.classes if item.name else report.unnamed
        tally[item.cls or ""] = tally.get(item.cls or "", 0) + 1
        segments.append(
            {
                "id": item.id,
                "name": item.name,
                "name_key": normalize_street_name(item.name) if item.name else None,
                "cls": item.cls or "",
                "coords_json": [[lon, lat] for lon, lat in item.coords],
            }
        )
    if not report.classes:
        raise ImportFailed(
            str(path),
            f"no named streets: {len(segments)} segments read, none with a name "
            f"({len(report.skipped)} skipped); the stored streets are unchanged",
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
    """Nearest named street for every lantern whose street was not named by its inventory file
    (those have a street and no distance); returns (changed, lanterns with a street)."""
    index = _street_index(db)
    with db.session() as session:
        current = {
            row.id: (row.street, row.street_distance_m)
            for row in lantern_store.list_lanterns(session, limit=10_000_000)
        }
        positions = lantern_store.all_positions(session)
    from_file = sum(1 for street, dist in current.values() if street is not None and dist is None)
    guessed = [
        p for p in positions if not (current[p[0]][0] is not None and current[p[0]][1] is None)
    ]
    streets = _street_columns(
        index, [p[1] for p in guessed], [p[2] for p in guessed], max_street_distance_m
    )
    changes = [
        {"id": lid, "street": s, "street_key": k, "street_distance_m": d}
        for (lid, _lon, _lat), (s, k, d) in zip(guessed, streets, strict=True)
        if current.get(lid) != (s, d)
    ]
    with db.session() as session:
        lantern_store.set_streets(session, changes)
    return len(changes), from_file + sum(1 for s in streets if s[0] is not None)
