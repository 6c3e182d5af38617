"""The alert's speech clock (firmware_sim/timeline.py): sound first, speech in step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firmware_sim.cache import ClipCache
from firmware_sim.effects import Reason
from firmware_sim.timeline import plan
from lightctl.protocol import AudioPayload, SpeechItem, ToneItem

T0 = datetime(2025, 1, 1, 12, tzinfo=UTC)
A, B, C = ("a" * 64, "b" * 64, "c" * 64)


def payload(speech_at: datetime | None, repeat: int = 1) -> AudioPayload:
    return AudioPayload(
        program=[
            ToneItem(signal="warning", duration_s=5),
            *(
                SpeechItem(lang="de", url=f"http://x/{h}", sha256=h, duration_s=3)
                for h in (A, B, C)
            ),
        ],
        speech_at=speech_at,
        repeat=repeat,
        interval_s=2 if repeat > 1 else 0,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_lanterns_ready_in_time_all_start_speaking_at_speech_at() -> None:
    program = payload(at(5))
    for received, ready in ((0, 0.2), (3, 4.9)):
        p = plan(program, at(received), at(ready))
        assert (p.first_speech_at, p.played, p.skipped, p.run) == (at(5), (A, B, C), 0, 0)
        assert p.ends == at(14)


def test_a_late_lantern_joins_at_the_next_sentence_boundary_and_ends_with_the_others() -> None:
    p = plan(payload(at(5)), at(0), at(6.5))
    assert (p.speech_from, p.played, p.skipped, p.ends) == (at(8), (B, C), 1, at(14))
    # Exactly on a boundary: it takes that sentence.
    assert plan(payload(at(5)), at(0), at(11)).played == (C,)


def test_after_the_run_it_joins_the_next_run_of_the_same_clock() -> None:
    # The program runs 14 s from t=0; ready at 20 s: run 1 starts at 14, B at 14+5+3=22.
    p = plan(payload(at(5)), at(19), at(20))
    assert (p.run, p.speech_from, p.played, p.ends) == (1, at(22), (B, C), at(28))
    # With repeats a late lantern's tail runs through the following repeat.
    r = plan(payload(at(5), repeat=2), at(0), at(9))
    assert r.played == (C, A, B, C)
    assert r.ends == at(30)


def test_a_simulator_at_speed_shrinks_the_whole_program_signal_included() -> None:
    # Run 0 starts at t=0 for every copy; at speed 4 the 5 s signal lasts 1.25 s and each 3 s
    # sentence 0.75 s: A at 1.25, B at 2.0, C at 2.75, the end at 14 / 4.
    assert plan(payload(at(5)), at(0), at(0.1), speed=4).first_speech_at == at(1.25)
    p = plan(payload(at(5)), at(0), at(1.5), speed=4)
    assert (p.speech_from, p.played) == (at(2.0), (B, C))
    assert p.ends == at(14 / 4)


def test_without_speech_at_speech_follows_the_signal_as_soon_as_the_clips_are_there() -> None:
    p = plan(payload(None), at(0), at(7))
    assert (p.first_speech_at, p.played, p.skipped, p.run) == (at(7), (A, B, C), 0, None)
    assert plan(payload(None), at(0), at(1)).first_speech_at == at(5)


def test_the_cache_evicts_free_text_clips_first_and_refuses_what_cannot_fit() -> None:
    cache = ClipCache(budget_bytes=100)
    cache.repin({A})
    assert cache.put(A, 60) is None
    assert cache.put(B, 30) is None  # a free-text clip
    assert cache.put(C, 30) is None  # evicts B (not pinned), never A
    assert cache.held() == {A, C}
    assert cache.put("d" * 64, 90) is Reason.CACHE_FULL  # only A stands in the way, and it stays
    cache.repin(set())  # no manifest names A any more
    assert cache.put("d" * 64, 90) is None
    assert cache.held() == {"d" * 64}
    cache.fault = Reason.CACHE_UNWRITABLE
    assert cache.put(B, 1) is Reason.CACHE_UNWRITABLE


def test_a_floor_keeps_part_of_the_signal_in_real_time_for_downloads_on_every_lantern() -> None:
    # Speed 4 would make the 5 s signal 1.25 s; a 3 s floor keeps 3 s, and the sentences follow
    # at the sped-up pace, the same for a lantern that got its copy later.
    for received in (0, 1.0):
        p = plan(payload(at(5)), at(received), at(2.9), speed=4, signal_floor_s=3)
        assert (p.first_speech_at, p.played, p.skipped) == (at(3), (A, B, C), 0)
        assert p.ends == at(3 + 9 / 4)
    # The floor never makes the signal longer than it is.
    assert plan(payload(at(5)), at(0), at(0), speed=4, signal_floor_s=60).first_speech_at == at(5)
