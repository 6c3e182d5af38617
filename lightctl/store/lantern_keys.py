"""Each lantern's public ack keys: a lantern with an unrevoked key must sign every ack with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.sql.expression import Executable
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.store.tables import utcnow
from lightctl.store.types import UtcDateTime

# Lantern ids per IN (...) query: well under SQLite's 32,766 bound parameters.
_BATCH = 900


class LanternKeyRow(SQLModel, table=True):
    """One public Ed25519 key a lantern signs its acks with (several while a rotation rolls)."""

    __tablename__ = "lantern_key"

    kid: str = Field(primary_key=True, max_length=64)
    lantern_id: str = Field(index=True, max_length=64)
    public_key: str = Field(max_length=64)  # base64 of 32 bytes: 44 characters
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


@dataclass(frozen=True, slots=True)
class LanternKey:
    lantern_id: str
    kid: str
    public_key: str


def add_keys(
    session: Session,
    keys: Sequence[LanternKey],
    now: datetime,
    *,
    replace: bool = False,
    forget_old: bool = False,
) -> int:
    """Store ``keys``; with ``replace`` the lanterns' earlier keys are revoked (``forget_old``:
    deleted, for a demo that makes new keys on every start). A kid already stored for the same
    lantern is kept as it is; returns how many keys were new."""
    lantern_ids = sorted({k.lantern_id for k in keys})
    kids = [k.kid for k in keys]
    known: dict[str, LanternKeyRow] = {}
    for start in range(0, len(kids), _BATCH):
        query = select(LanternKeyRow).where(
            col(LanternKeyRow.kid).in_(kids[start : start + _BATCH])
        )
        known.update({row.kid: row for row in session.exec(query)})
    clash = [k for k in keys if k.kid in known and known[k.kid].lantern_id != k.lantern_id]
    if clash:
        raise ValueError(f"kid {clash[0].kid!r} already belongs to another lantern")
    if replace:
        table = LanternKeyRow.__table__  # type: ignore[attr-defined]
        for start in range(0, len(lantern_ids), _BATCH):
            chunk = lantern_ids[start : start + _BATCH]
            keep = [k for k in kids if k in known]
            stmt: Executable
            if forget_old:
                stmt = (
                    delete(table)
                    .where(table.c.lantern_id.in_(chunk))
                    .where(table.c.kid.not_in(keep or [""]))
                )
            else:
                stmt = (
                    update(table)
                    .where(table.c.lantern_id.in_(chunk))
                    .where(table.c.revoked_at.is_(None))
                    .where(table.c.kid.not_in(keep or [""]))
                    .values(revoked_at=now)
                )
            session.connection().execute(stmt)
    new = [k for k in keys if k.kid not in known]
    session.add_all(
        LanternKeyRow(kid=k.kid, lantern_id=k.lantern_id, public_key=k.public_key, created_at=now)
        for k in new
    )
    return len(new)


def active_keys(session: Session, lantern_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Unrevoked keys per lantern: lantern id -> {kid: public key}; lanterns without none."""
    ids = sorted(set(lantern_ids))
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(ids), _BATCH):
        # Columns, not rows: the ack consumer asks for 500 lanterns per batch.
        query = (
            select(LanternKeyRow.lantern_id, LanternKeyRow.kid, LanternKeyRow.public_key)
            .where(col(LanternKeyRow.lantern_id).in_(ids[start : start + _BATCH]))
            .where(col(LanternKeyRow.revoked_at).is_(None))
        )
        for lantern_id, kid, public_key in session.exec(query):
            out.setdefault(lantern_id, {})[kid] = public_key
    return out


def owners(session: Session, kids: Sequence[str]) -> dict[str, str]:
    """kid -> lantern id for the kids stored (revoked ones included)."""
    wanted = sorted(set(kids))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), _BATCH):
        query = select(LanternKeyRow.kid, LanternKeyRow.lantern_id).where(
            col(LanternKeyRow.kid).in_(wanted[start : start + _BATCH])
        )
        out.update({kid: lantern_id for kid, lantern_id in session.exec(query)})
    return out


def revoke(session: Session, lantern_id: str, now: datetime) -> int:
    """Revoke every key of one lantern (its acks are then taken unsigned again)."""
    rows = session.exec(
        select(LanternKeyRow)
        .where(col(LanternKeyRow.lantern_id) == lantern_id)
        .where(col(LanternKeyRow.revoked_at).is_(None))
    ).all()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return len(rows)


def count_keyed(session: Session) -> int:
    """How many lanterns have at least one unrevoked key."""
    query = (
        select(LanternKeyRow.lantern_id).where(col(LanternKeyRow.revoked_at).is_(None)).distinct()
    )
    return len(session.exec(query).all())
