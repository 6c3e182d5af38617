"""An alert's fan-out: one signed-once envelope per channel, and releases naming what it held."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from lightctl.domain.alerts import AlertSpec
from lightctl.domain.records import Alert, Command
from lightctl.errors import InvalidRequest
from lightctl.protocol import CommandEnvelope, ReleasePayload, SpeechItem
from lightctl.protocol.wire import Channel, Payload
from lightctl.services.alerts import commands as build
from lightctl.services.alerts.texts import AlertTexts, Announcer
from lightctl.services.sequence import SequenceCounter
from lightctl.settings import Settings
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store

# Which lanterns get which channel of an alert (only those that have the hardware).
CHANNEL_NEEDS: dict[Channel, str] = {"audio": "speaker", "light": "rgb", "projection": "projector"}

Sign = Callable[[CommandEnvelope], CommandEnvelope]


class FanOut:
    """Builds the commands of an alert and the releases that end them, each signed once."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        announcer: Announcer,
        seq: SequenceCounter,
        sign: Sign,
        capabilities: Callable[[Sequence[str], Sequence[str]], dict[str, list[str]]] | None = None,
    ) -> None:
        self._db = db
        # Which lanterns have each capability: from the lantern index when given (100,000
        # lanterns in a few ms, vectorised, instead of 4 s of ORM rows), else from the store.
        self._capabilities = capabilities
        self._settings = settings
        self._announcer = announcer
        self._seq = seq
        self._sign = sign

    def commands(
        self,
        alert_id: str,
        spec: AlertSpec,
        texts: AlertTexts,
        speech: Sequence[SpeechItem],
        lanterns: Sequence[str],
        now: datetime,
        expires_at: datetime,
        priority: int,
        role: str,
    ) -> list[tuple[Command, Sequence[str]]]:
        """One signed-once envelope per channel, each to the lanterns that have the hardware."""
        needs = list(CHANNEL_NEEDS.values())
        if self._capabilities is not None:
            able = self._capabilities(lanterns, needs)
        else:
            with self._db.session() as session:
                caps = lantern_store.capabilities_of(session, list(lanterns))
            able = {n: [lid for lid in lanterns if n in caps.get(lid, frozenset())] for n in needs}
        program = build.audio_program(
            texts.signal, speech, self._announcer.exercise_items(texts, spec.exercise)
        )
        audio = build.audio_payload(
            program,
            spec.repeat,
            spec.interval_s,
            spec.volume,
            issued_at=now,
            min_lead_s=self._settings.speech_lead_s,
        )
        limit = self._settings.max_program_s
        if audio.duration_s() > limit:
            raise InvalidRequest.at(
                ("repeat",),
                f"the program would play {audio.duration_s():.0f} s, longer than the allowed "
                f"{limit:.0f} s: use fewer repeats, shorter gaps, fewer languages or shorter texts",
                spec.repeat,
            )
        payloads: list[tuple[Channel, Payload]] = [("audio", audio)]
        if spec.light:
            payloads.append(("light", build.warning_light(texts.severity)))
        if spec.projection:
            text = texts.projection_text
            if spec.exercise:
                text = build.EXERCISE_WORD.get(texts.languages[0], "EXERCISE")
            payloads.append(("projection", build.warning_projection(texts.severity, text)))
        out: list[tuple[Command, Sequence[str]]] = []
        for channel, payload in payloads:
            ids = able[CHANNEL_NEEDS[channel]]
            if not ids:
                continue
            env = build.envelope(
                alert_id=alert_id,
                role=role,
                channel=channel,
                priority=priority,
                issued_at=now,
                expires_at=expires_at,
                exercise=spec.exercise,
                payload=payload,
                seq=self._seq.next(),
            )
            out.append((build.stored(self._sign(env)), ids))
        return out

    def releases(
        self,
        session: Any,
        alert: Alert,
        previous: Sequence[Command],
        keep: set[str],
        now: datetime,
        role: str,
    ) -> list[tuple[Command, Sequence[str]]]:
        """Release commands for the slots this alert holds on lanterns not in ``keep``."""
        out: list[tuple[Command, Sequence[str]]] = []
        held = alert_store.lanterns_of_commands(session, [c.id for c in previous])
        for cmd in previous:
            ids = [lid for lid in held[cmd.id] if lid not in keep]
            if not ids:
                continue
            # A release names its command, so it can never clear a later one: it may live as long
            # as the command, and a lantern away for most of it still lets go when it returns.
            ends = cmd.expires_at
            if ends <= now:
                continue
            env = build.envelope(
                alert_id=alert.id,
                role=role,
                channel=cmd.channel,  # type: ignore[arg-type]
                priority=cmd.priority,
                issued_at=now,
                expires_at=ends,
                exercise=alert.exercise,
                # Names the command: where someone else took the slot since, theirs stays.
                payload=ReleasePayload(cmd_id=cmd.id),
                seq=self._seq.next(),
            )
            out.append((build.stored(self._sign(env)), ids))
        return out
