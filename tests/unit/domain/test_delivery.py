"""Acks move deliveries forward only; terminal states stay terminal."""

from __future__ import annotations

from lightctl.domain.delivery import AckedCommand, AckRefusal, judge_ack, next_state
from lightctl.domain.delivery import DeliveryState as S


def test_the_happy_path() -> None:
    state = S.PUBLISHED
    for ack, expected in (("received", S.RECEIVED), ("playing", S.PLAYING), ("done", S.DONE)):
        new = next_state(state, ack)
        assert new == expected
        state = new


def test_a_late_received_never_moves_back() -> None:
    assert next_state(S.PLAYING, "received") is None
    assert next_state(S.RECEIVED, "received") is None


def test_terminal_states_ignore_every_ack() -> None:
    for terminal in (S.DONE, S.CANCELLED, S.SUPERSEDED, S.EXPIRED, S.UNREACHABLE, S.FAILED):
        for ack in ("received", "playing", "done", "failed", "expired"):
            assert next_state(terminal, ack) is None


def test_failures_end_a_delivery_from_any_open_state() -> None:
    for open_state in (S.PLANNED, S.PUBLISHED, S.RECEIVED, S.PLAYING):
        assert next_state(open_state, "failed") == S.FAILED
        assert next_state(open_state, "rejected") == S.REJECTED
    assert next_state(S.PUBLISHED, "bogus") is None


AUDIO = AckedCommand("audio", "set", ("a" * 64, "b" * 64, "a" * 64, "b" * 64))
LIGHT = AckedCommand("light", "set")
RELEASE = AckedCommand("light", "release")


def test_a_held_delivery_was_never_published_so_no_ack_moves_it() -> None:
    for ack in ("received", "playing", "done", "failed"):
        assert judge_ack(S.HELD, ack, AUDIO, AUDIO.clips) is AckRefusal.NOT_SENT


def test_a_status_that_kind_of_command_never_gets_is_refused() -> None:
    assert judge_ack(S.PUBLISHED, "applied", AUDIO) is AckRefusal.WRONG_STATUS
    assert judge_ack(S.PUBLISHED, "playing", LIGHT) is AckRefusal.WRONG_STATUS
    assert judge_ack(S.PUBLISHED, "applied", RELEASE) is AckRefusal.WRONG_STATUS
    assert judge_ack(S.PUBLISHED, "applied", LIGHT) is S.APPLIED
    assert judge_ack(S.PUBLISHED, "done", RELEASE) is S.DONE


def test_done_is_believed_only_with_exactly_the_clips_sent() -> None:
    assert judge_ack(S.PLAYING, "done", AUDIO, list(AUDIO.clips or ())) is S.DONE
    for played in (None, [], ["a" * 64, "b" * 64], ["b" * 64, "a" * 64] * 2, ["c" * 64] * 4):
        assert judge_ack(S.PLAYING, "done", AUDIO, played) is AckRefusal.PLAYED_MISMATCH
    tone_only = AckedCommand("audio", "set", ())
    assert judge_ack(S.PLAYING, "done", tone_only, None) is S.DONE


def test_a_command_sent_ahead_may_end_released_before_it_ever_played() -> None:
    ahead = AckedCommand("audio", "set", ("a" * 64,), sent_ahead=True)
    assert judge_ack(S.RECEIVED, "done", ahead, None, "released") is S.DONE
    assert judge_ack(S.RECEIVED, "done", ahead, None) is AckRefusal.PLAYED_MISMATCH
    assert judge_ack(S.RECEIVED, "done", AUDIO, None, "released") is AckRefusal.PLAYED_MISMATCH


def test_judging_keeps_the_order_and_the_terminal_states() -> None:
    assert judge_ack(S.PLAYING, "received", AUDIO) is None
    assert judge_ack(S.DONE, "failed", AUDIO) is None
    assert judge_ack(S.FAILED, "done", AUDIO, list(AUDIO.clips or ())) is None
    # Without the command (an unreadable stored envelope) the order rules still hold.
    assert judge_ack(S.PUBLISHED, "received", None) is S.RECEIVED


def test_a_refused_copy_addressed_elsewhere_does_not_end_the_delivery() -> None:
    """Someone replays another lantern's copy onto this lantern's topic: the lantern refuses it
    (`wrong_audience`), and that says nothing about the copy we sent it."""
    for state in (S.PUBLISHED, S.RECEIVED, S.PLAYING):
        for reason in ("wrong_audience", "missing_audience"):
            verdict = judge_ack(state, "rejected", AUDIO, None, reason)
            assert verdict is AckRefusal.NOT_OUR_COPY, (state, reason)
    # A refusal of our own copy still ends it, with its reason.
    assert judge_ack(S.PUBLISHED, "rejected", AUDIO, None, "bad_signature") is S.REJECTED
    assert judge_ack(S.PLAYING, "done", AUDIO, AUDIO.clips) is S.DONE


def test_a_lantern_that_joined_late_is_done_with_a_tail_of_the_clips_and_nothing_else() -> None:
    sent = AckedCommand("audio", "set", ("a" * 64, "b" * 64, "c" * 64))
    tail = ["b" * 64, "c" * 64]
    assert judge_ack(S.PLAYING, "done", sent, tail, "joined_late") is S.DONE
    # Not a tail, all of it, nothing, or a tail without saying it joined late: refused.
    for played, reason in (
        (["a" * 64, "b" * 64], "joined_late"),
        (list(sent.clips or ()), "joined_late"),
        ([], "joined_late"),
        (tail, None),
    ):
        assert judge_ack(S.PLAYING, "done", sent, played, reason) is AckRefusal.PLAYED_MISMATCH
    # Clips that never came end the lantern `failed`, also after the signal said `playing`.
    assert judge_ack(S.PLAYING, "failed", sent, None, "clip_unavailable") is S.FAILED
