"""Property tests of the delivery state machine: whatever order acks and timers arrive in
(duplicated, reordered, late, two replicas applying the same ones), a lantern's delivery never
moves backwards and never leaves a terminal state; and the timing rules ask again later each
time and end every delivery whose command ran out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lightctl.domain.delivery import (
    FINAL_ACK_GRACE_S,
    MAX_BACKOFF_S,
    TERMINAL,
    AckedCommand,
    AckRefusal,
    DeliveryState,
    judge_ack,
    overdue,
    rank,
    retry_after_s,
)

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
AUDIO = AckedCommand(channel="audio", op="set", clips=("a" * 64, "b" * 64))
LIGHT = AckedCommand(channel="light", op="set")
RELEASE = AckedCommand(channel="light", op="release")
STATUSES = [
    "received",
    "playing",
    "done",
    "applied",
    "interrupted",
    "rejected",
    "failed",
    "expired",
]

# One event: an ack (status, with the played list right or wrong) or the clock passing expiry.
ack = st.tuples(st.just("ack"), st.sampled_from(STATUSES), st.booleans())
tick = st.tuples(st.just("tick"), st.integers(min_value=0, max_value=200), st.booleans())
events = st.lists(st.one_of(ack, tick), min_size=1, max_size=40)


def apply(
    state: DeliveryState, event: tuple[str, object, bool], command: AckedCommand
) -> DeliveryState:
    kind, value, flag = event
    if kind == "ack":
        played = list(command.clips) if (command.clips and flag) else ["c" * 64]
        verdict = judge_ack(state, str(value), command, played)
        return verdict if isinstance(verdict, DeliveryState) else state
    now = T0 + timedelta(seconds=int(str(value)))
    ended = overdue(state, T0 + timedelta(seconds=60), now, lantern_online=flag)
    return ended.state if ended is not None else state


@settings(max_examples=400, deadline=None)
@given(
    command=st.sampled_from([AUDIO, LIGHT, RELEASE]),
    start=st.sampled_from([DeliveryState.PLANNED, DeliveryState.PUBLISHED]),
    history=events,
)
def test_no_order_of_events_moves_a_delivery_back_or_out_of_a_terminal_state(
    command: AckedCommand, start: DeliveryState, history: list[tuple[str, object, bool]]
) -> None:
    state = start
    for event in history:
        after = apply(state, event, command)
        assert rank(after) >= rank(state), (state, event, after)
        if state in TERMINAL:
            assert after == state, (state, event, after)
        state = after


@settings(max_examples=300, deadline=None)
@given(
    command=st.sampled_from([AUDIO, LIGHT, RELEASE]),
    history=events,
    rng=st.randoms(use_true_random=False),
)
def test_two_replicas_applying_the_same_events_in_any_interleaving_agree_on_progress(
    command: AckedCommand, history: list[tuple[str, object, bool]], rng: random.Random
) -> None:
    """Replica A applies the events in order, replica B gets each twice (QoS 1 duplicates) and
    some late. Duplicates alone change nothing: the row ends where A alone ends. Interleaved with
    B's late copies, one shared row never moves back and never leaves a terminal state. (Where
    it ends may differ from A alone: an ack B applies before a timer tick tells a different,
    equally true story, e.g. received before expiry, then waiting out the final-ack grace.)"""
    alone = DeliveryState.PUBLISHED
    for event in history:
        alone = apply(alone, event, command)
    doubled = [e for e in history for _ in (0, 1)]
    twice = DeliveryState.PUBLISHED
    for event in doubled:
        twice = apply(twice, event, command)
    assert twice == alone
    late = doubled[:]
    rng.shuffle(late)
    shared = DeliveryState.PUBLISHED
    for a, b in zip(doubled, late, strict=True):
        for event in (a, b):
            after = apply(shared, event, command)
            assert rank(after) >= rank(shared)
            if shared in TERMINAL:
                assert after == shared
            shared = after


@given(attempts=st.integers(min_value=1, max_value=60), timeout=st.floats(0.5, 30))
def test_each_retry_waits_at_least_as_long_as_the_one_before_up_to_the_cap(
    attempts: int, timeout: float
) -> None:
    first, later = retry_after_s(attempts, timeout), retry_after_s(attempts + 1, timeout)
    assert timeout <= first <= later <= MAX_BACKOFF_S or first == later == MAX_BACKOFF_S


def test_the_timing_rules_end_what_ran_out_and_nothing_else() -> None:
    expires = T0 + timedelta(seconds=60)
    before, after = expires - timedelta(seconds=1), expires
    assert overdue(DeliveryState.PUBLISHED, expires, before, lantern_online=True) is None
    assert ended(DeliveryState.PUBLISHED, expires, after, True) == DeliveryState.EXPIRED
    assert ended(DeliveryState.PLANNED, expires, after, False) == DeliveryState.UNREACHABLE
    # Received: the lantern has it and acks `done` at expiry at the latest; wait the grace.
    in_grace = expires + timedelta(seconds=FINAL_ACK_GRACE_S - 1)
    assert overdue(DeliveryState.PLAYING, expires, in_grace, True) is None
    grace_over = expires + timedelta(seconds=FINAL_ACK_GRACE_S)
    assert ended(DeliveryState.RECEIVED, expires, grace_over, False) == DeliveryState.EXPIRED
    for final in TERMINAL | {DeliveryState.HELD}:
        assert overdue(final, expires, grace_over, True) is None


def ended(
    state: DeliveryState, expires: datetime, now: datetime, online: bool
) -> DeliveryState | None:
    verdict = overdue(state, expires, now, lantern_online=online)
    return verdict.state if verdict is not None else None


def test_refusals_never_change_the_state() -> None:
    held = judge_ack(DeliveryState.HELD, "done", AUDIO, list(AUDIO.clips or ()))
    assert held is AckRefusal.NOT_SENT
    wrong = judge_ack(DeliveryState.PUBLISHED, "done", AUDIO, ["c" * 64])
    assert wrong is AckRefusal.PLAYED_MISMATCH
