"""Alerts, their commands and the per-lantern delivery rows (the outbox).

Alerts and deliveries leave this module as ``domain.records`` (``Alert``, ``Delivery``), never
as table rows; an alert comes back as a record too (``save_alert``, ``revise_alert``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, update
from sqlmodel import Session, col, select

from lightctl.domain.records import Alert, Command, Delivery
from lightctl.store.mapping import record_of, row_of
from lightctl.store.tables import AlertRow, CommandRow, DeliveryRow
from lightctl.store.types import UtcDateTime

_BATCH = 500


OPEN_STATES = ("planned", "published", "received", "playing")


def _alert(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=row.status,
        priority=row.priority,
        exercise=row.exercise,
        signal=row.signal,
        template=row.template,
        target=row.target_json,
        messages=row.messages_json,
        languages=tuple(row.languages_json),
        clips=row.clips_json,
        params=row.params_json,
        repeat=row.repeat,
        volume=row.volume,
        expires_at=row.expires_at,
        lantern_count=row.lantern_count,
        severity=row.severity,
        primary_command_id=row.primary_command_id,
        ended_at=row.ended_at,
        revision=row.revision,
        guidance=row.guidance_json,
    )


def command_of(row: CommandRow) -> Command:
    """The record of a command row (the store's boundary: nothing above it sees a row)."""
    return record_of(Command, row)


def command_row(command: Command) -> CommandRow:
    return row_of(CommandRow, command)


def _delivery(row: DeliveryRow) -> Delivery:
    return Delivery(
        command_id=row.command_id,
        lantern_id=row.lantern_id,
        alert_id=row.alert_id,
        state=row.state,
        reason=row.reason,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        published_at=row.published_at,
        updated_at=row.updated_at,
        played=None if row.played_json is None else tuple(row.played_json),
        ack_kid=row.ack_kid,
    )


def _content(alert: Alert) -> dict[str, Any]:
    """The columns a change of the alert's words, target or expiry writes (not its lifecycle:
    status, ended_at and revision move only through ``transition``)."""
    return {
        "updated_at": alert.updated_at,
        "signal": alert.signal,
        "template": alert.template,
        "target_json": alert.target,
        "messages_json": alert.messages,
        "languages_json": list(alert.languages),
        "clips_json": alert.clips,
        "params_json": alert.params,
        "expires_at": alert.expires_at,
        "lantern_count": alert.lantern_count,
        "severity": alert.severity,
        "primary_command_id": alert.primary_command_id,
        "guidance_json": alert.guidance,
    }


# Delivery rows of one alert go in with the driver's own bulk path (COPY on PostgreSQL, one
# executemany on SQLite): the ORM's bulk insert spent 13 of 18 s on 300,000 rows (issue 14).
_DELIVERY_COLUMNS = "command_id, lantern_id, alert_id, state, attempts, updated_at, next_attempt_at"


def save_commands(
    session: Session,
    alert_id: str,
    commands: Sequence[tuple[Command, Sequence[str]]],
    *,
    now: datetime,
) -> None:
    """Store commands with one `planned` delivery row per lantern, in the caller's transaction;
    each is due at ``now`` (the caller's clock: the outbox compares with the same one)."""
    for command, _ids in commands:
        session.add(command_row(command))
    session.flush()
    rows = [
        (command.id, lantern_id, alert_id)
        for command, lantern_ids in commands
        for lantern_id in lantern_ids
    ]
    if rows:
        insert_planned(session, rows, now)


def insert_planned(session: Session, rows: Sequence[tuple[str, str, str]], now: datetime) -> None:
    """Bulk insert `planned` delivery rows (command id, lantern id, alert id), due ``now``."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY delivery ({_DELIVERY_COLUMNS}) FROM STDIN") as copy:
            for command_id, lantern_id, alert in rows:
                copy.write_row((command_id, lantern_id, alert, "planned", 0, now, now))
        return
    if dialect.name == "sqlite":
        # The exact text the stamp column type writes on SQLite, computed once for every row
        # (the dialect's processor: a bare DateTime has none, and the driver's own spelling of
        # a datetime, "+00:00" appended, sorts after the same moment written by SQLAlchemy).
        processor = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
        stamp = processor(now) if processor is not None else now
        connection.exec_driver_sql(
            # S608: the column list is a constant of this module, no input reaches the text.
            f"INSERT INTO delivery ({_DELIVERY_COLUMNS}) VALUES (?, ?, ?, 'planned', 0, ?, ?)",  # noqa: S608
            [(c, lid, a, stamp, stamp) for c, lid, a in rows],
        )
        return
    table = DeliveryRow.__table__  # type: ignore[attr-defined]
    values = [
        {
            "command_id": c,
            "lantern_id": lid,
            "alert_id": a,
            "state": "planned",
            "attempts": 0,
            "updated_at": now,
            "next_attempt_at": now,
        }
        for c, lid, a in rows
    ]
    for start in range(0, len(values), _BATCH):
        connection.execute(insert(table), values[start : start + _BATCH])


def save_alert(
    session: Session,
    alert: Alert,
    commands: Sequence[tuple[Command, Sequence[str]]],
    *,
    now: datetime,
) -> None:
    """Store the alert and its commands with their delivery rows in the caller's transaction."""
    session.add(
        AlertRow(
            id=alert.id,
            created_at=alert.created_at,
            status=alert.status,
            priority=alert.priority,
            exercise=alert.exercise,
            repeat=alert.repeat,
            volume=alert.volume,
            ended_at=alert.ended_at,
            revision=alert.revision,
            **_content(alert),
        )
    )
    session.flush()
    save_commands(session, alert.id, commands, now=now)


def revise_alert(session: Session, alert: Alert) -> bool:
    """Write an alert's new words, target, expiry and primary command (its lifecycle moves only
    through ``transition``, which the caller ran first in this transaction); False when the
    alert is gone."""
    result = session.execute(
        update(AlertRow).where(col(AlertRow.id) == alert.id).values(**_content(alert))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def transition(
    session: Session,
    alert_id: str,
    *,
    from_status: Sequence[str],
    now: datetime,
    to_status: str | None = None,
    revision: int | None = None,
    ended: bool = False,
) -> bool:
    """Move an alert on in one guarded statement: True when this caller won the change.

    The statement checks the status (and, given, the revision the caller read) and raises the
    revision; on PostgreSQL it also locks the row until the caller's transaction ends, so two
    replicas changing one alert are serialised and the second sees the first's outcome. Run it
    first in the transaction that writes the change's commands.
    """
    values: dict[str, object] = {
        "revision": col(AlertRow.revision) + 1,
        "updated_at": now,
    }
    if to_status is not None:
        values["status"] = to_status
    if ended:
        values["ended_at"] = now
    stmt = (
        update(AlertRow)
        .where(col(AlertRow.id) == alert_id)
        .where(col(AlertRow.status).in_(list(from_status)))
        .values(**values)
    )
    if revision is not None:
        stmt = stmt.where(col(AlertRow.revision) == revision)
    result = session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def commands_of(session: Session, alert_id: str) -> list[Command]:
    query = (
        select(CommandRow)
        .where(CommandRow.alert_id == alert_id)
        .order_by(col(CommandRow.seq), col(CommandRow.channel))
    )
    return [command_of(row) for row in session.exec(query)]


def counts_of_commands(session: Session, command_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per command, its deliveries per state, in one grouped query (an alert report lists tens
    of commands after a few edits: one query each cost 1-3 ms apiece, on every poll)."""
    out: dict[str, dict[str, int]] = {c: {} for c in command_ids}
    for start in range(0, len(command_ids), _BATCH):
        chunk = list(command_ids[start : start + _BATCH])
        query = (
            select(DeliveryRow.command_id, DeliveryRow.state, func.count())
            .where(col(DeliveryRow.command_id).in_(chunk))
            .group_by(col(DeliveryRow.command_id), col(DeliveryRow.state))
        )
        for command_id, state, n in session.exec(query):
            out[command_id][state] = int(n)
    return out


def lanterns_of(session: Session, command_id: str) -> list[str]:
    query = (
        select(DeliveryRow.lantern_id)
        .where(DeliveryRow.command_id == command_id)
        .order_by(col(DeliveryRow.lantern_id))
    )
    return list(session.exec(query))


def lanterns_of_commands(session: Session, command_ids: Sequence[str]) -> dict[str, list[str]]:
    """``lanterns_of`` for several commands in one query per chunk."""
    out: dict[str, list[str]] = {c: [] for c in command_ids}
    for start in range(0, len(command_ids), _BATCH):
        chunk = list(command_ids[start : start + _BATCH])
        query = (
            select(DeliveryRow.command_id, DeliveryRow.lantern_id)
            .where(col(DeliveryRow.command_id).in_(chunk))
            .order_by(col(DeliveryRow.command_id), col(DeliveryRow.lantern_id))
        )
        for command_id, lantern_id in session.exec(query):
            out[command_id].append(lantern_id)
    return out


def open_lanterns_of_commands(session: Session, command_ids: Sequence[str]) -> dict[str, set[str]]:
    """Per command, the lanterns whose delivery is not final or is ``applied``: those that
    hold it or will (what ``close_open`` would end)."""
    out: dict[str, set[str]] = {c: set() for c in command_ids}
    for start in range(0, len(command_ids), _BATCH):
        chunk = list(command_ids[start : start + _BATCH])
        query = (
            select(DeliveryRow.command_id, DeliveryRow.lantern_id)
            .where(col(DeliveryRow.command_id).in_(chunk))
            .where(col(DeliveryRow.state).in_((*OPEN_STATES, "applied")))
        )
        for command_id, lantern_id in session.exec(query):
            out[command_id].add(lantern_id)
    return out


def close_open(
    session: Session,
    command_id: str,
    state: str,
    reason: str,
    now: datetime,
    lantern_ids: Sequence[str] | None = None,
) -> None:
    """End every not-yet-final delivery of a command (cancelled, superseded), or only some.

    ``applied`` ends too: a light or projection the service has taken back must never be sent
    again to a lantern that reboots before the command's expiry."""
    stmt = (
        update(DeliveryRow)
        .where(col(DeliveryRow.command_id) == command_id)
        .where(col(DeliveryRow.state).in_((*OPEN_STATES, "applied")))
    )
    if lantern_ids is not None:
        for start in range(0, len(lantern_ids), _BATCH):
            chunk = list(lantern_ids[start : start + _BATCH])
            session.execute(
                stmt.where(col(DeliveryRow.lantern_id).in_(chunk)).values(
                    state=state, reason=reason, next_attempt_at=None, updated_at=now
                )
            )
        return
    session.execute(stmt.values(state=state, reason=reason, next_attempt_at=None, updated_at=now))


def close_open_many(
    session: Session, command_ids: Sequence[str], state: str, reason: str, now: datetime
) -> None:
    """``close_open`` for every delivery of several commands, in one statement per chunk."""
    for start in range(0, len(command_ids), _BATCH):
        chunk = list(command_ids[start : start + _BATCH])
        session.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.command_id).in_(chunk))
            .where(col(DeliveryRow.state).in_((*OPEN_STATES, "applied")))
            .values(state=state, reason=reason, next_attempt_at=None, updated_at=now)
        )


