"""The audio program: signal first, then each language in order; exercise notice per language."""

from __future__ import annotations

from lightctl.protocol import SpeechItem, ToneItem
from lightctl.services.alerts.commands import audio_payload, audio_program, warning_light


def clip(lang: str, n: int) -> SpeechItem:
    return SpeechItem(lang=lang, url=f"http://x/{lang}{n}", sha256=f"{n:064x}", duration_s=2)


def test_signal_then_languages_in_order() -> None:
    speech = [clip("de", 1), clip("de", 2), clip("en", 3)]
    program = audio_program("warning", speech, {})
    assert isinstance(program[0], ToneItem)
    assert program[0].signal == "warning"
    assert 3 <= program[0].duration_s <= 10  # voice-alarm practice: 3-10 s attention signal
    assert program[1:] == speech


def test_all_clear_uses_the_steady_signal_and_none_plays_no_tone() -> None:
    first = audio_program("all_clear", [clip("de", 1)], {})[0]
    assert isinstance(first, ToneItem)
    assert first.signal == "all_clear"
    assert audio_program("none", [clip("de", 1)], {}) == [clip("de", 1)]


def test_exercise_notice_precedes_each_language_once() -> None:
    notices = {"de": clip("de", 90), "en": clip("en", 91)}
    program = audio_program("none", [clip("de", 1), clip("de", 2), clip("en", 3)], notices)
    assert [p.sha256 for p in program if isinstance(p, SpeechItem)] == [
        f"{n:064x}" for n in (90, 1, 2, 91, 3)
    ]


def test_repeats_and_gaps_count_in_the_duration() -> None:
    payload = audio_payload(audio_program("warning", [clip("de", 1)], {}), 3, 20, 70)
    assert payload.duration_s() == (5 + 2) * 3 + 20 * 2
    single = audio_payload(audio_program("warning", [clip("de", 1)], {}), 1, 20, 70)
    assert single.interval_s == 0


def test_warning_light_blinks_slowly_in_the_severity_colour() -> None:
    light = warning_light("extreme")
    assert (light.color, light.effect) == ("#FF0000", "blink")
    assert light.period_ms is not None
    assert light.period_ms >= 1000  # under 1 Hz: no flash risk
