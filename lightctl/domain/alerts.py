"""An alert as the dispatcher asks for it, and the pure checks on its texts and timing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from lightctl.domain.guidance import EvacuationSpec
from lightctl.domain.targets import TargetSpec
from lightctl.errors import FieldProblem, InvalidRequest, summarise

Signal = Literal["warning", "all_clear", "none"]

# Voice-alarm practice: an attention signal of 3-10 s before the spoken message.
WARNING_TONE_S = 5.0
ALL_CLEAR_TONE_S = 4.0


@dataclass(frozen=True, slots=True)
class AlertSpec:
    target: TargetSpec
    messages: dict[str, str]
    languages: tuple[str, ...]
    priority: int = 1
    expires_at: datetime | None = None
    expires_in_s: int | None = None
    signal: Signal | None = None  # None: the template's signal, else "warning"
    repeat: int = 1
    interval_s: float = 5.0
    volume: int = 80
    exercise: bool = False
    template: str | None = None
    params: dict[str, str] | None = None
    severity: str | None = None  # None: the template's severity, else "severe"
    light: bool = True  # warning colour and slow blink, for people who cannot hear it
    projection: bool = True  # warning pictogram and short text on lanterns with a projector
    evacuation: EvacuationSpec | None = None  # arrows and running lights out of the hazard


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """What an update may change; None keeps the alert's current value."""

    target: TargetSpec | None = None
    messages: dict[str, str] | None = None
    template: str | None = None
    params: dict[str, str] | None = None
    languages: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    expires_in_s: int | None = None
    evacuation: EvacuationSpec | None = None


def check_messages(
    messages: dict[str, str],
    languages: tuple[str, ...],
    supported: tuple[str, ...],
    max_chars: int,
) -> tuple[str, ...]:
    """Validate texts and playback order; returns the languages in the order they will play."""
    problems: list[FieldProblem] = []
    if not messages:
        problems.append(FieldProblem(("messages",), "at least one language is required"))
    for lang, text in messages.items():
        if lang not in supported:
            problems.append(
                FieldProblem(
                    ("messages", lang),
                    f"unsupported language; supported: {', '.join(supported)}",
                    lang,
                )
            )
        stripped = text.strip()
        if not stripped:
            problems.append(FieldProblem(("messages", lang), "text is empty"))
        elif len(stripped) > max_chars:
            problems.append(
                FieldProblem(
                    ("messages", lang),
                    f"text has {len(stripped)} characters; at most {max_chars} are allowed",
                )
            )
    order = languages or tuple(messages)
    seen: set[str] = set()
    for i, lang in enumerate(order):
        if lang not in messages:
            problems.append(
                FieldProblem(("languages", i), "language has no text in messages", lang)
            )
        if lang in seen:
            problems.append(FieldProblem(("languages", i), "language listed twice", lang))
        seen.add(lang)
    if problems:
        raise InvalidRequest(summarise(problems), problems)
    return order


def expiry(
    now: datetime,
    expires_at: datetime | None,
    expires_in_s: int | None,
    default_s: int,
    max_s: int,
) -> datetime:
    """When the alert's commands expire: given, or now + default; never past, never beyond max."""
    if expires_at is not None and expires_in_s is not None:
        raise InvalidRequest.at(("expires_at",), "give expires_at or expires_in_s, not both")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidRequest.at(("expires_at",), "must carry a time zone", str(expires_at))
        at, field = expires_at, "expires_at"
    else:
        seconds = expires_in_s or default_s
        if seconds > max_s:  # before the sum: 1e15 s overflows a datetime
            raise InvalidRequest.at(("expires_in_s",), f"is more than {max_s} s ahead", seconds)
        at, field = now + timedelta(seconds=seconds), "expires_in_s"
    if at <= now:
        raise InvalidRequest.at((field,), "lies in the past", at.isoformat())
    if at > now + timedelta(seconds=max_s):
        raise InvalidRequest.at((field,), f"is more than {max_s} s ahead", at.isoformat())
    return at