def close_open_pairs(
    session: Session, pairs: Sequence[tuple[str, str]], state: str, reason: str, now: datetime
) -> None:
    """``close_open`` for these (command id, lantern id) deliveries, in one executemany."""
    if not pairs:
        return
    table = DeliveryRow.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.command_id == bindparam("b_cid"))
        .where(table.c.lantern_id == bindparam("b_lid"))
        # Spelled out: an expanding IN cannot run as an executemany.
        .where(or_(*(table.c.state == s for s in (*OPEN_STATES, "applied"))))
        .values(state=state, reason=reason, next_attempt_at=None, updated_at=now)
    )
    session.connection().execute(stmt, [{"b_cid": c, "b_lid": lid} for c, lid in pairs])


def get_alert(session: Session, alert_id: str) -> Alert | None:
    row = session.get(AlertRow, alert_id, populate_existing=True)
    return None if row is None else _alert(row)


def lanterns_released(session: Session, command_ids: Sequence[str]) -> dict[str, int]:
    """Per lantern over these release commands: how many have every release confirmed
    (``confirmed``), one still on its way (``open``), or one never confirmed (``unconfirmed``)."""
    if not command_ids:
        return {"confirmed": 0, "open": 0, "unconfirmed": 0}
    mine = col(DeliveryRow.command_id).in_(list(command_ids))
    lantern = func.count(func.distinct(DeliveryRow.lantern_id))

    def distinct(*states: str) -> int:
        query = select(lantern).where(mine)
        if states:
            query = query.where(col(DeliveryRow.state).in_(states))
        return int(session.exec(query).one())

    total = distinct()
    still = distinct(*OPEN_STATES)
    never = distinct("failed", "unreachable", "expired", "rejected", "interrupted")
    # A lantern with one release open and another refused counts as open (it may yet answer).
    return {"confirmed": max(total - still - never, 0), "open": still, "unconfirmed": never}


