"""CAP intake: every message is recorded with what was decided, and chains are followed.

Alert → plays (policy) or becomes a suggestion; Update supersedes the alerts it references;
Cancel (or AllClear) ends them; a reference to a message never seen is held for
``cap_hold_s`` and applied when its target arrives. The same message twice is one alert.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from lightctl.cap.model import CapMessage
from lightctl.cap.outcomes import (
    Caller,
    Outcome,
    broke_off,
    identifier_in,
    outcome_of,
    replace_hold,
)
from lightctl.cap.parse import parse_message
from lightctl.cap.plan import SILENT_STATUSES, Plan, Planner, automatic, plan_from_json
from lightctl.cap.signature import verify_pinned
from lightctl.cap.xmlread import CapRefused
from lightctl.domain.alerts import AlertUpdate
from lightctl.domain.clock import Clock
from lightctl.domain.records import StoredCapMessage
from lightctl.errors import Conflict, InvalidRequest, LightctlError, NotFound
from lightctl.services.alerts.reports import AlertReport
from lightctl.services.alerts.service import AlertService
from lightctl.services.audit import AuditTrail
from lightctl.services.targets import TargetResolver
from lightctl.settings import Settings
from lightctl.store import Database
from lightctl.store import cap as cap_store

log = logging.getLogger(__name__)


class CapIntake:
    """Constructor only assigns; ``receive`` does one message, ``release_holds`` the waiting."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        alerts: Callable[[], AlertService],
        targets: TargetResolver,
        audit: AuditTrail,
        clock: Clock,
    ) -> None:
        self._db = db
        self._settings = settings
        self._alerts = alerts
        self._audit = audit
        self._clock = clock
        self.planner = Planner(db, settings, targets)
        self._lock = threading.Lock()  # one chain step at a time (push and poll may race)

    # ---- intake -------------------------------------------------------------------------------

    def receive(self, body: bytes, content_type: str, caller: Caller, via: str = "push") -> Outcome:
        """Parse, decide and apply; ``CapRefused`` (422) names the element, audited first."""
        try:
            message = parse_message(body, content_type)
            self.planner.policy(message.sender, via)
            pinned = self._settings.cap_signing_certs.get(message.sender)
            if pinned is not None:
                # Only what the signature covers is read from here on.
                body = verify_pinned(body, message.signed, message.form, message.sender, pinned)
                message = parse_message(body, "application/xml")
                content_type = "application/xml"
        except CapRefused as exc:
            self._audit.append(
                "cap.refused",
                caller.subject,
                caller.roles,
                identifier_in(body),
                {"via": via, "reason": exc.message[:2000]},
            )
            raise
        with self._lock:
            self._release_holds(caller)
            with self._db.session() as session:
                known = cap_store.by_key(session, message.sender, message.identifier)
                if known is not None and broke_off(known, self._clock()):
                    # Its decision broke off: this copy gets a new one.
                    cap_store.delete_message(session, known.id)
                    known = None
            if known is not None:
                self._audit.append(
                    "cap.duplicate",
                    caller.subject,
                    caller.roles,
                    message.identifier,
                    {"via": via, "first_via": known.via, "decision": known.decision},
                )
                return outcome_of(known, duplicate=True)
            try:
                row = self._record(message, body, content_type, via)
            except IntegrityError:  # another replica stored the same message a moment ago
                with self._db.session() as session:
                    known = cap_store.by_key(session, message.sender, message.identifier)
                if known is None:
                    raise
                return outcome_of(known, duplicate=True)
            self._audit.append(
                "cap.received",
                caller.subject,
                caller.roles,
                message.identifier,
                {
                    "via": via,
                    "sender": message.sender,
                    "msg_type": message.msg_type,
                    "status": message.status,
                    "warnings": list(message.warnings),
                },
            )
            try:
                outcome = self._decide(row, message, caller)
            except CapRefused as exc:  # e.g. coordinates that look like lon,lat: a 422
                self._final(row, caller, "refused", exc.message)
                raise
            except Exception as exc:
                # Recorded as failed (a later copy of the message is decided afresh), then the
                # error goes on to the caller: a 4xx/503 for a LightctlError, else a 500.
                reason = exc.message if isinstance(exc, LightctlError) else type(exc).__name__
                self._final(row, caller, "failed", f"decision failed: {reason}")
                raise
            self._apply_waiting(message, caller)
            return outcome

    def release_holds(self, caller: Caller) -> int:
        """Held messages whose wait is over: an Update plays as a new alert (it carries the
        whole warning), a Cancel of something never seen is recorded. Returns how many."""
        with self._lock:
            return self._release_holds(caller)

    # ---- suggestions --------------------------------------------------------------------------

    def send_suggestion(
        self, message_id: str, caller: Caller, edit: Callable[[Plan], Plan] | None = None
    ) -> Outcome:
        """One click: the suggestion plays as shown (or as edited), at slot 2."""
        with self._lock:
            row = self._suggestion(message_id)
            plan = plan_from_json(row.plan)
            if edit is not None:
                plan = edit(plan)
            if plan.target is None:
                raise InvalidRequest.at(("target",), "the message names no area; give a target")
            report = self._create(plan, caller.issuing_role)
            row = self._set(
                row, "sent", f"sent by {caller.subject}", report.alert.id, plan=plan.as_json()
            )
            self._audit.append(
                "cap.sent", caller.subject, caller.roles, row.identifier, {"alert": report.alert.id}
            )
            return outcome_of(row)

    def dismiss(self, message_id: str, caller: Caller) -> Outcome:
        with self._lock:
            row = self._set(self._suggestion(message_id), "dismissed", f"by {caller.subject}")
            self._audit.append("cap.dismissed", caller.subject, caller.roles, row.identifier, {})
            return outcome_of(row)

    def preview(self, body: bytes, content_type: str) -> tuple[CapMessage, Plan]:
        """What a message would do, without storing or playing anything."""
        message = parse_message(body, content_type)
        return message, self.planner.plan(message, self._clock())

    def recent(self, decisions: list[str], limit: int) -> list[Outcome]:
        with self._db.session() as session:
            rows = cap_store.recent(session, decisions, limit)
        return [outcome_of(r) for r in rows]

    def get(self, message_id: str) -> Outcome:
        with self._db.session() as session:
            row = cap_store.get(session, message_id)
        if row is None:
            raise NotFound("CAP message", message_id)
        return outcome_of(row)

    def _create(self, plan: Plan, role: str) -> AlertReport:
        """Play the plan, repeated as configured, or fewer times when many languages would
        make the program longer than ``max_program_s`` (a long text plays once)."""
        for repeat in range(self._settings.cap_repeat, 0, -1):
            spec = plan.alert_spec(repeat, self._settings.cap_interval_s)
            try:
                return self._alerts().create(spec, role=role)
            except InvalidRequest as exc:
                too_long = any(p.loc[:1] == ("repeat",) for p in exc.problems)
                if not too_long or repeat == 1:
                    raise
        raise AssertionError("unreachable")

    def _suggestion(self, message_id: str) -> StoredCapMessage:
        with self._db.session() as session:
            row = cap_store.get(session, message_id)
        if row is None:
            raise NotFound("CAP message", message_id)
        if row.decision != "suggested":
            raise Conflict(f"CAP message {message_id} is {row.decision}, not a suggestion")
        return row

    # ---- decisions ----------------------------------------------------------------------------

    def _decide(self, row: StoredCapMessage, message: CapMessage, caller: Caller) -> Outcome:
        now = self._clock()
        if message.status in SILENT_STATUSES:
            return self._final(row, caller, "recorded", f"status {message.status} never plays")
        if message.msg_type in ("Ack", "Error"):
            return self._final(row, caller, "recorded", f"msgType {message.msg_type}")
        if message.msg_type == "Alert":
            return self._new_alert(row, message, caller, now)
        return self._chain(row, message, caller, now)

    def _new_alert(
        self, row: StoredCapMessage, message: CapMessage, caller: Caller, now: datetime
    ) -> Outcome:
        expires = message.expires
        if expires is not None and expires <= now:
            return self._final(row, caller, "recorded", "expired on arrival; not played")
        plan = self.planner.plan(message, now)
        row = self._planned(row, plan)
        if plan.target is not None and not plan.lantern_ids and not plan.unknown_geocodes:
            return self._final(row, caller, "recorded", "the area holds none of our lanterns")
        play, why = automatic(message, plan, self.planner.policy(message.sender, row.via))
        if not play:
            return self._final(row, caller, "suggested", why)
        try:
            report = self._create(plan, caller.issuing_role)
        except LightctlError as exc:
            return self._final(row, caller, "suggested", f"could not play: {exc.message}")
        return self._final(row, caller, "played", why, report.alert.id)

    def _chain(
        self, row: StoredCapMessage, message: CapMessage, caller: Caller, now: datetime
    ) -> Outcome:
        with self._db.session() as session:
            earlier = cap_store.referenced(
                session, [(r.sender, r.identifier) for r in message.references]
            )
        earlier = [e for e in earlier if e.id != row.id]
        if not earlier:
            until = now + timedelta(seconds=self._settings.cap_hold_s)
            missing = ", ".join(r.identifier for r in message.references)
            reason = f"waiting for referenced messages: {missing}"
            return self._final(row, caller, "held", reason, hold_until=until)
        if message.status != "Actual" and any(e.status == "Actual" for e in earlier):
            return self._final(
                row, caller, "refused", f"a {message.status} message never changes an Actual one"
            )
        alerts = self._alerts()
        live = [e for e in earlier if e.alert_id and _active(alerts, e.alert_id)]
        for e in earlier:
            if e.decision == "suggested":
                self._set(e, "superseded", f"by {message.identifier}")
        plan = self.planner.plan(message, now) if message.infos else None
        if plan is not None:
            row = self._planned(row, plan)
        ending = message.msg_type == "Cancel" or (plan is not None and plan.signal == "all_clear")
        if ending:
            ended = []
            for e in live:
                if e.alert_id is None:  # a suggestion never sent has nothing playing
                    continue
                if plan is not None and plan.signal == "all_clear":
                    alerts.all_clear(
                        e.alert_id, messages=plan.messages or None, role=caller.issuing_role
                    )
                else:
                    alerts.cancel(e.alert_id, role=caller.issuing_role)
                ended.append(e.alert_id)
            kind = "all_clear" if plan is not None and plan.signal == "all_clear" else "cancelled"
            if not ended:
                return self._final(row, caller, "recorded", "nothing referenced is playing")
            return self._final(row, caller, kind, f"ended {', '.join(ended)}", ended[-1])
        if plan is None:  # not an ending and nothing to play: keep it on record
            return self._final(row, caller, "recorded", "no area or text to play")
        expires = message.expires
        if expires is not None and expires <= now:
            for e in live:
                if e.alert_id is None:  # a suggestion never sent has nothing playing
                    continue
                alerts.cancel(e.alert_id, role=caller.issuing_role)
            return self._final(row, caller, "recorded", "update expired on arrival; ended")
        if not live:
            return self._new_alert(row, message, caller, now)
        keep, *others = sorted(live, key=lambda e: e.sent, reverse=True)
        for e in others:
            if e.alert_id is None:  # a suggestion never sent has nothing playing
                continue
            alerts.cancel(e.alert_id, role=caller.issuing_role)
        if keep.alert_id is None:  # live() lists only messages that have an alert
            raise RuntimeError(f"CAP message {keep.id} is live without an alert")
        if plan.target is None or not plan.lantern_ids or not plan.languages:
            alerts.cancel(keep.alert_id, role=caller.issuing_role)
            return self._final(row, caller, "cancelled", "the update reaches none of our lanterns")
        change = AlertUpdate(
            target=plan.target,
            messages=plan.messages,
            languages=plan.languages,
            expires_at=plan.expires_at,
            expires_in_s=None if plan.expires_at else self._settings.default_expires_s,
        )
        alerts.update(keep.alert_id, change, role=caller.issuing_role)
        return self._final(row, caller, "updated", f"superseded {keep.identifier}", keep.alert_id)

    def _apply_waiting(self, message: CapMessage, caller: Caller) -> None:
        """Held Updates and Cancels that named this message run now."""
        with self._db.session() as session:
            waiting = cap_store.held(session)
        for row in waiting:
            if any(
                ident == message.identifier and (not sender or sender == message.sender)
                for sender, ident, _sent in row.references
            ):
                held = parse_message(row.body, row.content_type)
                self._chain(replace_hold(row), held, caller, self._clock())

    def _release_holds(self, caller: Caller) -> int:
        now = self._clock()
        with self._db.session() as session:
            due = [r for r in cap_store.held(session) if r.hold_until and r.hold_until <= now]
        for row in due:
            message = parse_message(row.body, row.content_type)
            self._audit.append("cap.hold_expired", caller.subject, caller.roles, row.identifier, {})
            if message.msg_type == "Update" and message.infos:
                self._new_alert(replace_hold(row), message, caller, now)
            else:
                self._final(row, caller, "recorded", "referenced messages never arrived")
        return len(due)

    # ---- records ------------------------------------------------------------------------------

    def _record(
        self, message: CapMessage, body: bytes, content_type: str, via: str
    ) -> StoredCapMessage:
        row = StoredCapMessage(
            id=f"cm_{uuid.uuid4().hex[:16]}",
            identifier=message.identifier,
            sender=message.sender,
            sent=message.sent,
            received_at=self._clock(),
            msg_type=message.msg_type,
            status=message.status,
            form=message.form,
            via=via,
            decision="received",
            reason="",
            alert_id=None,
            hold_until=None,
            references=tuple((r.sender, r.identifier, r.sent) for r in message.references),
            plan={},
            body=body,
            content_type=content_type[:100],
            updated_at=self._clock(),
        )
        with self._db.session() as session:
            cap_store.add_message(session, row)
        return row

    def _planned(self, row: StoredCapMessage, plan: Plan) -> StoredCapMessage:
        """Keep the plan made for the message at once: a decision that fails later is
        recorded with it."""
        planned = plan.as_json()
        with self._db.session() as session:
            cap_store.set_plan(session, row.id, planned)
        return replace(row, plan=planned)

    def _set(
        self,
        row: StoredCapMessage,
        decision: str,
        reason: str,
        alert_id: str | None = None,
        *,
        hold_until: datetime | None = None,
        plan: dict[str, Any] | None = None,
    ) -> StoredCapMessage:
        """Store the decision (``hold_until`` only for ``held``; a plan of None keeps the
        stored one) and return the message as stored now."""
        until = hold_until if decision == "held" else None
        with self._db.session() as session:
            stored = cap_store.decide(
                session, row.id, decision, reason, alert_id, until, self._clock(), plan
            )
        if stored is None:  # written in an earlier committed transaction
            raise RuntimeError(f"CAP message {row.id} vanished while it was decided")
        return stored

    def _final(
        self,
        row: StoredCapMessage,
        caller: Caller,
        decision: str,
        reason: str,
        alert_id: str | None = None,
        *,
        hold_until: datetime | None = None,
    ) -> Outcome:
        row = self._set(row, decision, reason, alert_id, hold_until=hold_until)
        self._audit.append(
            f"cap.{decision}",
            caller.subject,
            caller.roles,
            row.identifier,
            {"reason": reason, "alert": alert_id, "sender": row.sender},
        )
        log.info("CAP %s from %s: %s (%s)", row.identifier, row.sender, decision, reason)
        return outcome_of(row)


def _active(alerts: AlertService, alert_id: str) -> bool:
    try:
        report = alerts.get(alert_id)
    except NotFound:
        return False
    return report.alert.status == "active"
