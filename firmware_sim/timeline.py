"""When a lantern speaks: one clock per alert, so neighbouring lanterns never echo each other.

A command's audio payload may carry ``speech_at`` (issue 14): the moment its first spoken item
starts on every lantern of the alert. The program, with its repeats, runs from there and is
thought of as repeated without end, run after run; each item's start is a sentence boundary. A
lantern sounds the signal from the moment it holds a valid command and joins the speech at the
first boundary after its clips are verified, then plays to the end of that run. Two lanterns
that join the same run play every sentence they both play at the same instant; a late one
only misses the sentences before it joined (its ``done`` says ``joined_late``).

Pure: times in, a plan out. ``speech_at`` is a wall-clock time like ``expires_at``; a simulator
playing ``speed`` times faster than real time shrinks every interval of the program, measured
from the nominal start of its first run (``speech_at`` less the signal before the first spoken
item, the same for all copies of one command), so its lanterns share the clock too, while the
commands still travel at the network's real speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lightctl.protocol import AudioPayload, SpeechItem, ToneItem


@dataclass(frozen=True, slots=True)
class Plan:
    """What one lantern plays: the signal from receipt, speech from ``speech_from`` to ``ends``.

    ``played`` lists the clip hashes it will speak, in order; ``skipped`` how many spoken
    items of the run it missed by joining late; ``run`` which run of the shared clock it joined
    (None: unaligned, a command without ``speech_at``)."""

    speech_from: datetime
    ends: datetime
    played: tuple[str, ...]
    skipped: int
    first_item: int
    run: int | None
    first_speech_at: datetime


def expanded(payload: AudioPayload) -> list[tuple[float, ToneItem | SpeechItem]]:
    """(offset in seconds from the program's start, item) for every item of every repeat."""
    out: list[tuple[float, ToneItem | SpeechItem]] = []
    offset = 0.0
    for repeat in range(payload.repeat):
        if repeat:
            offset += payload.interval_s
        for item in payload.program:
            out.append((offset, item))
            offset += item.duration_s
    return out


def lead_s(payload: AudioPayload) -> float:
    """Seconds of signal before the first spoken item (0 when the program starts speaking)."""
    lead = 0.0
    for item in payload.program:
        if isinstance(item, SpeechItem):
            return lead
        lead += item.duration_s
    return lead


def plan(
    payload: AudioPayload,
    received_at: datetime,
    ready_at: datetime,
    speed: float = 1.0,
    signal_floor_s: float = 0.0,
) -> Plan:
    """The plan of a lantern that got the command at ``received_at`` and had every clip checked
    at ``ready_at`` (both wall-clock times).

    ``signal_floor_s``: a sped-up simulator shrinks the signal before ``speech_at`` no shorter
    than this (nor longer than the signal itself), because clip downloads are not sped up; the
    same for every copy of the command, so its lanterns still share one clock."""
    items = expanded(payload)
    speech = [(i, off, it) for i, (off, it) in enumerate(items) if isinstance(it, SpeechItem)]
    total = payload.duration_s()
    lead = lead_s(payload)
    if payload.speech_at is None or not speech:
        # Unaligned: the signal first, the speech as soon as it is there, nothing skipped.
        start = max(received_at + timedelta(seconds=lead / speed), ready_at)
        ends = start + timedelta(seconds=(total - lead) / speed)
        played = tuple(it.sha256 for _i, _o, it in speech)
        return Plan(start, ends, played, 0, speech[0][0] if speech else 0, None, start)

    # The nominal start of run 0 (the same for every copy of the command) anchors the shrunk
    # clock: at ``speed`` 50 a 5 s signal before ``speech_at`` lasts 0.1 s on every lantern.
    speech_at = payload.speech_at
    origin = speech_at - timedelta(seconds=lead)
    # Where speech_at falls on the shrunk clock; every other moment is scaled around it.
    anchor = origin + timedelta(seconds=max(lead / speed, min(lead, signal_floor_s)))

    def wall(nominal: datetime) -> datetime:
        return anchor + (nominal - speech_at) / speed

    last_speech = speech[-1][0]
    period = timedelta(seconds=total)
    # The run in which ready_at falls (or run 0 if before it), then the next boundary at or
    # after ready_at that still has speech after it; else the next run's first item.
    run = 0
    if period > timedelta(0):
        elapsed = (ready_at - wall(origin)) * speed
        run = max(0, int(elapsed / period))
    while True:
        start = origin + run * period
        for index, (offset, _item) in enumerate(items):
            if index > last_speech:
                break
            at = wall(start + timedelta(seconds=offset))
            if at >= ready_at:
                spoken = [(o, it) for i, o, it in speech if i >= index]
                skipped = len(speech) - len(spoken)
                first = wall(start + timedelta(seconds=spoken[0][0]))
                played = tuple(it.sha256 for _o, it in spoken)
                return Plan(at, wall(start + period), played, skipped, index, run, first)
        run += 1
