"""Builds the synthesizer the settings ask for, so the app never wires engines by hand."""

from __future__ import annotations

from lightctl.audio.espeak import OfflineSynthesizer
from lightctl.audio.fallback import FallbackSynthesizer
from lightctl.audio.gtts_engine import GttsSynthesizer
from lightctl.audio.synth import Synthesizer
from lightctl.settings import Settings


def synthesizer_from_settings(settings: Settings) -> Synthesizer:
    """eSpeak NG alone for ``offline``; gTTS backed by eSpeak NG for ``gtts`` (never gTTS alone)."""
    offline = OfflineSynthesizer()
    if settings.tts_engine == "offline":
        return offline
    return FallbackSynthesizer(GttsSynthesizer(timeout_s=settings.tts_timeout_s), offline)
