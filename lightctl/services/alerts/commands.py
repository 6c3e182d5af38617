"""What an alert sends on each channel: the audio program, the warning light, the projection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from lightctl.domain.alerts import ALL_CLEAR_TONE_S, WARNING_TONE_S
from lightctl.domain.records import Command
from lightctl.protocol import (
    AudioPayload,
    CommandEnvelope,
    LightPayload,
    ProjectionPayload,
    ReleasePayload,
    SpeechItem,
    ToneItem,
)
from lightctl.protocol.wire import Channel, Payload, ProgramItem

Severity = Literal["extreme", "severe", "moderate", "minor"]

# Spoken before each language's message when the alert is an exercise.
EXERCISE_PHRASES = {
    "de": "Achtung, dies ist eine Übung.",
    "de-LS": "Achtung. Das ist eine Übung. Es ist keine echte Gefahr.",
    "en": "Attention, this is an exercise.",
    "tr": "Dikkat, bu bir tatbikattır.",
    "ar": "انتباه، هذا تمرين.",
    "uk": "Увага, це навчання.",
    "ru": "Внимание, это учения.",
    "pl": "Uwaga, to są ćwiczenia.",
    "fr": "Attention, ceci est un exercice.",
    "es": "Atención, esto es un simulacro.",
    "it": "Attenzione, questa è un'esercitazione.",
}

# Warning colours by severity (CAP severity), visible to people who cannot hear the warning.
SEVERITY_COLOURS: dict[str, str] = {
    "extreme": "#FF0000",
    "severe": "#FF6A00",
    "moderate": "#FFC800",
    "minor": "#2F80ED",
}
# A slow blink (0.5 Hz) draws the eye without the 3 Hz+ flashing that can trigger seizures.
WARNING_BLINK_PERIOD_MS = 2000
# Short projection texts when the dispatcher typed free text (templates bring their own).
WARNING_WORD = {
    "de": "WARNUNG",
    "de-LS": "WARNUNG",
    "en": "WARNING",
    "tr": "UYARI",
    "ar": "تحذير",
    "uk": "УВАГА",
    "ru": "ВНИМАНИЕ",
    "pl": "UWAGA",
    "fr": "ALERTE",
    "es": "ALERTA",
    "it": "ALLERTA",
}
EXERCISE_WORD = {"de": "ÜBUNG", "de-LS": "ÜBUNG", "en": "EXERCISE"}


def new_command_id() -> str:
    return f"cmd_{uuid.uuid4().hex[:16]}"


def tone_for(signal: str) -> ToneItem | None:
    if signal == "warning":
        return ToneItem(signal="warning", duration_s=WARNING_TONE_S)
    if signal == "all_clear":
        return ToneItem(signal="all_clear", duration_s=ALL_CLEAR_TONE_S)
    return None


def audio_program(
    signal: str,
    speech: Sequence[SpeechItem],
    exercise_speech: dict[str, SpeechItem],
) -> list[ProgramItem]:
    """Signal first, then per language (in order) the exercise notice if any, then the message."""
    program: list[ProgramItem] = []
    tone = tone_for(signal)
    if tone is not None:
        program.append(tone)
    previous: str | None = None
    for item in speech:
        notice = exercise_speech.get(item.lang)
        if notice is not None and item.lang != previous:
            program.append(notice)
        program.append(item)
        previous = item.lang
    return program


def warning_light(severity: str) -> LightPayload:
    return LightPayload(
        on=True,
        brightness=100,
        color=SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["severe"]),
        effect="blink",
        period_ms=WARNING_BLINK_PERIOD_MS,
        transition_ms=0,
    )


def warning_projection(severity: str, text: str) -> ProjectionPayload:
    return ProjectionPayload(
        pictogram="warning",
        text=text[:64],
        color=SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["severe"]),
    )


def envelope(
    *,
    alert_id: str,
    role: str,
    channel: Channel,
    priority: int,
    issued_at: datetime,
    expires_at: datetime,
    exercise: bool,
    payload: Payload,
    seq: int,
    starts_at: datetime | None = None,
) -> CommandEnvelope:
    """A new command; a release payload makes it a ``release``, ``starts_at`` one sent ahead.

    ``role`` is the issuer's (the caller's, or the schedule runner's): the signer picks that
    role's key and lanterns refuse a priority above its ceiling."""
    op: Literal["set", "release"] = "release" if isinstance(payload, ReleasePayload) else "set"
    return CommandEnvelope(
        id=new_command_id(),
        alert_id=alert_id,
        role=role,
        channel=channel,
        op=op,
        priority=priority,
        issued_at=issued_at,
        starts_at=starts_at,
        expires_at=expires_at,
        exercise=exercise,
        payload=payload,
        seq=seq,
    )


def stored(env: CommandEnvelope) -> Command:
    """The command as the store keeps it: the envelope exactly as it is published."""
    return Command(
        id=env.id,
        alert_id=env.alert_id,
        channel=env.channel,
        op=env.op,
        priority=env.priority,
        seq=env.seq,
        issued_at=env.issued_at,
        expires_at=env.expires_at,
        envelope=env.to_bytes().decode(),
    )


def audio_payload(
    program: list[ProgramItem],
    repeat: int,
    interval_s: float,
    volume: int,
    issued_at: datetime | None = None,
    min_lead_s: float = 0.0,
) -> AudioPayload:
    """The audio payload; with ``issued_at``, speech shares one start on every lantern
    (``speech_at``): after the signal, and no sooner than ``min_lead_s`` after issue."""
    return AudioPayload(
        program=program,
        repeat=repeat,
        interval_s=interval_s if repeat > 1 else 0,
        volume=volume,
        speech_at=speech_start(program, issued_at, min_lead_s) if issued_at else None,
    )


def speech_start(
    program: list[ProgramItem], issued_at: datetime, min_lead_s: float
) -> datetime | None:
    """When the first spoken item starts on every lantern: the signal's length after issue
    (or ``min_lead_s`` if longer), so a lantern that got the command at once plays the whole
    signal and the others shorten it; None for a program that says nothing."""
    lead = 0.0
    for item in program:
        if isinstance(item, SpeechItem):
            return issued_at + timedelta(seconds=max(lead, min_lead_s))
        lead += item.duration_s
    return None