def alerts_with_live_commands(session: Session, now: datetime) -> list[Alert]:
    """Alerts with a command that has not expired (or awaiting approval), newest first."""
    live = select(CommandRow.alert_id).where(col(CommandRow.expires_at) > now).distinct()
    query = (
        select(AlertRow)
        .where(
            col(AlertRow.id).in_(live.scalar_subquery())
            | (col(AlertRow.status) == "awaiting_approval")
        )
        .order_by(col(AlertRow.created_at).desc())
    )
    return [_alert(row) for row in session.exec(query)]


def list_alerts(session: Session, limit: int = 50, offset: int = 0) -> list[Alert]:
    query = select(AlertRow).order_by(col(AlertRow.created_at).desc()).offset(offset).limit(limit)
    return [_alert(row) for row in session.exec(query)]


def deliveries(
    session: Session, command_id: str, state: str | None = None, limit: int = 100_000
) -> list[Delivery]:
    query = select(DeliveryRow).where(DeliveryRow.command_id == command_id)
    if state is not None:
        query = query.where(DeliveryRow.state == state)
    rows = session.exec(query.order_by(col(DeliveryRow.lantern_id)).limit(limit))
    return [_delivery(row) for row in rows]


def deliveries_since(session: Session, command_id: str, since: datetime) -> list[Delivery]:
    """The command's delivery rows changed at or after ``since`` (the progress stream's diff)."""
    query = (
        select(DeliveryRow)
        .where(DeliveryRow.command_id == command_id)
        .where(col(DeliveryRow.updated_at) >= since)
    )
    return [_delivery(row) for row in session.exec(query.order_by(col(DeliveryRow.lantern_id)))]


