"""What a CAP message says on the lanterns: languages, texts, colour, signal. Pure: no I/O.

One program per message: the ``info`` blocks' languages our voices speak, the city's language
first, then the configured order; a language no engine speaks is skipped and reported.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lightctl.cap.model import CapInfo, CapMessage

# BCP 47 tags seen in real CAP (DE, de-DE, DE-LS, en-US, es-419, zh-tw) → our voice codes.
# Easy German ("Leichte Sprache") is tagged de-LS by MoWaS (issue 16).
_EASY_GERMAN = frozenset({"de-ls", "de-de-ls", "de-x-ls", "de-easy"})

# Our severities by CAP severity; "Unknown" warns as "severe" (the product's default).
SEVERITY = {
    "Extreme": "extreme",
    "Severe": "severe",
    "Moderate": "moderate",
    "Minor": "minor",
    "Unknown": "severe",
}
SEVERITY_ORDER = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
# The warning colours lanterns show (services.alerts.commands.SEVERITY_COLOURS), as RGB; DWD's
# AREA_COLOR ("251 140 0") picks the nearest of them.
_COLOURS = {
    "extreme": (255, 0, 0),
    "severe": (255, 106, 0),
    "moderate": (255, 200, 0),
    "minor": (47, 128, 237),
}

_TAG = re.compile(r"<[^>]{0,400}>")
_SPACE = re.compile(r"\s+")


def voice_of(language: str, supported: Sequence[str]) -> str | None:
    """Our voice code for a CAP language tag, or None when no engine speaks it."""
    tag = language.strip().replace("_", "-")
    if tag.lower() in _EASY_GERMAN:
        return "de-LS" if "de-LS" in supported else None
    exact = {s.lower(): s for s in supported}
    if tag.lower() in exact:
        return exact[tag.lower()]
    primary = tag.split("-")[0].lower()
    return exact.get(primary)


def plain(text: str | None) -> str:
    """HTML tags and entities out, whitespace collapsed (``<br/>`` ends a sentence)."""
    if not text:
        return ""
    text = re.sub(r"(?i)<br\s*/?>", " ", html.unescape(text))
    text = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def cap_text(text: str, max_chars: int) -> str:
    """At most ``max_chars``: cut after the last full sentence that fits, else at a word."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end > max_chars // 2:
        return cut[: end + 1]
    return cut.rsplit(" ", 1)[0].rstrip(",;:") + "…"


@dataclass(frozen=True, slots=True)
class Spoken:
    """The program a message plays: texts per voice in playback order, and what was left out."""

    messages: dict[str, str]
    languages: tuple[str, ...]
    skipped: tuple[str, ...]  # CAP languages no engine speaks
    severity: str
    signal: str  # "warning" or "all_clear"
    headline: str


def spoken(
    message: CapMessage,
    supported: Sequence[str],
    order: Sequence[str],
    lead_in: dict[str, str],
    max_chars: int,
) -> Spoken:
    by_voice: dict[str, CapInfo] = {}
    skipped: list[str] = []
    for info in message.infos:
        voice = voice_of(info.language, supported)
        if voice is None:
            if info.language not in skipped:
                skipped.append(info.language)
            continue
        by_voice.setdefault(voice, info)  # a second block in one language adds nothing spoken
    rank = {lang: i for i, lang in enumerate(order)}
    languages = tuple(sorted(by_voice, key=lambda v: (rank.get(v, len(rank)), v)))
    messages: dict[str, str] = {}
    for voice in languages:
        info = by_voice[voice]
        body = plain(info.instruction) or plain(info.description)
        headline = plain(info.headline) or plain(info.event)
        intro = lead_in.get(voice, "")
        parts = [p for p in (intro, headline, body) if p]
        text = " ".join(p if p.endswith((".", "!", "?", ":")) else p + "." for p in parts)
        messages[voice] = cap_text(text, max_chars)
    return Spoken(
        messages=messages,
        languages=languages,
        skipped=tuple(skipped),
        severity=severity_of(message),
        signal="all_clear" if all_clear(message) else "warning",
        headline=next((plain(i.headline) for i in message.infos if i.headline), ""),
    )


def severity_of(message: CapMessage) -> str:
    """Our severity: DWD's AREA_COLOR when given (nearest warning colour), else CAP's."""
    for info in message.infos:
        colour = info.parameter("AREA_COLOR") or next(
            (c.value for c in info.event_codes if c.name == "AREA_COLOR"), None
        )
        rgb = _rgb(colour) if colour else None
        if rgb is not None:
            return min(
                _COLOURS,
                key=lambda k: sum((a - b) ** 2 for a, b in zip(_COLOURS[k], rgb, strict=True)),
            )
    worst = top_severity(message)
    return SEVERITY.get(worst, "severe")


def top_severity(message: CapMessage) -> str:
    found = [i.severity for i in message.infos if i.severity in SEVERITY_ORDER]
    return min(found, key=SEVERITY_ORDER.index) if found else "Unknown"


def _rgb(text: str) -> tuple[int, int, int] | None:
    parts = text.replace(",", " ").split()
    if len(parts) < 3 or not all(p.isdigit() for p in parts[:3]):
        return None
    r, g, b = (min(255, int(p)) for p in parts[:3])
    return r, g, b


def all_clear(message: CapMessage) -> bool:
    """CAP's all-clear: responseType AllClear in any info block."""
    return any("AllClear" in i.response_types for i in message.infos)


def audio_resources_note(message: CapMessage, max_bytes: int) -> list[str]:
    """Embedded audio is never spoken by TTS; each resource is named and why it is ignored."""
    notes = []
    for i, info in enumerate(message.infos):
        for j, res in enumerate(info.resources):
            if not res.is_audio:
                continue
            where = f"alert.info.{i}.resource.{j}"
            size = res.size if res.size is not None else len(res.deref_uri or "") * 3 // 4
            if size > max_bytes:
                notes.append(f"{where}: audio of {size} bytes is over {max_bytes}; ignored")
            else:
                notes.append(
                    f"{where}: audio ({res.mime_type}) ignored; lanterns play our own speech "
                    "clips, not a sender's recording"
                )
    return notes
