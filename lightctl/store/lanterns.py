"""Lantern and street inventory queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lightctl.domain.records import Lantern, LanternPresence
from lightctl.store.tables import InventoryVersionRow, LanternRow, StreetSegmentRow, utcnow

# Columns an import may change; a re-import that changes none of them is a no-op.
_IMPORT_FIELDS = (
    "lon",
    "lat",
    "orientation_deg",
    "street",
    "street_key",
    "street_distance_m",
    "cap_speaker",
    "cap_rgb",
    "cap_projector",
    "cap_path_light",
    "source",
)
# Keep statements well below SQLite's 32,766 bound parameters.
_BATCH = 500


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int


def upsert_lanterns(session: Session, rows: Sequence[dict[str, Any]]) -> UpsertCounts:
    """Insert new lanterns and update changed ones, keyed by the inventory's own id."""
    ids = [r["id"] for r in rows]
    existing: dict[str, dict[str, Any]] = {}
    columns: list[Any] = [LanternRow.id, *(getattr(LanternRow, f) for f in _IMPORT_FIELDS)]
    # Plain column tuples, not ORM objects (4 s less for 200,000 rows); one scan of the table
    # for a whole city instead of 400 batches of IN (...).
    if len(ids) > _SCAN_ABOVE:
        wanted = set(ids)
        for lid, *values in session.execute(sql_select(*columns)):
            if lid in wanted:
                existing[lid] = dict(zip(_IMPORT_FIELDS, values, strict=True))
    for start in range(0, len(ids) if len(ids) <= _SCAN_ABOVE else 0, _BATCH):
        chunk = ids[start : start + _BATCH]
        query = sql_select(*columns).where(col(LanternRow.id).in_(chunk))
        for lid, *values in session.execute(query):
            existing[lid] = dict(zip(_IMPORT_FIELDS, values, strict=True))
    now = utcnow()
    new = [{**r, "updated_at": now} for r in rows if r["id"] not in existing]
    changed = [
        {**r, "updated_at": now}
        for r in rows
        if r["id"] in existing and _differs(existing[r["id"]], r)
    ]
    table = LanternRow.__table__  # type: ignore[attr-defined]
    for start in range(0, len(new), _BATCH):
        # A Core executemany (every row has every key): the ORM's bulk insert split rows whose
        # None columns differ into runs, 93,000 statements for 200,000 rows.
        session.execute(insert(table), new[start : start + _BATCH])
    for start in range(0, len(changed), _BATCH):
        session.execute(update(LanternRow), changed[start : start + _BATCH])
    if new or changed:
        bump_inventory_version(session)
    return UpsertCounts(len(new), len(changed), len(rows) - len(new) - len(changed))


def _differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    # Fast path: a re-import of the same file computes the very same values (exact equality).
    if all(old.get(f) == new[f] for f in _IMPORT_FIELDS if f in new):
        return False
    for field in _IMPORT_FIELDS:
        if field not in new:
            continue
        a, b = old.get(field), new[field]
        if isinstance(a, float) and isinstance(b, float):
            if abs(a - b) > 1e-9:
                return True
        elif a != b:
            return True
    return False


def all_positions(session: Session) -> list[tuple[str, float, float]]:
    rows = session.exec(select(LanternRow.id, LanternRow.lon, LanternRow.lat)).all()
    return [(r[0], r[1], r[2]) for r in rows]


def set_streets(session: Session, assignments: Iterable[dict[str, Any]]) -> int:
    """Write street, street_key and street_distance_m for lanterns given by id."""
    now = utcnow()
    batch = [{**a, "updated_at": now} for a in assignments]
    for start in range(0, len(batch), _BATCH):
        session.execute(update(LanternRow), batch[start : start + _BATCH])
    if batch:
        bump_inventory_version(session)
    return len(batch)


@dataclass(frozen=True, slots=True)
class IndexRows:
    """The columns the in-memory lantern index is built from, one list per column."""

    ids: list[str]
    lons: list[float]
    lats: list[float]
    street_keys: list[str | None]
    capabilities: list[tuple[bool, bool, bool, bool]]
    online: list[bool | None]
    street_names: dict[str, str]


def inventory_version(session: Session) -> int:
    """The inventory's version: a primary-key lookup, cheap enough to ask before every
    resolution (a count(*) over 1,000,000 rows costs PostgreSQL tens of milliseconds)."""
    row = session.get(InventoryVersionRow, 1)
    return 0 if row is None else row.version


def bump_inventory_version(session: Session) -> None:
    """Part of the transaction that changes lanterns, so the version and the rows agree."""
    now = utcnow()
    values = {"version": InventoryVersionRow.version + 1, "changed_at": now}
    bumped = session.execute(
        update(InventoryVersionRow).where(col(InventoryVersionRow.id) == 1).values(values)
    )
    if getattr(bumped, "rowcount", 0):
        return
    try:
        with session.begin_nested():  # the very first change: create the row
            session.add(InventoryVersionRow(id=1, version=1, changed_at=now))
    except IntegrityError:  # another process created it meanwhile
        session.execute(
            update(InventoryVersionRow).where(col(InventoryVersionRow.id) == 1).values(values)
        )


