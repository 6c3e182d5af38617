"""Generated signal sounds (warning sweep, all-clear, chime) as WAV, needing no engine at all."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from functools import lru_cache

from lightctl.audio.wav import encode_wav

SAMPLE_RATE = 22050  # the rate eSpeak NG speaks at, so lanterns play tones and speech alike
AMPLITUDE = 0.6  # of int16 full scale: loud, with headroom against clipping in cheap amplifiers
FADE_S = 0.01  # 10 ms ramps at both ends avoid a click when playback starts or stops

# Rising and falling like the German civil-protection siren ("Warnung": 1 min up and down).
SWEEP_LOW_HZ = 500.0
SWEEP_HIGH_HZ = 1200.0
SWEEP_PERIOD_S = 1.0  # one rise and one fall per second
ALL_CLEAR_HZ = 880.0  # steady tone, as the all-clear siren signal is one continuous pitch
MIN_TONE_S, MAX_TONE_S = 3.0, 10.0  # long enough to notice, short enough not to drown speech


def _check_duration(duration_s: float) -> None:
    if not MIN_TONE_S <= duration_s <= MAX_TONE_S:
        raise ValueError(f"tone duration must be {MIN_TONE_S:g}–{MAX_TONE_S:g} s, got {duration_s}")


def sweep_frequency_hz(t: float) -> float:
    """Instantaneous sweep frequency: a triangle from low to high and back each period."""
    phase = (t / SWEEP_PERIOD_S) % 1.0
    rise = 2 * phase if phase < 0.5 else 2 * (1 - phase)
    return SWEEP_LOW_HZ + (SWEEP_HIGH_HZ - SWEEP_LOW_HZ) * rise


def _steady(hz: float) -> Callable[[float], float]:
    return lambda _t: hz


def _synth(
    duration_s: float,
    frequency: Callable[[float], float],
    envelope: Callable[[float], float] = lambda _t: 1.0,
) -> array[int]:
    """Samples of a sine whose frequency may change over time (phase is integrated, no jumps)."""
    count = round(duration_s * SAMPLE_RATE)
    fade = max(1, round(FADE_S * SAMPLE_RATE))
    out = array("h", bytes(2 * count))
    phase = 0.0
    peak = AMPLITUDE * 32767
    for i in range(count):
        t = i / SAMPLE_RATE
        ramp = min(1.0, i / fade, (count - 1 - i) / fade)
        out[i] = round(peak * ramp * envelope(t) * math.sin(phase))
        phase = (phase + 2 * math.pi * frequency(t) / SAMPLE_RATE) % (2 * math.pi)
    return out


@lru_cache(maxsize=8)  # deterministic and ~0.5 s of pure Python for 10 s of audio
def warning_tone(duration_s: float = 6.0) -> bytes:
    """A siren-like sweep between 500 and 1200 Hz, one rise and fall per second, as WAV."""
    _check_duration(duration_s)
    return encode_wav(_synth(duration_s, sweep_frequency_hz), SAMPLE_RATE)


@lru_cache(maxsize=8)
def all_clear_tone(duration_s: float = 4.0) -> bytes:
    """A steady 880 Hz tone, the all-clear counterpart of the warning sweep, as WAV."""
    _check_duration(duration_s)
    return encode_wav(_synth(duration_s, _steady(ALL_CLEAR_HZ)), SAMPLE_RATE)


CHIME_NOTES_HZ = (784.0, 659.3)  # G5 then E5: the familiar falling "ding-dong" of announcements
CHIME_NOTE_S = 0.6
CHIME_DECAY_S = 0.25  # time constant: each note falls to ~9 % by its end, like a struck bar


@lru_cache(maxsize=8)
def attention_chime() -> bytes:
    """A two-note falling chime (1.2 s) played before a spoken announcement, as WAV."""
    samples = array("h")
    for note in CHIME_NOTES_HZ:
        samples.extend(_synth(CHIME_NOTE_S, _steady(note), lambda t: math.exp(-t / CHIME_DECAY_S)))
    return encode_wav(samples, SAMPLE_RATE)
