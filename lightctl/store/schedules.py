"""Schedules, and the switching commands each has sent (so a restart never sends one twice)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lightctl.domain.records import StoredSchedule
from lightctl.errors import Conflict
from lightctl.store.tables import DeliveryRow, ScheduleCommandRow, ScheduleRow


def _schedule(row: ScheduleRow) -> StoredSchedule:
    return StoredSchedule(
        name=row.name,
        group_name=row.group_name,
        definition=dict(row.definition_json),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def all_schedules(session: Session) -> list[StoredSchedule]:
    query = select(ScheduleRow).order_by(col(ScheduleRow.name))
    return [_schedule(row) for row in session.exec(query)]


def get_schedule(session: Session, name: str) -> StoredSchedule | None:
    row = session.get(ScheduleRow, name)
    return _schedule(row) if row is not None else None


def save_schedule(
    session: Session, name: str, group: str | None, definition: dict[str, Any], now: datetime
) -> None:
    row = session.get(ScheduleRow, name) or ScheduleRow(
        name=name, definition_json=definition, created_at=now
    )
    row.group_name = group
    row.definition_json = definition
    row.updated_at = now
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # another schedule took the group meanwhile
        raise Conflict(f"group {group!r} already has a schedule") from exc


def delete_schedule(session: Session, name: str) -> None:
    row = session.get(ScheduleRow, name)
    if row is not None:
        session.delete(row)
    forget_commands(session, name)


def sent_commands(session: Session, schedule: str, keys: Sequence[str]) -> dict[str, str]:
    """key → command id of the switching commands already sent under these keys."""
    if not keys:
        return {}
    query = (
        select(ScheduleCommandRow.key, ScheduleCommandRow.command_id)
        .where(ScheduleCommandRow.schedule == schedule)
        .where(col(ScheduleCommandRow.key).in_(list(keys)))
    )
    return {key: cid for key, cid in session.exec(query)}


def remember_command(
    session: Session, schedule: str, key: str, command_id: str, ends_at: datetime
) -> None:
    session.add(
        ScheduleCommandRow(schedule=schedule, key=key, command_id=command_id, ends_at=ends_at)
    )


def forget_commands(session: Session, schedule: str) -> None:
    """After a change: the next pass sends the current step again, under the new rules."""
    session.execute(delete(ScheduleCommandRow).where(col(ScheduleCommandRow.schedule) == schedule))


def prune(session: Session, before: datetime) -> None:
    session.execute(delete(ScheduleCommandRow).where(col(ScheduleCommandRow.ends_at) < before))


def add_deliveries(
    session: Session, command_id: str, issuer_id: str, lantern_ids: Sequence[str], now: datetime
) -> None:
    """Send an already stored command to more lanterns (joined the group mid-step)."""
    rows = [
        {
            "command_id": command_id,
            "lantern_id": lid,
            "alert_id": issuer_id,
            "state": "planned",
            "attempts": 0,
            "updated_at": now,
            "next_attempt_at": now,
        }
        for lid in lantern_ids
    ]
    for start in range(0, len(rows), 500):
        session.execute(insert(DeliveryRow), rows[start : start + 500])
