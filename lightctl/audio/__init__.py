"""Speech and signal audio for lanterns: engines, fallback, tones and the clip store."""

from lightctl.audio.clips import (
    AUDIO_EXTS,
    Clip,
    ClipStore,
    SpeechCache,
    SpeechClip,
    parse_clip_name,
)
from lightctl.audio.espeak import OfflineSynthesizer
from lightctl.audio.factory import synthesizer_from_settings
from lightctl.audio.fallback import FallbackRendered, FallbackSynthesizer, fallback_reason_of
from lightctl.audio.gtts_engine import GttsSynthesizer
from lightctl.audio.synth import Rendered, Synthesizer
from lightctl.audio.tones import all_clear_tone, attention_chime, warning_tone
from lightctl.audio.wav import Pcm, decode_wav, encode_wav, mp3_duration_s, wav_duration_s

__all__ = [
    "AUDIO_EXTS",
    "Clip",
    "ClipStore",
    "FallbackRendered",
    "FallbackSynthesizer",
    "GttsSynthesizer",
    "OfflineSynthesizer",
    "Pcm",
    "Rendered",
    "SpeechCache",
    "SpeechClip",
    "Synthesizer",
    "all_clear_tone",
    "attention_chime",
    "decode_wav",
    "encode_wav",
    "fallback_reason_of",
    "mp3_duration_s",
    "parse_clip_name",
    "synthesizer_from_settings",
    "warning_tone",
    "wav_duration_s",
]
