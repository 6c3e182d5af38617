"""The synthesizer interface: text in one language becomes a playable audio clip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Rendered:
    """Audio bytes one engine produced for one text."""

    data: bytes
    ext: str  # "wav" or "mp3"
    duration_s: float
    engine: str


class Synthesizer(Protocol):
    """Anything that can speak: the offline eSpeak NG engine, gTTS, or a test fake."""

    name: str

    def supports(self, lang: str) -> bool: ...

    def render(self, text: str, lang: str) -> Rendered:
        """Render speech or raise ``SynthesisFailed``."""
        ...