def index_rows(session: Session) -> IndexRows:
    columns: list[Any] = [
        LanternRow.id,
        LanternRow.lon,
        LanternRow.lat,
        LanternRow.street_key,
        LanternRow.street,
        LanternRow.cap_speaker,
        LanternRow.cap_rgb,
        LanternRow.cap_projector,
        LanternRow.cap_path_light,
        LanternRow.online,
    ]
    # Ten columns: past what select()'s typed overloads take, so SQLAlchemy's untyped form.
    query = sql_select(*columns)
    out = IndexRows([], [], [], [], [], [], {})
    for lid, lon, lat, key, street, c1, c2, c3, c4, online in session.execute(query):
        out.ids.append(lid)
        out.lons.append(lon)
        out.lats.append(lat)
        out.street_keys.append(key)
        out.capabilities.append((c1, c2, c3, c4))
        out.online.append(online)
        if key is not None and street is not None:
            out.street_names.setdefault(key, street)
    return out


# Above this many ids one scan of the table beats batches of IN (...) queries.
_SCAN_ABOVE = 20_000


def availability_of(session: Session, ids: Sequence[str]) -> dict[str, bool | None]:
    """Current ``online`` of the given lanterns (None: never reported)."""
    wanted = set(ids)
    if len(wanted) > _SCAN_ABOVE:
        rows = session.exec(select(LanternRow.id, LanternRow.online))
        return {lid: online for lid, online in rows if lid in wanted}
    out: dict[str, bool | None] = {}
    chunks = sorted(wanted)
    for start in range(0, len(chunks), _BATCH):
        chunk = chunks[start : start + _BATCH]
        query = select(LanternRow.id, LanternRow.online).where(col(LanternRow.id).in_(chunk))
        out.update({lid: online for lid, online in session.exec(query)})
    return out


def _lantern(row: LanternRow) -> Lantern:
    flags = (
        ("speaker", row.cap_speaker),
        ("rgb", row.cap_rgb),
        ("projector", row.cap_projector),
        ("path_light", row.cap_path_light),
    )
    return Lantern(
        id=row.id,
        lon=row.lon,
        lat=row.lat,
        orientation_deg=row.orientation_deg,
        street=row.street,
        street_key=row.street_key,
        street_distance_m=row.street_distance_m,
        capabilities=tuple(name for name, on in flags if on),
        source=row.source,
        online=row.online,
        boot=row.boot,
        gateway=row.gateway,
        last_seen=row.last_seen,
    )


def get_lantern(session: Session, lantern_id: str) -> Lantern | None:
    row = session.get(LanternRow, lantern_id)
    return _lantern(row) if row is not None else None


def list_lanterns(
    session: Session, street_key: str | None = None, limit: int = 1000, offset: int = 0
) -> list[Lantern]:
    query = select(LanternRow).order_by(col(LanternRow.id))
    if street_key is not None:
        query = query.where(LanternRow.street_key == street_key)
    return [_lantern(row) for row in session.exec(query.offset(offset).limit(limit))]


def gateways_of_all(session: Session) -> list[tuple[str, str | None]]:
    """Every lantern id with its gateway (None: not heard of through one), by id."""
    query = select(LanternRow.id, LanternRow.gateway).order_by(col(LanternRow.id))
    return [(lid, gateway) for lid, gateway in session.exec(query)]


def count_lanterns(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(LanternRow)).one())


