"""The audit trail: append-only records chained by hash, and the head that seals the chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.domain.records import AuditEntry, AuditHead
from lightctl.store.tables import utcnow
from lightctl.store.types import UtcDateTime


class AuditRow(SQLModel, table=True):
    """One record. ``body`` is the canonical JSON that ``hash`` covers; the other columns are
    copies for querying, and verification checks that they agree with ``body``."""

    __tablename__ = "audit_record"

    seq: int = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True, sa_type=UtcDateTime)
    actor: str = Field(max_length=100, index=True)
    action: str = Field(max_length=100, index=True)
    subject: str | None = Field(default=None, max_length=200, index=True)
    body: str
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """The last sequence number and hash; updating it first serialises writers (row lock)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        body=row.body,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def lock_head(session: Session) -> AuditHead:
    """Take the chain's write lock (SQLite: the database write lock; PostgreSQL: a row lock).

    The UPDATE comes first in the transaction: a SQLite reader that later tries to write fails at
    once instead of waiting, so the lock must be taken before anything is read."""
    stmt = update(AuditHeadRow).where(col(AuditHeadRow.id) == 1).values(seq=AuditHeadRow.seq)
    if session.execute(stmt).rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuditHeadRow(id=1))
        session.flush()
    row = session.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1)).one()
    session.refresh(row)
    return AuditHead(seq=row.seq, hash=row.hash)


def append(session: Session, entry: AuditEntry) -> None:
    """Store the record and seal it in the head, under the lock ``lock_head`` took."""
    session.add(
        AuditRow(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            body=entry.body,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )
    )
    session.flush()
    session.execute(
        update(AuditHeadRow).where(col(AuditHeadRow.id) == 1).values(seq=entry.seq, hash=entry.hash)
    )


def head(session: Session) -> AuditHead | None:
    row = session.get(AuditHeadRow, 1)
    return AuditHead(seq=row.seq, hash=row.hash) if row is not None else None


def records(session: Session, after_seq: int = 0, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every record in chain order, read in batches so a long trail never sits in memory."""
    last = after_seq
    while True:
        rows = list(
            session.exec(
                select(AuditRow).where(AuditRow.seq > last).order_by(col(AuditRow.seq)).limit(batch)
            )
        )
        yield from (_entry(row) for row in rows)
        if len(rows) < batch:
            return
        last = rows[-1].seq


def query(
    session: Session,
    since: datetime | None = None,
    action: str | None = None,
    subject: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    stmt = select(AuditRow)
    if since is not None:
        stmt = stmt.where(col(AuditRow.at) >= since)
    if action is not None:
        stmt = stmt.where(AuditRow.action == action)
    if subject is not None:
        stmt = stmt.where(AuditRow.subject == subject)
    stmt = stmt.order_by(col(AuditRow.seq).desc()).offset(offset).limit(limit)
    return [_entry(row) for row in session.exec(stmt)]


def subjects_with(session: Session, action: str, subjects: list[str]) -> set[str]:
    if not subjects:
        return set()
    stmt = (
        select(AuditRow.subject)
        .where(AuditRow.action == action)
        .where(col(AuditRow.subject).in_(subjects))
    )
    return {s for s in session.exec(stmt) if s is not None}
