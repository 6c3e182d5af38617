"""The four-eyes rule: an alert held (stored, nothing published) until a second person approves.

Held deliveries sit in state ``held``, which the outbox never selects, so "nothing published" holds
by construction; approval turns them into ``planned`` in one transaction and wakes the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from lightctl.domain.records import Approval
from lightctl.domain.roles import Principal
from lightctl.errors import ApprovalRequired, Conflict, Forbidden, NotFound
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import approvals as approval_store


class ApprovalService:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], on_released: Callable[[], None]
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_released = on_released

    def require_for_change(
        self, alert_id: str, changed: Sequence[str], by_held_role: bool, break_glass: bool
    ) -> None:
        """Refuse (409 ``approval_required``) a change of target, text, languages or priority
        of an alert a second person approved, or that a held caller makes; break-glass lets
        it through (the caller records why). A change of expiry only needs no approval."""
        if not changed or break_glass:
            return
        with self._db.session() as session:
            row = approval_store.get(session, alert_id)
        approved = row is not None and row.decision in ("approved", "bypassed")
        if not (approved or by_held_role):
            return
        what = ", ".join(changed)
        raise ApprovalRequired(
            f"alert {alert_id} was sent under the four-eyes rule: a change of {what} needs a "
            "second person's approval. Send the new version as a new alert (it is held for "
            "approval) and cancel this one, or give break_glass with the reason for life "
            "safety",
            tuple(changed),
        )

    def requested(self, alert_id: str, by: Principal) -> None:
        with self._db.session() as session:
            approval_store.add(session, _request(alert_id, by, "pending", None, self._clock()))

    def bypassed(self, alert_id: str, by: Principal, reason: str) -> None:
        """Break-glass: sent at once by one person; the reason is kept with the alert."""
        now = self._clock()
        approval = replace(
            _request(alert_id, by, "bypassed", reason, now), decided_by=by.owner, decided_at=now
        )
        with self._db.session() as session:
            approval_store.add(session, approval)

    def approve(self, alert_id: str, by: Principal) -> Approval:
        """Release a held alert; the approver must be someone else than the requester."""
        now = self._clock()
        with self._db.session() as session:
            row = self._pending(session, alert_id)
            if by.user is None:
                raise Forbidden(
                    f"approving alert {alert_id} needs a person: {by.subject} is a credential "
                    "of no user; sign in, or use a token made with "
                    "`lightctl tokens create --user NAME`",
                    by.role_names,
                )
            if row.requested_by in (by.user, by.subject):
                raise Forbidden(
                    f"alert {alert_id} needs a second person: {by.user} asked for it "
                    "(their tokens and sign-ins are one person)",
                    by.role_names,
                )
            alert = alert_store.get_alert(session, alert_id)
            if alert is None:  # its approval row outlived it: nothing to release
                raise NotFound("alert", alert_id)
            if alert.expires_at <= now:
                raise Conflict(f"alert {alert_id} expired before it was approved", "expired")
            decided = approval_store.decide(session, alert_id, "approved", by.owner, now)
            released = alert_store.transition(
                session, alert_id, from_status=("awaiting_approval",), to_status="active", now=now
            )
            if not (decided and released):  # another replica decided first
                raise Conflict(f"alert {alert_id} was decided meanwhile", "decided")
            approval_store.release_held(session, alert_id, now)
        self._on_released()
        return self._decided(alert_id)

    def reject(self, alert_id: str, by: Principal) -> Approval:
        """Cancel a held alert: its deliveries end `cancelled`, nothing was ever published."""
        now = self._clock()
        with self._db.session() as session:
            self._pending(session, alert_id)
            decided = approval_store.decide(session, alert_id, "rejected", by.owner, now)
            ended = alert_store.transition(
                session,
                alert_id,
                from_status=("awaiting_approval",),
                to_status="cancelled",
                now=now,
                ended=True,
            )
            if not (decided and ended):
                raise Conflict(f"alert {alert_id} was decided meanwhile", "decided")
            approval_store.cancel_held(session, alert_id, now)
        return self._decided(alert_id)

    def _decided(self, alert_id: str) -> Approval:
        row = self.get(alert_id)
        if row is None:  # pragma: no cover - the row was just written in a committed transaction
            raise NotFound("alert awaiting approval", alert_id)
        return row

    def get(self, alert_id: str) -> Approval | None:
        with self._db.session() as session:
            return approval_store.get(session, alert_id)

    @staticmethod
    def _pending(session: Session, alert_id: str) -> Approval:
        row = approval_store.get(session, alert_id)
        if row is None:
            alert = alert_store.get_alert(session, alert_id)
            if alert is None:
                raise NotFound("alert awaiting approval", alert_id)
            raise Conflict(
                f"alert {alert_id} is not awaiting approval: it is {alert.status}", alert.status
            )
        if row.decision != "pending":
            raise Conflict(f"alert {alert_id} was already {row.decision}", row.decision)
        return row


def _request(
    alert_id: str, by: Principal, decision: str, reason: str | None, now: datetime
) -> Approval:
    return Approval(
        alert_id=alert_id,
        requested_by=by.owner,  # the person (a user), so another credential of theirs is them
        requested_roles=",".join(by.role_names),
        requested_at=now,
        decision=decision,
        reason=reason,
    )