@dataclass(frozen=True, slots=True)
class DueDelivery:
    command_id: str
    lantern_id: str
    attempts: int
    envelope: str
    expires_at: datetime
    state: str = "published"


# Delivery states the outbox sends (again) once their next attempt is due: never sent, sent
# without a `received` in time, or received without the final ack in time (asked again).
DUE_STATES = ("planned", "published", "received", "playing")


def due_deliveries(session: Session, now: datetime, limit: int) -> list[DueDelivery]:
    """Deliveries to (re)publish now: planned, published without a `received` ack in time, or
    received / playing past the time their final ack was due (``domain.delivery.final_ack_due``).

    The rows are claimed for the caller's transaction: on PostgreSQL another replica's outbox
    skips them (``FOR UPDATE SKIP LOCKED``) and a cancel touching them waits for the commit, so
    each is published by one replica and never after the cancel. SQLite has one writer anyway.
    """
    query = (
        select(DeliveryRow, CommandRow)
        .join(CommandRow, col(CommandRow.id) == col(DeliveryRow.command_id))
        .where(col(DeliveryRow.state).in_(DUE_STATES))
        .where(col(DeliveryRow.next_attempt_at) <= now)
        .order_by(col(DeliveryRow.next_attempt_at))
        .limit(limit)
        .with_for_update(of=DeliveryRow, skip_locked=True)
    )
    return [
        DueDelivery(d.command_id, d.lantern_id, d.attempts, c.envelope, c.expires_at, d.state)
        for d, c in session.exec(query)
    ]


def claim_first_sends(session: Session, command_id: str) -> list[str]:
    """Lanterns of a command never sent it yet, claimed for the caller's transaction like
    ``due_deliveries`` claims (another replica skips them): the part a fan-out group may cover."""
    query = (
        select(DeliveryRow.lantern_id)
        .where(col(DeliveryRow.command_id) == command_id)
        .where(col(DeliveryRow.state) == "planned")
        .where(col(DeliveryRow.attempts) == 0)
        .with_for_update(of=DeliveryRow, skip_locked=True)
    )
    return list(session.exec(query))


def mark_published(
    session: Session, keys: Sequence[tuple[str, str, int, datetime]], now: datetime
) -> None:
    """Record a publish: (command_id, lantern_id, attempts, next_attempt_at) per row."""
    for command_id, lantern_id, attempts, next_at in keys:
        session.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.command_id) == command_id)
            .where(col(DeliveryRow.lantern_id) == lantern_id)
            .where(col(DeliveryRow.state).in_(["planned", "published"]))
            .values(
                state="published",
                attempts=attempts,
                next_attempt_at=next_at,
                published_at=now,
                updated_at=now,
            )
        )


def end_deliveries(
    session: Session, keys: Sequence[tuple[str, str]], state: str, reason: str, now: datetime
) -> None:
    """Move unacknowledged deliveries to a terminal state (expired, unreachable, cancelled)."""
    for command_id, lantern_id in keys:
        session.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.command_id) == command_id)
            .where(col(DeliveryRow.lantern_id) == lantern_id)
            .where(col(DeliveryRow.state).in_(["planned", "published"]))
            .values(state=state, reason=reason, next_attempt_at=None, updated_at=now)
        )


