"""Acks move deliveries forward only; terminal states stay terminal."""

from __future__ import annotations

from lightctl.domain.delivery import DeliveryState as S
from lightctl.domain.delivery import next_state


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
