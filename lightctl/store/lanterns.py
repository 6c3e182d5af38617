"""Lantern and street inventory queries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, col, select

from lightctl.store.tables import LanternRow, StreetSegmentRow, utcnow

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
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        for row in session.exec(select(LanternRow).where(col(LanternRow.id).in_(chunk))):
            existing[row.id] = {f: getattr(row, f) for f in _IMPORT_FIELDS}
    now = utcnow()
    new = [{**r, "updated_at": now} for r in rows if r["id"] not in existing]
    changed = [
        {**r, "updated_at": now}
        for r in rows
        if r["id"] in existing and _differs(existing[r["id"]], r)
    ]
    for start in range(0, len(new), _BATCH):
        session.execute(insert(LanternRow), new[start : start + _BATCH])
    for start in range(0, len(changed), _BATCH):
        session.execute(update(LanternRow), changed[start : start + _BATCH])
    return UpsertCounts(len(new), len(changed), len(rows) - len(new) - len(changed))


def _differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
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
    batch = list(assignments)
    for start in range(0, len(batch), _BATCH):
        session.execute(update(LanternRow), batch[start : start + _BATCH])
    return len(batch)


def get_lantern(session: Session, lantern_id: str) -> LanternRow | None:
    return session.get(LanternRow, lantern_id)


def list_lanterns(
    session: Session, street_key: str | None = None, limit: int = 1000, offset: int = 0
) -> list[LanternRow]:
    query = select(LanternRow).order_by(col(LanternRow.id))
    if street_key is not None:
        query = query.where(LanternRow.street_key == street_key)
    return list(session.exec(query.offset(offset).limit(limit)))


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
    return [(r.id, r.name, r.cls, json.loads(r.coords_json)) for r in rows]


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
