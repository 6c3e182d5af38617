"""Alerts from request to proof: validate, resolve, render, store (outbox), then follow."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.exc import IntegrityError

from lightctl.domain.alerts import AlertSpec, AlertUpdate, expiry
from lightctl.domain.clock import Clock
from lightctl.domain.guidance import evacuation_from_json
from lightctl.domain.records import Alert, Command, Delivery
from lightctl.domain.targets import TargetSpec, target_from_json, target_to_json
from lightctl.errors import Conflict, FieldProblem, InvalidRequest, NotFound, summarise
from lightctl.protocol import CommandEnvelope
from lightctl.services.alerts import commands as build
from lightctl.services.alerts.carryover import HELD_CHANNELS, carry_over
from lightctl.services.alerts.fanout import FanOut
from lightctl.services.alerts.guidance import Evacuations
from lightctl.services.alerts.previews import KeyTaken, PreviewBook, RequestKey, RequestKeys
from lightctl.services.alerts.reports import AlertReport, build_report
from lightctl.services.alerts.texts import Announcer
from lightctl.services.guidance import GuidanceService
from lightctl.services.sequence import SequenceCounter
from lightctl.services.speech import Speaker
from lightctl.services.targets import TargetResolver
from lightctl.settings import Settings
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import approvals as approval_store
from lightctl.store import plans as plan_store
from lightctl.store.db import retrying
from lightctl.templates import Template

log = logging.getLogger(__name__)

# The all-clear program plays once; its slot then empties itself and the lantern is free again.
ALL_CLEAR_MARGIN_S = 60
# Updates racing other updates are recomputed from the newer state this many times at most.
UPDATE_ATTEMPTS = 4


class AlertService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        speech: Speaker,
        clock: Clock,
        templates: Mapping[str, Template] | None = None,
        on_stored: Callable[[], None] = lambda: None,
        resolver: TargetResolver | None = None,
        sign: Callable[[CommandEnvelope], CommandEnvelope] | None = None,
        previews: PreviewBook | None = None,
        guidance: GuidanceService | None = None,
        features: Callable[[str], frozenset[str]] = lambda _id: frozenset(),
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._on_stored = on_stored
        self._announcer = Announcer(settings, speech, templates or {})
        self._resolver = resolver or TargetResolver(db)
        self.previews = previews or PreviewBook(db, clock)
        self.keys = RequestKeys(db, clock)
        # Signs each envelope once, where it is built; the outbox signs what arrives unsigned.
        self._sign = sign or (lambda env: env)
        with db.session() as session:
            self._seq = SequenceCounter(alert_store.max_seq(session))
        self._fanout = FanOut(
            db, settings, self._announcer, self._seq, self._sign, self._capabilities
        )
        # ``features``: what a lantern's firmware reported it understands (flashing arrows).
        self._evacuations = Evacuations(
            db,
            guidance or GuidanceService(db, self._resolver, clock),
            self._seq,
            self._sign,
            features,
        )

    # ---- create -------------------------------------------------------------------------------

    def create(
        self,
        spec: AlertSpec,
        hold: bool = False,
        *,
        role: str,
        preview_id: str | None = None,
        request_key: RequestKey | None = None,
    ) -> AlertReport:
        """Everything that can fail happens before the single commit; nothing half-stored.

        ``hold``: store it awaiting a second person's approval, with nothing published.
        ``role``: the caller's role, named in every envelope (lanterns check its ceiling), as in
        ``update``, ``cancel`` and ``all_clear``.
        ``preview_id``: the preview the dispatcher confirmed; refused (``TargetChanged``) unless
        the target resolves to exactly its lanterns now.
        ``request_key``: the caller's Idempotency-Key, stored with the alert in one commit;
        ``KeyTaken`` when a racing request with the same key stored its alert first."""
        now = self._clock()
        if self._settings.sandbox:
            spec = replace(spec, exercise=True)  # a sandbox never sends a real warning
        problems: list[FieldProblem] = []
        spec = (
            self._collect(
                problems, lambda: self._evacuations.named(spec, self._announcer.templates)
            )
            or spec
        )
        texts = self._collect(problems, lambda: self._announcer.texts(spec))
        expires_at = self._collect(problems, lambda: self._expiry(now, spec))
        resolved = self._collect(problems, lambda: self._resolve(spec.target))
        if problems:  # every mistake at once, so the dispatcher fixes them in one go
            raise InvalidRequest(summarise(problems), problems)
        if not resolved:
            raise InvalidRequest.at(("target",), "no lanterns in target")
        if preview_id is not None:
            self.previews.check(preview_id, resolved)
        alert_id = f"al_{uuid.uuid4().hex[:16]}"
        plan = self._evacuations.plan(spec, resolved, None)
        texts = self._evacuations.texts(texts, spec, plan)
        speech, clips = self._announcer.render(texts, spec.exercise)
        commands = self._fanout.commands(
            alert_id, spec, texts, speech, resolved, now, expires_at, spec.priority, role
        )
        commands = self._evacuations.commands(
            commands, alert_id, spec, texts, plan, now, expires_at, role
        )
        alert = Alert(
            id=alert_id,
            created_at=now,
            updated_at=now,
            status="awaiting_approval" if hold else "active",
            priority=spec.priority,
            exercise=spec.exercise,
            signal=texts.signal,
            template=spec.template,
            target=target_to_json(spec.target),
            messages=dict(texts.messages),
            languages=tuple(texts.languages),
            clips=clips,
            params=dict(spec.params or {}),
            repeat=spec.repeat,
            volume=spec.volume,
            expires_at=expires_at,
            lantern_count=len(resolved),
            severity=texts.severity,
            primary_command_id=_primary(commands),
            guidance=self._evacuations.stored(spec, plan),
        )
        try:
            with self._db.session() as session:
                if request_key is not None:
                    self.keys.claim(session, request_key, alert_id)
                rows = sum(len(ids) for _cmd, ids in commands)
                if hold or rows <= self._settings.delivery_rows_inline:
                    alert_store.save_alert(session, alert, commands, now=now)
                else:
                    # The answer must not wait for 300,000 rows: the outbox writes them.
                    alert_store.save_alert(session, alert, [], now=now)
                    plan_store.save_plans(session, alert_id, commands, now)
                if hold:
                    approval_store.hold(session, alert_id)
        except IntegrityError:
            if request_key is not None and self.keys.replayed(request_key) is not None:
                raise KeyTaken() from None
            raise
        log.info("alert %s stored for %d lanterns (%s)", alert_id, len(resolved), texts.languages)
        self._on_stored()
        return self.get(alert_id)

    # ---- lifecycle ----------------------------------------------------------------------------

    def update(self, alert_id: str, change: AlertUpdate, *, role: str) -> AlertReport:
        """New text, languages or target: replace on staying lanterns, add new, stop dropped.

        An update computed from a reading that another change overtook is computed again from
        the new state (a few times), so two updates of different fields both take effect."""
        for _attempt in range(UPDATE_ATTEMPTS - 1):
            try:
                return retrying(lambda: self._update(alert_id, change, role))
            except _Changed:
                continue
        try:
            return retrying(lambda: self._update(alert_id, change, role))
        except _Changed:
            raise Conflict(
                f"cannot update alert {alert_id}: it kept changing meanwhile; try again",
                "changed",
            ) from None

    def cancel(self, alert_id: str, *, role: str) -> AlertReport:
        """Stop playback, light and projection now on every lantern of the alert."""
        return retrying(lambda: self._cancel(alert_id, role))

    def all_clear(
        self,
        alert_id: str,
        params: dict[str, str] | None = None,
        messages: dict[str, str] | None = None,
        *,
        role: str,
    ) -> AlertReport:
        """Play the all-clear (steady tone, then the texts) and let the lanterns go afterwards."""
        return retrying(lambda: self._all_clear(alert_id, params, messages, role))

    def _update(self, alert_id: str, change: AlertUpdate, role: str) -> AlertReport:
        """New text, languages or target: replace on staying lanterns, add new, stop dropped."""
        now = self._clock()
        alert = self._active(alert_id, now, "update")
        old = self._spec_of(alert)
        spec = replace(
            old,
            target=change.target or old.target,
            messages=change.messages if change.messages is not None else old.messages,
            template=change.template if change.template is not None else old.template,
            params=change.params if change.params is not None else old.params,
            languages=change.languages if change.languages is not None else old.languages,
            expires_at=change.expires_at,
            expires_in_s=change.expires_in_s,
            evacuation=change.evacuation or old.evacuation,
        )
        if change.messages is not None and change.template is None:
            spec = replace(spec, template=None)
        if change.template is not None and change.messages is None:
            spec = replace(spec, messages={})
        problems: list[FieldProblem] = []
        spec = (
            self._collect(
                problems, lambda: self._evacuations.named(spec, self._announcer.templates)
            )
            or spec
        )
        texts = self._collect(problems, lambda: self._announcer.texts(spec))
        if change.expires_at is None and change.expires_in_s is None:
            expires_at: datetime = alert.expires_at
        else:
            expires_at = self._collect(problems, lambda: self._expiry(now, spec))
        resolved = self._collect(problems, lambda: self._resolve(spec.target))
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        if not resolved:
            raise InvalidRequest.at(("target",), "no lanterns in target")
        plan = self._evacuations.plan(spec, resolved, alert.guidance)
        texts = self._evacuations.texts(texts, spec, plan)
        speech, clips = self._announcer.render(texts, spec.exercise)
        commands = self._fanout.commands(
            alert_id, spec, texts, speech, resolved, now, expires_at, alert.priority, role
        )
        commands = self._evacuations.commands(
            commands, alert_id, spec, texts, plan, now, expires_at, role
        )
        with self._db.session() as session:
            # First statement of the transaction: refused if the alert ended or changed since it
            # was read here (another replica, another dispatcher); on PostgreSQL it holds the row.
            if not alert_store.transition(
                session, alert_id, from_status=("active",), now=now, revision=alert.revision
            ):
                self._lost(session, alert_id, "update", changed=_Changed)
            plan_store.write_all(session, alert_id, now)  # every lantern has its row from here
            previous = _live_sets(session, alert_id, now)
            # A lantern that would get exactly what it holds keeps it: nothing new to send.
            holding = alert_store.open_lanterns_of_commands(
                session, [c.id for c in previous if c.channel in HELD_CHANNELS]
            )
            carried = carry_over(previous, commands, holding)
            commands = carried.commands
            replaced = [c.id for c in previous if c.id not in carried.kept]
            alert_store.close_open_many(session, replaced, "superseded", "updated", now)
            others = [(c, lid) for c, kept in carried.kept.items() for lid in holding[c] - kept]
            alert_store.close_open_pairs(session, others, "superseded", "updated", now)
            if plan is None and alert.guidance is None:
                keep = set(resolved)
                commands += self._fanout.releases(session, alert, previous, keep, now, role)
            else:  # a lantern that stops showing an arrow lets go of it (and its running light)
                for channel in sorted({c.channel for c in previous}):
                    held = {i for c, ids in commands if c.channel == channel for i in ids}
                    mine = [c for c in previous if c.channel == channel]
                    held.update(i for c in mine for i in carried.kept.get(c.id, ()))
                    commands += self._fanout.releases(session, alert, mine, held, now, role)
            if carried.kept:
                log.info(
                    "alert %s update: %d lantern commands unchanged, not sent again",
                    alert_id,
                    carried.kept_count,
                )
            alert_store.save_commands(session, alert_id, commands, now=now)
            revised = replace(
                alert,
                target=target_to_json(spec.target),
                messages=dict(texts.messages),
                languages=tuple(texts.languages),
                clips=clips,
                params=dict(spec.params or {}),
                template=spec.template,
                signal=texts.signal,
                severity=texts.severity,
                expires_at=expires_at,
                lantern_count=len(resolved),
                primary_command_id=_primary(commands) or alert.primary_command_id,
                guidance=self._evacuations.stored(spec, plan),
                updated_at=now,
            )
            if not alert_store.revise_alert(session, revised):
                raise NotFound("alert", alert_id)  # deleted under us: roll the change back
        self._on_stored()
        return self.get(alert_id)

    def _cancel(self, alert_id: str, role: str) -> AlertReport:
        """Stop playback, light and projection now on every lantern of the alert."""
        now = self._clock()
        alert = self._active(alert_id, now, "cancel")
        with self._db.session() as session:
            self._end(session, alert_id, "cancelled", "cancel", now)
            plan_store.write_all(session, alert_id, now)
            previous = _live_sets(session, alert_id, now)
            old_ids = [c.id for c in previous]
            alert_store.close_open_many(session, old_ids, "cancelled", "cancelled", now)
            releases = self._fanout.releases(session, alert, previous, set(), now, role)
            alert_store.save_commands(session, alert_id, releases, now=now)
        self._on_stored()
        return self.get(alert_id)

    def _all_clear(
        self,
        alert_id: str,
        params: dict[str, str] | None,
        messages: dict[str, str] | None,
        role: str,
    ) -> AlertReport:
        """Play the all-clear (steady tone, then the texts) and let the lanterns go afterwards."""
        now = self._clock()
        alert = self._active(alert_id, now, "all-clear")
        old = self._spec_of(alert)
        if messages:
            spec = replace(old, template=None, messages=messages, languages=(), signal=None)
        else:
            street = ", ".join(old.target.streets) or ", ".join(
                alert.params.get("street", "") or []
            )
            all_params = {"street": street or "dem Gebiet", **(params or {})}
            spec = replace(old, template="all_clear", messages={}, params=all_params, signal=None)
        texts = self._announcer.texts(spec)
        texts = replace(texts, signal="all_clear")
        speech, clips = self._announcer.render(texts, old.exercise)
        with self._db.session() as session:
            self._end(session, alert_id, "all_clear", "all-clear", now)
            plan_store.write_all(session, alert_id, now)
            previous = _live_sets(session, alert_id, now)
            lanterns = sorted(
                {
                    lid
                    for cmd in previous
                    if cmd.channel == "audio"
                    for lid in alert_store.lanterns_of(session, cmd.id)
                }
            )
            old_ids = [c.id for c in previous]
            alert_store.close_open_many(session, old_ids, "superseded", "all_clear", now)
            program = build.audio_program(
                "all_clear", speech, self._announcer.exercise_items(texts, old.exercise)
            )
            payload = build.audio_payload(
                program, 1, 0, old.volume, issued_at=now, min_lead_s=self._settings.speech_lead_s
            )
            ends = now + timedelta(seconds=payload.duration_s() + ALL_CLEAR_MARGIN_S)
            audio = build.envelope(
                alert_id=alert_id,
                role=role,
                channel="audio",
                priority=alert.priority,
                issued_at=now,
                expires_at=ends,
                exercise=old.exercise,
                payload=payload,
                seq=self._seq.next(),
            )
            others = [c for c in previous if c.channel != "audio"]
            commands: list[tuple[Command, Sequence[str]]] = [
                (build.stored(self._sign(audio)), lanterns)
            ]
            commands += self._fanout.releases(session, alert, others, set(), now, role)
            alert_store.save_commands(session, alert_id, commands, now=now)
            # Read again under the row lock ``_end`` took: only the words and clips change here.
            current = alert_store.get_alert(session, alert_id)
            if current is None:  # deleted under us: roll the whole change back
                raise NotFound("alert", alert_id)
            cleared = replace(
                current,
                primary_command_id=audio.id,
                clips=clips,
                messages=dict(texts.messages),
                languages=tuple(texts.languages),
            )
            alert_store.revise_alert(session, cleared)
        self._on_stored()
        return self.get(alert_id)

    # ---- reading ------------------------------------------------------------------------------

    def get(self, alert_id: str, with_lanterns: bool = False) -> AlertReport:
        with self._db.session() as session:
            alert = alert_store.get_alert(session, alert_id)
            if alert is None:
                raise NotFound("alert", alert_id)
            return build_report(session, alert, self._clock(), with_lanterns)

    def delivery_changes(self, alert_id: str, since: datetime | None) -> list[Delivery]:
        """Per-lantern rows of the alert's current audio command changed since ``since`` (all
        of them when None): what the progress stream sends on top of the counts."""
        with self._db.session() as session:
            alert = alert_store.get_alert(session, alert_id)
            if alert is None:
                raise NotFound("alert", alert_id)
            primary = alert.primary_command_id
            if primary is None:
                return []
            if since is None:
                rows = alert_store.deliveries(session, primary)
                return rows + plan_store.unwritten_rows(session, primary, self._clock())
            return alert_store.deliveries_since(session, primary, since)

    def recent(self, limit: int = 50, offset: int = 0) -> list[AlertReport]:
        with self._db.session() as session:
            alerts = alert_store.list_alerts(session, limit, offset)
            return [build_report(session, a, self._clock(), False) for a in alerts]

    def texts_of(
        self, template: str, params: dict[str, str], languages: tuple[str, ...]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """The exact words an alert with this template and these details would speak, per
        language in playback order (the same checks and 422s as ``create``)."""
        spec = AlertSpec(
            target=TargetSpec(), messages={}, template=template, params=params, languages=languages
        )
        texts = self._announcer.texts(spec)
        return texts.languages, texts.messages

    def running(self) -> list[AlertReport]:
        """Every alert one of whose commands has not expired, newest first: the candidates for
        the running list (the phase decides which are still on the street)."""
        with self._db.session() as session:
            alerts = alert_store.alerts_with_live_commands(session, self._clock())
            return [build_report(session, a, self._clock(), False) for a in alerts]

    def templates(self) -> list[Template]:
        templates = self._announcer.templates
        return [templates[k] for k in sorted(templates)]

    # ---- building blocks ----------------------------------------------------------------------

    @staticmethod
    def _collect(problems: list[FieldProblem], step: Callable[[], Any]) -> Any:
        try:
            return step()
        except InvalidRequest as exc:
            problems += exc.problems or [FieldProblem((), exc.message)]
            return None

    def _expiry(self, now: datetime, spec: AlertSpec) -> datetime:
        return expiry(
            now,
            spec.expires_at,
            spec.expires_in_s,
            self._settings.default_expires_s,
            self._settings.max_expires_s,
        )

    def _capabilities(self, lanterns: Sequence[str], needs: Sequence[str]) -> dict[str, list[str]]:
        with self._db.session() as session:
            return self._resolver.index(session).able(lanterns, needs)

    def _resolve(self, target: TargetSpec) -> tuple[str, ...]:
        with self._db.session() as session:
            return self._resolver.resolve(session, target).lantern_ids

    def _active(self, alert_id: str, now: datetime, action: str) -> Alert:
        with self._db.session() as session:
            alert = alert_store.get_alert(session, alert_id)
        if alert is None:
            raise NotFound("alert", alert_id)
        if alert.status != "active":
            raise Conflict(f"cannot {action} alert {alert_id}: it is {alert.status}", alert.status)
        if now >= alert.expires_at:
            raise Conflict(f"cannot {action} alert {alert_id}: it has expired", "expired")
        return alert

    def _end(self, session: Any, alert_id: str, status: str, action: str, now: datetime) -> None:
        """End the alert in one guarded statement, first in the transaction (see ``transition``)."""
        ended = alert_store.transition(
            session, alert_id, from_status=("active",), to_status=status, now=now, ended=True
        )
        if not ended:
            self._lost(session, alert_id, action)

    @staticmethod
    def _lost(
        session: Any, alert_id: str, action: str, changed: type[Exception] | None = None
    ) -> NoReturn:
        """The guarded change found the alert moved on: say to what (the transaction rolls back)."""
        session.rollback()
        row = alert_store.get_alert(session, alert_id)
        if row is None:
            raise NotFound("alert", alert_id)
        if row.status == "active" and changed is not None:
            raise changed()
        raise Conflict(f"cannot {action} alert {alert_id}: it is {row.status}", row.status)

    def _spec_of(self, alert: Alert) -> AlertSpec:
        guidance = alert.guidance
        # Free text as the dispatcher wrote it: the stored messages carry the "follow the arrows"
        # sentences added when it was sent, and an update adds them afresh.
        said = guidance.get("said") if guidance else None
        return AlertSpec(
            # Re-resolving an update must not fail on what the first send accepted.
            target=replace(target_from_json(alert.target), allow_empty=True, confirm_large=True),
            messages={} if alert.template else dict(said or alert.messages),
            languages=alert.languages,
            priority=alert.priority,
            signal=alert.signal,  # type: ignore[arg-type]
            repeat=alert.repeat,
            volume=alert.volume,
            exercise=alert.exercise,
            template=alert.template,
            params=dict(alert.params),
            severity=alert.severity,
            evacuation=evacuation_from_json(guidance["spec"]) if guidance else None,
        )


def _live_sets(session: Any, alert_id: str, now: datetime) -> list[Command]:
    """The alert's `set` commands that may still hold a slot somewhere (not expired)."""
    return [
        c
        for c in alert_store.commands_of(session, alert_id)
        if c.op == "set" and c.expires_at > now
    ]


class _Changed(Exception):
    """The alert was changed by someone else between reading it and writing the update."""


def _primary(commands: Sequence[tuple[Command, Sequence[str]]]) -> str | None:
    return next((c.id for c, _ids in commands if c.channel == "audio" and c.op == "set"), None)
