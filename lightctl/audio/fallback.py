"""A primary engine backed by a second one, and a result that always says when the backup spoke."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lightctl.audio.synth import Rendered, Synthesizer
from lightctl.errors import SynthesisFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FallbackRendered(Rendered):
    """A ``Rendered`` that also names the preferred engine and, if it did not speak, why."""

    primary: str
    fallback_reason: str | None  # None: the primary engine produced the audio


def fallback_reason_of(rendered: Rendered) -> str | None:
    """Why a backup engine produced ``rendered`` (``None`` for a first-choice result)."""
    return rendered.fallback_reason if isinstance(rendered, FallbackRendered) else None


class FallbackSynthesizer:
    """Tries ``primary`` (e.g. gTTS) and renders with ``fallback`` (eSpeak NG) when it cannot."""

    def __init__(self, primary: Synthesizer, fallback: Synthesizer) -> None:
        self.primary = primary
        self.fallback = fallback
        # The preference, not whoever spoke last: caches key on this name.
        self.name = f"{primary.name}>{fallback.name}"

    def supports(self, lang: str) -> bool:
        return self.primary.supports(lang) or self.fallback.supports(lang)

    def render(self, text: str, lang: str) -> FallbackRendered:
        if self.primary.supports(lang):
            try:
                result = self.primary.render(text, lang)
            except SynthesisFailed as exc:
                reason = f"{self.primary.name} failed: {exc.reason}"
                log.warning("speech for %s falls back to %s: %s", lang, self.fallback.name, reason)
            else:
                return _tagged(result, self.primary.name, None)
        else:
            reason = f"{self.primary.name} does not support {lang!r}"
            log.info("speech for %s uses %s: %s", lang, self.fallback.name, reason)
        if not self.fallback.supports(lang):
            raise SynthesisFailed(
                lang, f"{reason}; {self.fallback.name} does not support {lang!r}", self.name
            )
        try:
            result = self.fallback.render(text, lang)
        except SynthesisFailed as exc:
            raise SynthesisFailed(
                lang, f"{reason}; {self.fallback.name} failed: {exc.reason}", self.name
            ) from exc
        return _tagged(result, self.primary.name, reason)


def _tagged(result: Rendered, primary: str, reason: str | None) -> FallbackRendered:
    # A nested fallback keeps its own reason too, so no step of the chain goes unreported.
    reasons = [r for r in (reason, fallback_reason_of(result)) if r]
    return FallbackRendered(
        data=result.data,
        ext=result.ext,
        duration_s=result.duration_s,
        engine=result.engine,
        primary=primary,
        fallback_reason="; ".join(reasons) or None,
    )
