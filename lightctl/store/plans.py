"""Delivery plans: a command's frozen lanterns, stored at once, their delivery rows written later.

``POST /alerts`` at 100,000 lanterns cannot write 300,000 delivery rows within its 1 s budget
(SQLite needs ~5 s for them, issue 14). It stores the commands and one plan row per command
holding the whole lantern list instead; the outbox then writes the rows in chunks
(``write_planned``), each chunk and the plan's ``written`` mark in one transaction, so a
restart resumes at the mark and a replica racing for the same chunk fails its guarded update
instead of writing a lantern twice. Until written, a lantern counts as ``planned``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from lightctl.domain.records import Command, Delivery
from lightctl.store.alerts import command_row, insert_planned
from lightctl.store.tables import DeliveryPlanRow


def save_plans(
    session: Session,
    alert_id: str,
    commands: Sequence[tuple[Command, Sequence[str]]],
    now: datetime,
) -> None:
    """Store commands with their lantern lists, no delivery rows yet (the caller commits)."""
    for command, _ids in commands:
        session.add(command_row(command))
    session.flush()
    for command, lantern_ids in commands:
        if not lantern_ids:
            continue
        session.add(
            DeliveryPlanRow(
                command_id=command.id,
                alert_id=alert_id,
                seq=command.seq,
                lanterns="\n".join(lantern_ids),
                total=len(lantern_ids),
                written=0,
                created_at=now,
            )
        )
    session.flush()


def write_planned(session: Session, now: datetime, limit: int) -> tuple[int, set[str]]:
    """Write up to ``limit`` delivery rows of the oldest plans; how many, and their alerts.

    Plans go in command order (audio before light and projection). A plan another replica
    holds is skipped (``FOR UPDATE SKIP LOCKED``); on SQLite the guarded update of ``written``
    makes the second of two racing writers write nothing."""
    query = (
        select(DeliveryPlanRow)
        .order_by(col(DeliveryPlanRow.seq))
        .limit(4)
        .with_for_update(skip_locked=True)
    )
    done = 0
    alerts: set[str] = set()
    for plan in list(session.exec(query)):
        if done >= limit:
            break
        written = _write_chunk(session, plan, now, limit - done)
        if written < 0:
            continue
        done += written
        if plan.alert_id:
            alerts.add(plan.alert_id)
    return done, alerts


def write_all(session: Session, alert_id: str, now: datetime) -> int:
    """Write every remaining row of the alert's plans now, waiting for a replica that holds
    one: run first in a transaction that changes the alert's deliveries (cancel, update)."""
    query = (
        select(DeliveryPlanRow)
        .where(col(DeliveryPlanRow.alert_id) == alert_id)
        .order_by(col(DeliveryPlanRow.seq))
        .with_for_update()
    )
    total = 0
    for plan in list(session.exec(query)):
        total += max(_write_chunk(session, plan, now, plan.total), 0)
    return total


def _write_chunk(session: Session, plan: DeliveryPlanRow, now: datetime, limit: int) -> int:
    """Rows for the next ``limit`` lanterns of ``plan``; -1 when another writer moved it on."""
    start = plan.written
    end = min(plan.total, start + limit)
    guard = (
        col(DeliveryPlanRow.command_id) == plan.command_id,
        col(DeliveryPlanRow.written) == start,
    )
    if end >= plan.total:
        moved = session.execute(delete(DeliveryPlanRow).where(*guard))
    else:
        moved = session.execute(update(DeliveryPlanRow).where(*guard).values(written=end))
    if not moved.rowcount:  # type: ignore[attr-defined]
        return -1
    ids = plan.lanterns.split("\n")[start:end]
    insert_planned(session, [(plan.command_id, lid, plan.alert_id or "") for lid in ids], now)
    return end - start


def unwritten_counts(session: Session, command_ids: Sequence[str]) -> dict[str, int]:
    """Per command, how many of its lanterns have no delivery row yet (all ``planned``)."""
    if not command_ids:
        return {}
    query = select(
        DeliveryPlanRow.command_id, DeliveryPlanRow.total, DeliveryPlanRow.written
    ).where(col(DeliveryPlanRow.command_id).in_(list(command_ids)))
    return {cid: total - written for cid, total, written in session.exec(query)}


def unwritten_ids(session: Session, command_id: str) -> list[str]:
    """The lanterns of a command that have no delivery row yet."""
    plan = session.get(DeliveryPlanRow, command_id)
    if plan is None:
        return []
    return plan.lanterns.split("\n")[plan.written :]


def unwritten_rows(session: Session, command_id: str, now: datetime) -> list[Delivery]:
    """The not-yet-written lanterns as `planned` deliveries (nothing is stored)."""
    plan = session.get(DeliveryPlanRow, command_id)
    if plan is None:
        return []
    return [
        Delivery(
            command_id=command_id,
            lantern_id=lid,
            alert_id=plan.alert_id,
            state="planned",
            reason=None,
            attempts=0,
            next_attempt_at=now,
            published_at=None,
            updated_at=now,
            played=None,
        )
        for lid in plan.lanterns.split("\n")[plan.written :]
    ]


def pending(session: Session) -> int:
    """Lanterns not yet written over every plan (a metric, and the benchmark's wait)."""
    rows = session.exec(select(DeliveryPlanRow.total, DeliveryPlanRow.written))
    return sum(total - written for total, written in rows)
