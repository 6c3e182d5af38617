"""A pre-approved warning template: texts in every language, severity, signal, placeholders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

Severity = Literal["extreme", "severe", "moderate", "minor"]  # CAP 1.2 severity values
Signal = Literal["warning", "all_clear", "none"]  # the tone played before the speech

SEVERITIES: tuple[Severity, ...] = ("extreme", "severe", "moderate", "minor")
SIGNALS: tuple[Signal, ...] = ("warning", "all_clear", "none")

# Every shipped template speaks these nine (issue 4); de-LS is Leichte Sprache (easy German).
REQUIRED_LANGUAGES: tuple[str, ...] = ("de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl", "fr")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A value the dispatcher fills in, such as ``street``; ``example`` shows what fits."""

    name: str
    description: Mapping[str, str]  # language -> text; "de" and "en" always present
    example: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "description", _frozen(self.description))

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "description": dict(self.description), "example": self.example}


@dataclass(frozen=True, slots=True)
class Template:
    """One warning a dispatcher can send in a few clicks; texts use ``{name}`` placeholders."""

    id: str
    title: Mapping[str, str]  # language -> title; "de" and "en" always present
    severity: Severity
    signal: Signal
    default_languages: tuple[str, ...]  # playback order when the dispatcher picks none
    placeholders: tuple[Placeholder, ...]
    text: Mapping[str, str]  # language -> spoken text, in file order
    projection_text: Mapping[str, str]  # language -> short text for the pavement projector

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", _frozen(self.title))
        object.__setattr__(self, "text", _frozen(self.text))
        object.__setattr__(self, "projection_text", _frozen(self.projection_text))

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages this template has a spoken text for, in file order."""
        return tuple(self.text)

    @property
    def placeholder_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.placeholders)

    def summary(self) -> dict[str, Any]:
        """What ``GET /templates`` shows for this template (JSON-ready)."""
        return {
            "id": self.id,
            "title": dict(self.title),
            "severity": self.severity,
            "signal": self.signal,
            "languages": list(self.languages),
            "default_languages": list(self.default_languages),
            "placeholders": [p.summary() for p in self.placeholders],
        }
