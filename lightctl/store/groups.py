"""Named lantern groups: static lists or stored targets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lightctl.domain.targets import GroupDefinition, target_from_json, target_to_json
from lightctl.errors import Conflict
from lightctl.store.tables import GroupRow


def _definition(row: GroupRow) -> GroupDefinition:
    lanterns = tuple(row.lanterns_json) if row.lanterns_json else ()
    target = target_from_json(row.target_json) if row.target_json else None
    return GroupDefinition(row.name, lanterns, target, row.description)


def all_groups(session: Session) -> list[tuple[GroupDefinition, GroupRow]]:
    rows = session.exec(select(GroupRow).order_by(col(GroupRow.name)))
    return [(_definition(row), row) for row in rows]


def definitions(session: Session) -> dict[str, GroupDefinition]:
    """Every group by name (groups are few: one query per resolution is cheap)."""
    return {d.name: d for d, _row in all_groups(session)}


def get_group(session: Session, name: str) -> tuple[GroupDefinition, GroupRow] | None:
    row = session.get(GroupRow, name)
    return None if row is None else (_definition(row), row)


def save_group(session: Session, group: GroupDefinition, now: datetime) -> GroupRow:
    """Insert the group, or replace the definition of the group of that name."""
    row = session.get(GroupRow, group.name) or GroupRow(name=group.name, created_at=now)
    row.description = group.description
    row.lanterns_json = None if group.target is not None else list(group.lanterns)
    row.target_json = None if group.target is None else target_to_json(group.target)
    row.updated_at = now
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # created by someone else since we looked
        raise Conflict(f"group {group.name!r} was created concurrently; try again") from exc
    return row


def delete_group(session: Session, name: str) -> bool:
    row = session.get(GroupRow, name)
    if row is None:
        return False
    session.delete(row)
    return True