def get_delivery(session: Session, command_id: str, lantern_id: str) -> Delivery | None:
    row = session.get(DeliveryRow, (command_id, lantern_id), populate_existing=True)
    return None if row is None else _delivery(row)


def alert_ids_for_commands(session: Session, command_ids: Sequence[str]) -> dict[str, str | None]:
    query = select(CommandRow.id, CommandRow.alert_id).where(col(CommandRow.id).in_(command_ids))
    return {cid: aid for cid, aid in session.exec(query)}


def max_seq(session: Session) -> int:
    value = session.exec(select(func.max(CommandRow.seq))).one()
    return int(value or 0)


def mark_published_many(
    session: Session, rows: Sequence[tuple[str, str, int, datetime]], now: datetime
) -> None:
    """Like ``mark_published`` in one executemany; the state guard keeps later acks intact."""
    if not rows:
        return
    table = DeliveryRow.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.command_id == bindparam("b_cid"))
        .where(table.c.lantern_id == bindparam("b_lid"))
        .where(or_(table.c.state == "planned", table.c.state == "published"))
        .values(
            state="published",
            attempts=bindparam("b_att"),
            next_attempt_at=bindparam("b_next"),
            published_at=now,
            updated_at=now,
        )
    )
    params = [{"b_cid": c, "b_lid": lid, "b_att": a, "b_next": n} for c, lid, a, n in rows]
    session.connection().execute(stmt, params)


def mark_asked_again(session: Session, rows: Sequence[tuple[str, str, int, datetime]]) -> None:
    """Record that lanterns were asked again for a final ack: (command_id, lantern_id, attempts,
    next_attempt_at) per row; the state stays (only the lantern's answer moves it)."""
    if not rows:
        return
    table = DeliveryRow.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.command_id == bindparam("b_cid"))
        .where(table.c.lantern_id == bindparam("b_lid"))
        .where(or_(table.c.state == "received", table.c.state == "playing"))
        .values(attempts=bindparam("b_att"), next_attempt_at=bindparam("b_next"))
    )
    params = [{"b_cid": c, "b_lid": lid, "b_att": a, "b_next": n} for c, lid, a, n in rows]
    session.connection().execute(stmt, params)


def overdue_deliveries(
    session: Session, before: datetime, limit: int
) -> list[tuple[str, str, str, datetime]]:
    """Deliveries still not final whose command expired before ``before``: (cmd, lantern, state,
    the command's expiry)."""
    query = (
        select(
            DeliveryRow.command_id, DeliveryRow.lantern_id, DeliveryRow.state, CommandRow.expires_at
        )
        .join(CommandRow, col(CommandRow.id) == col(DeliveryRow.command_id))
        .where(col(DeliveryRow.state).in_(["planned", "published", "received", "playing"]))
        .where(col(CommandRow.expires_at) < before)
        .limit(limit)
    )
    return [(c, lid, s, e) for c, lid, s, e in session.exec(query)]


def force_state(
    session: Session, keys: Sequence[tuple[str, str]], state: str, reason: str, now: datetime
) -> None:
    """End deliveries that will never hear a final ack (the lantern went silent past expiry)."""
    table = DeliveryRow.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.command_id == bindparam("b_cid"))
        .where(table.c.lantern_id == bindparam("b_lid"))
        .where(or_(*(table.c.state == s for s in ("planned", "published", "received", "playing"))))
        # The service decides this state, not a lantern's signed word.
        .values(state=state, reason=reason, next_attempt_at=None, updated_at=now, ack_kid=None)
    )
    if keys:
        session.connection().execute(stmt, [{"b_cid": c, "b_lid": lid} for c, lid in keys])


# ---- re-sending (issue 6): lanterns that came back, a broker that lost our session -----------

# Back after a reconnect, a lantern still holds what it received; it needs what it never
# confirmed. After a reboot it lost every slot: everything live goes again, `applied` included.
RESEND_STATES = ("planned", "published")
RESEND_AFTER_REBOOT = ("planned", "published", "received", "playing", "applied")


