"""Steerings, their delivery counts per channel, and who still holds a slot on which lantern.

Steerings leave and enter this module as ``domain.records.Steering``, never as table rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from lightctl.domain.records import Command, Steering
from lightctl.store.alerts import command_of
from lightctl.store.tables import CommandRow, DeliveryRow, LanternRow, SteeringRow

_BATCH = 500


def _steering(row: SteeringRow) -> Steering:
    return Steering(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=row.status,
        priority=row.priority,
        label=row.label,
        target=row.target_json,
        guidance=row.guidance_json,
        settings=row.settings_json,
        ends_at=row.ends_at,
        lantern_count=row.lantern_count,
        unsupported=row.unsupported_json,
        released_at=row.released_at,
        owner=row.owner,
    )


def save_steering(session: Session, steering: Steering) -> None:
    session.add(
        SteeringRow(
            id=steering.id,
            created_at=steering.created_at,
            updated_at=steering.updated_at,
            status=steering.status,
            priority=steering.priority,
            label=steering.label,
            target_json=steering.target,
            guidance_json=steering.guidance,
            settings_json=steering.settings,
            ends_at=steering.ends_at,
            lantern_count=steering.lantern_count,
            unsupported_json=steering.unsupported,
            released_at=steering.released_at,
            owner=steering.owner,
        )
    )
    session.flush()


def get_steering(session: Session, steering_id: str) -> Steering | None:
    row = session.get(SteeringRow, steering_id, populate_existing=True)
    return None if row is None else _steering(row)


def mark_released(session: Session, steering_id: str, now: datetime) -> bool:
    """Record the release (only of an active steering); False when it was released already."""
    result = session.execute(
        update(SteeringRow)
        .where(col(SteeringRow.id) == steering_id)
        .where(col(SteeringRow.status) == "active")
        .values(status="released", released_at=now, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_steering(
    session: Session,
    limit: int,
    offset: int,
    active_at: datetime | None = None,
    owner: str | None = None,
) -> list[Steering]:
    """Newest first; with ``active_at`` only those not released and not ended by then, with
    ``owner`` only that owner's."""
    query = select(SteeringRow)
    if owner is not None:
        query = query.where(SteeringRow.owner == owner)
    if active_at is not None:
        query = query.where(SteeringRow.status == "active").where(
            col(SteeringRow.ends_at) > active_at
        )
    query = query.order_by(col(SteeringRow.created_at).desc()).offset(offset).limit(limit)
    return [_steering(row) for row in session.exec(query)]


def state_counts(session: Session, issuer_id: str) -> dict[tuple[str, str], dict[str, int]]:
    """Delivery states per (channel, op) over every command of one issuer."""
    query = (
        select(CommandRow.channel, CommandRow.op, DeliveryRow.state, func.count())
        .join(DeliveryRow, col(DeliveryRow.command_id) == col(CommandRow.id))
        .where(CommandRow.alert_id == issuer_id)
        .group_by(col(CommandRow.channel), col(CommandRow.op), col(DeliveryRow.state))
    )
    out: dict[tuple[str, str], dict[str, int]] = {}
    for channel, op, state, n in session.exec(query):
        out.setdefault((channel, op), {})[state] = int(n)
    return out


def command_count(session: Session, issuer_id: str) -> int:
    query = select(func.count()).select_from(CommandRow).where(CommandRow.alert_id == issuer_id)
    return int(session.exec(query).one())


@dataclass(frozen=True, slots=True)
class LanternDelivery:
    lantern_id: str
    channel: str
    op: str
    command_id: str
    state: str
    reason: str | None


def lantern_deliveries(session: Session, issuer_id: str) -> list[LanternDelivery]:
    query = (
        select(DeliveryRow, CommandRow)
        .join(CommandRow, col(CommandRow.id) == col(DeliveryRow.command_id))
        .where(CommandRow.alert_id == issuer_id)
        .order_by(col(DeliveryRow.lantern_id), col(CommandRow.seq))
    )
    return [
        LanternDelivery(d.lantern_id, c.channel, c.op, c.id, d.state, d.reason)
        for d, c in session.exec(query)
    ]


def positions_of(session: Session, ids: Sequence[str]) -> dict[str, tuple[float, float]]:
    """lon, lat of the given lanterns."""
    out: dict[str, tuple[float, float]] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        query = select(LanternRow.id, LanternRow.lon, LanternRow.lat).where(
            col(LanternRow.id).in_(chunk)
        )
        out.update({lid: (lon, lat) for lid, lon, lat in session.exec(query)})
    return out


def live_sets(session: Session, issuer_id: str, now: datetime) -> list[Command]:
    """An issuer's `set` commands that may still hold a slot somewhere (not expired)."""
    query = (
        select(CommandRow)
        .where(CommandRow.alert_id == issuer_id)
        .where(CommandRow.op == "set")
        .where(col(CommandRow.expires_at) > now)
        .order_by(col(CommandRow.seq))
    )
    return [command_of(row) for row in session.exec(query)]


def sent_to(session: Session, lantern_id: str, now: datetime) -> list[tuple[Command, str]]:
    """What the service sent one lantern that may still count: sets not yet expired, and the
    releases after the oldest of them; each with the delivery's state."""
    base = (
        select(CommandRow, DeliveryRow.state)
        .join(DeliveryRow, col(DeliveryRow.command_id) == col(CommandRow.id))
        .where(DeliveryRow.lantern_id == lantern_id)
    )
    sets = list(
        session.exec(base.where(CommandRow.op == "set").where(col(CommandRow.expires_at) > now))
    )
    if not sets:
        return []
    oldest = min(c.seq for c, _s in sets)
    releases = session.exec(
        base.where(CommandRow.op == "release").where(col(CommandRow.seq) > oldest)
    )
    return [(command_of(c), s) for c, s in sets] + [(command_of(c), s) for c, s in releases]


def commands_by_id(session: Session, ids: Sequence[str]) -> dict[str, Command]:
    out: dict[str, Command] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        query = select(CommandRow).where(col(CommandRow.id).in_(chunk))
        out.update({c.id: command_of(c) for c in session.exec(query)})
    return out
