"""Signal tones are real, audible sounds whose pitch behaves as specified."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable

import pytest

from lightctl.audio.tones import all_clear_tone, attention_chime, warning_tone
from lightctl.audio.wav import Pcm, decode_wav

Rms = Callable[["array[int]"], float]
WINDOW_S = 0.05


def pitch_track(pcm: Pcm, window_s: float = WINDOW_S) -> list[float]:
    """Frequency per window from zero crossings (two per cycle): exact enough for pure tones."""
    size = round(window_s * pcm.sample_rate)
    track = []
    for start in range(0, len(pcm.samples) - size + 1, size):
        chunk = pcm.samples[start : start + size]
        crossings = sum(1 for a, b in itertools.pairwise(chunk) if (a < 0) != (b < 0))
        track.append(crossings / 2 / window_s)
    return track


@pytest.mark.parametrize("duration", [3.0, 6.0, 10.0])
def test_warning_tone_is_loud_and_as_long_as_asked(rms: Rms, duration: float) -> None:
    pcm = decode_wav(warning_tone(duration))
    assert pcm.duration_s == pytest.approx(duration)
    assert rms(pcm.samples) > 5000
    assert max(abs(s) for s in pcm.samples) < 32767  # headroom, no clipping


def test_warning_tone_sweeps_up_and_down_each_second() -> None:
    track = pitch_track(decode_wav(warning_tone(4.0)))
    per_period = round(1.0 / WINDOW_S)  # 20 windows per 1 s sweep
    assert min(track) == pytest.approx(500, abs=80)
    assert max(track) == pytest.approx(1200, abs=80)
    for period in range(4):
        cycle = track[period * per_period : (period + 1) * per_period]
        rising, falling = cycle[: per_period // 2], cycle[per_period // 2 :]
        assert rising == sorted(rising), f"period {period} does not rise"
        assert falling == sorted(falling, reverse=True), f"period {period} does not fall"
        assert rising[-1] - rising[0] > 500


def test_all_clear_is_a_steady_tone(rms: Rms) -> None:
    pcm = decode_wav(all_clear_tone(3.0))
    assert pcm.duration_s == pytest.approx(3.0)
    assert rms(pcm.samples) > 5000
    track = pitch_track(pcm)[1:-1]  # the fade windows at both ends may differ by a crossing
    assert all(f == pytest.approx(880, abs=25) for f in track)


def test_attention_chime_has_two_falling_notes(rms: Rms) -> None:
    pcm = decode_wav(attention_chime())
    assert pcm.duration_s == pytest.approx(1.2)
    half = len(pcm.samples) // 2
    first, second = pcm.samples[:half], pcm.samples[half:]
    assert rms(first) > 2000
    assert rms(second) > 2000
    first_hz = pitch_track(Pcm(first, pcm.sample_rate), 0.2)[0]
    second_hz = pitch_track(Pcm(second, pcm.sample_rate), 0.2)[0]
    assert first_hz == pytest.approx(784, abs=25)
    assert second_hz == pytest.approx(659, abs=25)
    # each note decays like a struck bar: the start is much louder than the end
    tenth = len(first) // 10
    assert rms(first[:tenth]) > 4 * rms(first[-tenth:])


@pytest.mark.parametrize("tone", [warning_tone, all_clear_tone])
@pytest.mark.parametrize("duration", [0.0, 2.9, 10.1])
def test_tone_duration_outside_3_to_10_s_is_refused(
    tone: Callable[[float], bytes], duration: float
) -> None:
    with pytest.raises(ValueError, match="3–10 s"):
        tone(duration)
