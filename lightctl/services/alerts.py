"""Create alerts and report their delivery: validate, resolve, render, store, then publish."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from lightctl.domain.alerts import (
    ALL_CLEAR_TONE_S,
    WARNING_TONE_S,
    AlertSpec,
    Signal,
    check_messages,
    expiry,
)
from lightctl.domain.delivery import DeliveryState, is_terminal
from lightctl.errors import FieldProblem, InvalidRequest, NotFound, summarise
from lightctl.geo.names import suggest
from lightctl.protocol import AudioPayload, CommandEnvelope, SpeechItem, ToneItem
from lightctl.protocol.wire import ProgramItem
from lightctl.services.sequence import SequenceCounter
from lightctl.services.targets import TargetResolver
from lightctl.settings import SUPPORTED_LANGUAGES, Settings
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store.tables import AlertRow, CommandRow, DeliveryRow
from lightctl.templates import Template, render

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class SpeechClipLike(Protocol):
    @property
    def sha256(self) -> str: ...
    @property
    def ext(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def engine(self) -> str: ...
    @property
    def lang(self) -> str: ...
    @property
    def fallback_reason(self) -> str | None: ...


class SpeechSource(Protocol):
    def get_or_render(self, text: str, lang: str) -> SpeechClipLike: ...


@dataclass(frozen=True, slots=True)
class AlertReport:
    """An alert with its delivery counts (and optionally its per-lantern rows)."""

    alert: AlertRow
    counts: dict[str, int]
    lanterns: list[DeliveryRow] | None = None

    @property
    def finished(self) -> bool:
        return all(is_terminal(DeliveryState(s)) for s in self.counts)


class AlertService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        speech: SpeechSource,
        clock: Clock,
        templates: Mapping[str, Template] | None = None,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._speech = speech
        self._clock = clock
        self._on_stored = on_stored
        self._templates = dict(templates or {})
        self._resolver = TargetResolver()
        with db.session() as session:
            self._seq = SequenceCounter(alert_store.max_seq(session))

    def create(self, spec: AlertSpec) -> AlertReport:
        """Everything that can fail happens before the single commit; nothing half-stored."""
        now = self._clock()
        problems: list[FieldProblem] = []
        languages: tuple[str, ...] = ()
        signal = spec.signal or "warning"
        if spec.template is not None:
            try:
                spec, signal = self._fill_template(spec)
            except InvalidRequest as exc:
                raise InvalidRequest(summarise(exc.problems), exc.problems) from None
        try:
            languages = check_messages(
                spec.messages, spec.languages, SUPPORTED_LANGUAGES, self._settings.max_text_chars
            )
        except InvalidRequest as exc:
            problems += exc.problems
        try:
            expires_at = expiry(
                now,
                spec.expires_at,
                spec.expires_in_s,
                self._settings.default_expires_s,
                self._settings.max_expires_s,
            )
        except InvalidRequest as exc:
            problems += exc.problems
        try:
            with self._db.session() as session:
                resolved = self._resolver.resolve(session, spec.target)
        except InvalidRequest as exc:
            problems += exc.problems
        if problems:  # every mistake at once, so the dispatcher fixes them in one go
            raise InvalidRequest(summarise(problems), problems)
        if not resolved.lantern_ids:
            raise InvalidRequest.at(("target",), "no lanterns in target")
        clips = [self._speech.get_or_render(spec.messages[lang], lang) for lang in languages]
        alert_id = f"al_{uuid.uuid4().hex[:16]}"
        program: list[ProgramItem] = []
        if signal == "warning":
            program.append(ToneItem(signal="warning", duration_s=WARNING_TONE_S))
        elif signal == "all_clear":
            program.append(ToneItem(signal="all_clear", duration_s=ALL_CLEAR_TONE_S))
        base = self._settings.resolved_public_url
        program += [
            SpeechItem(
                lang=c.lang,
                url=f"{base}/api/v1/audio/{c.sha256}.{c.ext}",
                sha256=c.sha256,
                duration_s=round(c.duration_s, 3),
            )
            for c in clips
        ]
        envelope = CommandEnvelope(
            id=f"cmd_{uuid.uuid4().hex[:16]}",
            alert_id=alert_id,
            channel="audio",
            op="set",
            priority=spec.priority,
            issued_at=now,
            expires_at=expires_at,
            exercise=spec.exercise,
            payload=AudioPayload(
                program=program,
                repeat=spec.repeat,
                interval_s=spec.interval_s if spec.repeat > 1 else 0,
                volume=spec.volume,
            ),
            seq=self._seq.next(),
        )
        alert = AlertRow(
            id=alert_id,
            created_at=now,
            updated_at=now,
            status="active",
            priority=spec.priority,
            exercise=spec.exercise,
            signal=signal,
            template=spec.template,
            target_json=json.dumps(_target_json(spec), ensure_ascii=False),
            messages_json=json.dumps({k: spec.messages[k] for k in languages}, ensure_ascii=False),
            languages_json=json.dumps(list(languages)),
            clips_json=json.dumps([_clip_json(c, base) for c in clips]),
            repeat=spec.repeat,
            volume=spec.volume,
            expires_at=expires_at,
            lantern_count=len(resolved.lantern_ids),
        )
        command = CommandRow(
            id=envelope.id,
            alert_id=alert_id,
            channel=envelope.channel,
            op=envelope.op,
            priority=envelope.priority,
            seq=envelope.seq,
            issued_at=now,
            expires_at=expires_at,
            envelope=envelope.to_bytes().decode(),
        )
        with self._db.session() as session:
            alert_store.save_alert(session, alert, command, resolved.lantern_ids)
        log.info(
            "alert %s stored for %d lanterns (%s)",
            alert_id,
            len(resolved.lantern_ids),
            ",".join(languages),
        )
        self._on_stored()
        return AlertReport(alert, {DeliveryState.PLANNED.value: len(resolved.lantern_ids)})

    def templates(self) -> list[Template]:
        return [self._templates[k] for k in sorted(self._templates)]

    def _fill_template(self, spec: AlertSpec) -> tuple[AlertSpec, Signal]:
        """Messages from a pre-approved template: the dispatcher never types a translation."""
        template = self._templates.get(spec.template or "")
        if template is None:
            raise InvalidRequest.at(
                ("template",),
                "unknown template",
                spec.template,
                tuple(suggest(spec.template or "", list(self._templates))),
            )
        if spec.messages:
            raise InvalidRequest.at(("messages",), "give either template or messages, not both")
        languages = spec.languages or template.default_languages
        problems: list[FieldProblem] = []
        messages: dict[str, str] = {}
        for i, lang in enumerate(languages):
            if lang not in template.text:
                problems.append(
                    FieldProblem(
                        ("languages", i),
                        f"template {template.id!r} has no text in this language",
                        lang,
                        template.languages,
                    )
                )
        if not problems:
            try:
                messages = {lang: render(template, lang, spec.params or {}) for lang in languages}
            except InvalidRequest as exc:
                problems += exc.problems
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        signal: Signal = spec.signal or template.signal
        return replace(spec, messages=messages, languages=tuple(languages)), signal

    def get(self, alert_id: str, with_lanterns: bool = False) -> AlertReport:
        with self._db.session() as session:
            alert = alert_store.get_alert(session, alert_id)
            if alert is None:
                raise NotFound("alert", alert_id)
            counts = alert_store.state_counts(session, alert_id)
            rows = alert_store.deliveries(session, alert_id) if with_lanterns else None
        return AlertReport(alert, counts, rows)

    def list(self, limit: int = 50, offset: int = 0) -> list[AlertReport]:
        with self._db.session() as session:
            alerts = alert_store.list_alerts(session, limit, offset)
            return [AlertReport(a, alert_store.state_counts(session, a.id)) for a in alerts]


def _target_json(spec: AlertSpec) -> dict[str, Any]:
    t = spec.target
    out: dict[str, Any] = {}
    if t.lanterns:
        out["lanterns"] = list(t.lanterns)
    if t.streets:
        out["streets"] = list(t.streets)
    if t.groups:
        out["groups"] = list(t.groups)
    return out


def _clip_json(clip: SpeechClipLike, base: str) -> dict[str, Any]:
    return {
        "lang": clip.lang,
        "sha256": clip.sha256,
        "url": f"{base}/api/v1/audio/{clip.sha256}.{clip.ext}",
        "duration_s": round(clip.duration_s, 3),
        "engine": clip.engine,
        "fallback_reason": clip.fallback_reason,
    }