def existing_ids(session: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        found.update(session.exec(select(LanternRow.id).where(col(LanternRow.id).in_(chunk))))
    return found


def ids_on_streets(session: Session, street_keys: Sequence[str]) -> dict[str, list[str]]:
    """Lantern ids per normalised street key."""
    out: dict[str, list[str]] = {k: [] for k in street_keys}
    query = select(LanternRow.street_key, LanternRow.id).where(
        col(LanternRow.street_key).in_(list(street_keys))
    )
    for key, lantern_id in session.exec(query):
        if key is not None:
            out[key].append(lantern_id)
    return out


def street_names(session: Session) -> dict[str, str]:
    """Normalised key → display name of every street that has at least one lantern."""
    query = (
        select(LanternRow.street_key, LanternRow.street)
        .where(col(LanternRow.street_key).is_not(None))
        .distinct()
    )
    return {k: n for k, n in session.exec(query) if k is not None and n is not None}


def street_lantern_counts(session: Session) -> list[tuple[str, int]]:
    query = (
        select(LanternRow.street, func.count())
        .where(col(LanternRow.street).is_not(None))
        .group_by(col(LanternRow.street))
        .order_by(col(LanternRow.street))
    )
    return [(name, int(n)) for name, n in session.exec(query) if name is not None]


def replace_streets(session: Session, segments: Sequence[dict[str, Any]]) -> UpsertCounts:
    """Upsert street segments by id (a re-import of the same file changes nothing)."""
    existing = {
        r.id: (r.name, r.cls, r.coords_json) for r in session.exec(select(StreetSegmentRow))
    }
    new = [s for s in segments if s["id"] not in existing]
    changed = [
        s
        for s in segments
        if s["id"] in existing and existing[s["id"]] != (s["name"], s["cls"], s["coords_json"])
    ]
    for start in range(0, len(new), _BATCH):
        session.execute(insert(StreetSegmentRow), new[start : start + _BATCH])
    for start in range(0, len(changed), _BATCH):
        session.execute(update(StreetSegmentRow), changed[start : start + _BATCH])
    return UpsertCounts(len(new), len(changed), len(segments) - len(new) - len(changed))


def all_street_segments(session: Session) -> list[tuple[str, str | None, str, list[list[float]]]]:
    rows = session.exec(select(StreetSegmentRow))
    return [(r.id, r.name, r.cls, r.coords_json) for r in rows]


def street_segments_fingerprint(session: Session) -> tuple[int, int, int]:
    """(segments, geometry characters, name characters): one aggregate scan that changes with
    any street import that adds, moves or renames segments, so a cached basemap can be reused
    without reading and parsing every segment (a rename to a name of equal length is missed)."""
    size = func.coalesce(func.sum(func.length(StreetSegmentRow.coords_json)), 0)
    names = func.coalesce(func.sum(func.length(StreetSegmentRow.name)), 0)
    count, coords, named = session.execute(sql_select(func.count(), size, names)).one()
    return int(count), int(coords), int(named)


def street_class_counts(session: Session) -> tuple[tuple[str, int], ...]:
    """Segments per class, sorted: with ``street_segments_fingerprint`` the version of what can
    be walked (a re-import that turns a footway into a motorway changes it)."""
    cls: Any = StreetSegmentRow.cls
    query = sql_select(cls, func.count()).group_by(cls)
    return tuple(sorted((str(c), int(n)) for c, n in session.execute(query)))


def live_rows(session: Session) -> list[tuple[str, float, float, bool | None]]:
    """(id, lon, lat, online) of every lantern, ordered by id."""
    query = select(LanternRow.id, LanternRow.lon, LanternRow.lat, LanternRow.online).order_by(
        col(LanternRow.id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.exec(query)]


def delete_all_streets(session: Session) -> None:
    session.execute(delete(StreetSegmentRow))


def set_availability(
    session: Session, lantern_id: str, online: bool, boot: int, gateway: str | None, at: datetime
) -> bool:
    row = session.get(LanternRow, lantern_id)
    if row is None:
        return False
    row.online, row.boot, row.gateway, row.last_seen = online, boot, gateway, at
    session.add(row)
    return True


def set_gateway_offline(session: Session, gateway: str) -> int:
    result = session.execute(
        update(LanternRow).where(col(LanternRow.gateway) == gateway).values(online=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def offline_ids(session: Session, ids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        query = select(LanternRow.id).where(
            col(LanternRow.id).in_(chunk), col(LanternRow.online).is_(False)
        )
        out.update(session.exec(query))
    return out


def capabilities_of(session: Session, ids: Sequence[str]) -> dict[str, frozenset[str]]:
    """What each lantern can do (speaker, rgb, projector, path_light), by id."""
    out: dict[str, frozenset[str]] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        for row in session.exec(select(LanternRow).where(col(LanternRow.id).in_(chunk))):
            flags = {
                "speaker": row.cap_speaker,
                "rgb": row.cap_rgb,
                "projector": row.cap_projector,
                "path_light": row.cap_path_light,
            }
            out[row.id] = frozenset(name for name, on in flags.items() if on)
    return out


def presence_of(session: Session, ids: Sequence[str]) -> dict[str, LanternPresence]:
    """What was last heard of these lanterns, in a few queries (an availability burst of a
    whole gateway); lanterns not in the inventory are left out."""
    wanted = sorted(set(ids))
    out: dict[str, LanternPresence] = {}
    for start in range(0, len(wanted), _BATCH):
        query = sql_select(
            col(LanternRow.id),
            col(LanternRow.online),
            col(LanternRow.boot),
            col(LanternRow.gateway),
            col(LanternRow.last_seen),
        ).where(col(LanternRow.id).in_(wanted[start : start + _BATCH]))
        out.update(
            {
                lid: LanternPresence(online, boot, gateway, seen)
                for lid, online, boot, gateway, seen in session.execute(query)
            }
        )
    return out


def record_presence(session: Session, heard: Mapping[str, LanternPresence]) -> None:
    """Store what was heard of each lantern, in one statement for the batch."""
    if not heard:
        return
    table = LanternRow.__table__  # type: ignore[attr-defined]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("lantern_id"))
        .values(
            online=bindparam("p_online"),
            boot=bindparam("p_boot"),
            gateway=bindparam("p_gateway"),
            last_seen=bindparam("p_seen"),
        )
    )
    session.connection().execute(
        stmt,
        [
            {
                "lantern_id": lid,
                "p_online": p.online,
                "p_boot": p.boot,
                "p_gateway": p.gateway,
                "p_seen": p.last_seen,
            }
            for lid, p in heard.items()
        ],
    )