def live_deliveries(
    session: Session,
    now: datetime,
    states: Sequence[str],
    lantern_ids: Sequence[str] | None = None,
    published_before: datetime | None = None,
) -> list[DueDelivery]:
    """Deliveries in ``states`` whose command has not expired, of some lanterns or of all;
    with ``published_before``, only those not published since then."""
    query = (
        select(DeliveryRow, CommandRow)
        .join(CommandRow, col(CommandRow.id) == col(DeliveryRow.command_id))
        .where(col(CommandRow.expires_at) > now)
        .where(col(DeliveryRow.state).in_(list(states)))
    )
    if published_before is not None:
        query = query.where(
            or_(
                col(DeliveryRow.published_at).is_(None),
                col(DeliveryRow.published_at) < published_before,
            )
        )
    if lantern_ids is None:
        chunks: list[list[str] | None] = [None]
    else:
        ids = list(lantern_ids)
        chunks = [ids[start : start + _BATCH] for start in range(0, len(ids), _BATCH)]
    out: list[DueDelivery] = []
    for chunk in chunks:
        part = query if chunk is None else query.where(col(DeliveryRow.lantern_id).in_(chunk))
        out.extend(
            DueDelivery(d.command_id, d.lantern_id, d.attempts, c.envelope, c.expires_at, d.state)
            for d, c in session.exec(part.order_by(col(CommandRow.seq)))
        )
    return out


def replace_envelope(session: Session, command_id: str, envelope: str, seq: int) -> None:
    """Store a re-signed envelope (same command, fresh seq): what is published from now on."""
    session.execute(
        update(CommandRow)
        .where(col(CommandRow.id) == command_id)
        .values(envelope=envelope, seq=seq)
    )


def deliveries_by_key(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Delivery]:
    """Deliveries for (command id, lantern id) pairs, a few queries for a whole ack batch."""
    by_command: dict[str, set[str]] = {}
    for command_id, lantern_id in keys:
        by_command.setdefault(command_id, set()).add(lantern_id)
    out: dict[tuple[str, str], Delivery] = {}
    for command_id, lantern_ids in by_command.items():
        ids = sorted(lantern_ids)
        for start in range(0, len(ids), _BATCH):
            query = (
                select(DeliveryRow)
                .where(col(DeliveryRow.command_id) == command_id)
                .where(col(DeliveryRow.lantern_id).in_(ids[start : start + _BATCH]))
            )
            out.update(
                {(row.command_id, row.lantern_id): _delivery(row) for row in session.exec(query)}
            )
    return out


@dataclass(frozen=True, slots=True)
class AckedState:
    """A delivery moved on by a believed ack: its new state and what the ack said."""

    command_id: str
    lantern_id: str
    state: str
    reason: str | None
    played: tuple[str, ...] | None  # None keeps what an earlier ack recorded
    ack_kid: str | None  # the verified ack key, or None (unsigned, unverifiable)
    # When to ask again for a final ack that has not come (received, playing); None otherwise.
    next_attempt_at: datetime | None = None


def record_acks(session: Session, moves: Sequence[AckedState], now: datetime) -> None:
    """Write the deliveries acks moved on, in the caller's transaction (two executemany: with
    and without a played list)."""
    table = DeliveryRow.__table__  # type: ignore[attr-defined]
    base = (
        table.update()
        .where(table.c.command_id == bindparam("b_cid"))
        .where(table.c.lantern_id == bindparam("b_lid"))
    )
    values = {
        "state": bindparam("b_state"),
        "reason": bindparam("b_reason"),
        "updated_at": now,
        "ack_kid": bindparam("b_kid"),
        "next_attempt_at": bindparam("b_next"),
    }
    for with_played in (False, True):
        params = [
            {
                "b_cid": m.command_id,
                "b_lid": m.lantern_id,
                "b_state": m.state,
                "b_reason": m.reason,
                "b_kid": m.ack_kid,
                "b_next": m.next_attempt_at,
                **({"b_played": list(m.played)} if m.played is not None else {}),
            }
            for m in moves
            if (m.played is not None) is with_played
        ]
        if not params:
            continue
        stmt = base.values(
            **values, **({"played_json": bindparam("b_played")} if with_played else {})
        )
        session.connection().execute(stmt, params)


def envelopes_by_id(session: Session, command_ids: Sequence[str]) -> dict[str, str]:
    """The stored envelope JSON of each command (the ack consumer judges acks against it)."""
    ids = sorted(set(command_ids))
    out: dict[str, str] = {}
    for start in range(0, len(ids), _BATCH):
        query = select(CommandRow.id, CommandRow.envelope).where(
            col(CommandRow.id).in_(ids[start : start + _BATCH])
        )
        out.update({cid: envelope for cid, envelope in session.exec(query)})
    return out
