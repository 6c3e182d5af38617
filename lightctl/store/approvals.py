"""Four-eyes bookkeeping, and moving an alert's held deliveries into (or out of) the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col

from lightctl.domain.records import Approval
from lightctl.store.mapping import record_of
from lightctl.store.tables import DeliveryRow, utcnow
from lightctl.store.types import UtcDateTime

HELD = "held"  # stored but invisible to the outbox until a second person approves


class ApprovalRow(SQLModel, table=True):
    """Who asked for an alert and who approved it (or why the rule was bypassed)."""

    __tablename__ = "alert_approval"

    alert_id: str = Field(primary_key=True, max_length=64)
    requested_by: str = Field(max_length=100)
    requested_roles: str = Field(max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    decision: str = Field(default="pending", max_length=20)  # pending|approved|rejected|bypassed
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reason: str | None = Field(default=None, max_length=500)  # break-glass justification


def get(session: Session, alert_id: str) -> Approval | None:
    row = session.get(ApprovalRow, alert_id)
    return record_of(Approval, row) if row is not None else None


def add(session: Session, approval: Approval) -> None:
    session.add(
        ApprovalRow(
            alert_id=approval.alert_id,
            requested_by=approval.requested_by,
            requested_roles=approval.requested_roles,
            requested_at=approval.requested_at,
            decision=approval.decision,
            decided_by=approval.decided_by,
            decided_at=approval.decided_at,
            reason=approval.reason,
        )
    )


def hold(session: Session, alert_id: str) -> None:
    """Turn the alert's fresh `planned` deliveries into `held` (same transaction as the save)."""
    session.execute(
        update(DeliveryRow)
        .where(col(DeliveryRow.alert_id) == alert_id)
        .where(col(DeliveryRow.state) == "planned")
        .values(state=HELD, next_attempt_at=None)
    )


def decide(session: Session, alert_id: str, decision: str, by: str, now: datetime) -> bool:
    """Record the decision on a pending request in one guarded statement: True if it was ours."""
    result = session.execute(
        update(ApprovalRow)
        .where(col(ApprovalRow.alert_id) == alert_id)
        .where(col(ApprovalRow.decision) == "pending")
        .values(decision=decision, decided_by=by, decided_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_held(session: Session, alert_id: str, now: datetime) -> None:
    session.execute(
        update(DeliveryRow)
        .where(col(DeliveryRow.alert_id) == alert_id)
        .where(col(DeliveryRow.state) == HELD)
        .values(state="planned", next_attempt_at=now, updated_at=now)
    )


def cancel_held(session: Session, alert_id: str, now: datetime) -> None:
    session.execute(
        update(DeliveryRow)
        .where(col(DeliveryRow.alert_id) == alert_id)
        .where(col(DeliveryRow.state) == HELD)
        .values(state="cancelled", reason="not approved", next_attempt_at=None, updated_at=now)
    )
