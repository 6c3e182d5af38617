"""What replicas of ``lightctl serve`` on one database know of each other: who is alive with
which keys and templates, and leases that let exactly one of them run a singleton job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.domain.records import Replica
from lightctl.store.mapping import record_of
from lightctl.store.tables import utcnow
from lightctl.store.types import UtcDateTime


class ReplicaRow(SQLModel, table=True):
    """One running service process; ``seen_at`` moves with its heartbeat."""

    __tablename__ = "replica"

    id: str = Field(primary_key=True, max_length=64)
    host: str = Field(default="", max_length=200)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    seen_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UtcDateTime)
    schema_revision: str = Field(default="", max_length=64)
    # Fingerprints of what every replica must share, or lanterns and dispatchers see a split.
    signing_kids: str = Field(default="", max_length=500)
    templates_digest: str = Field(default="", max_length=64)
    stopped_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LeaseRow(SQLModel, table=True):
    """A named job only one replica may run at a time, held until ``expires_at``."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)
    expires_at: datetime = Field(sa_type=UtcDateTime)


def _replica(row: ReplicaRow) -> Replica:
    return record_of(Replica, row)


def heartbeat(session: Session, replica: Replica) -> None:
    found = session.get(ReplicaRow, replica.id)
    if found is None:
        session.add(
            ReplicaRow(
                id=replica.id,
                host=replica.host,
                started_at=replica.started_at,
                seen_at=replica.seen_at,
                schema_revision=replica.schema_revision,
                signing_kids=replica.signing_kids,
                templates_digest=replica.templates_digest,
                stopped_at=replica.stopped_at,
            )
        )
        return
    for key in ("host", "seen_at", "schema_revision", "signing_kids", "templates_digest"):
        setattr(found, key, getattr(replica, key))
    found.stopped_at = None
    session.add(found)


def mark_stopped(session: Session, replica_id: str, now: datetime) -> None:
    session.execute(
        update(ReplicaRow).where(col(ReplicaRow.id) == replica_id).values(stopped_at=now)
    )


def alive(session: Session, since: datetime) -> list[Replica]:
    query = (
        select(ReplicaRow)
        .where(col(ReplicaRow.seen_at) >= since, col(ReplicaRow.stopped_at).is_(None))
        .order_by(col(ReplicaRow.started_at))
    )
    return [_replica(row) for row in session.exec(query)]


def take_lease(session: Session, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Hold (or keep holding) ``name`` until ``until``: one guarded statement, so of two replicas
    asking at once exactly one gets it. False while another holder's lease runs."""
    renewed = session.execute(
        update(LeaseRow)
        .where(
            col(LeaseRow.name) == name,
            or_(col(LeaseRow.holder) == holder, col(LeaseRow.expires_at) <= now),
        )
        .values(holder=holder, expires_at=until)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        with session.begin_nested():
            session.add(LeaseRow(name=name, holder=holder, expires_at=until))
    except IntegrityError:  # someone else's lease, still running
        return False
    return True


def release_lease(session: Session, name: str, holder: str, now: datetime) -> None:
    session.execute(
        update(LeaseRow)
        .where(col(LeaseRow.name) == name, col(LeaseRow.holder) == holder)
        .values(expires_at=now)
    )


def lease_holder(session: Session, name: str, now: datetime) -> str | None:
    row = session.get(LeaseRow, name)
    if row is None or row.expires_at <= now:
        return None
    return row.holder
