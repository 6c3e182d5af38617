"""Per-lantern delivery states and how a lantern's acknowledgement moves them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class DeliveryState(StrEnum):
    HELD = "held"  # awaiting a second person's approval (four-eyes rule); never published
    PLANNED = "planned"
    PUBLISHED = "published"
    RECEIVED = "received"
    PLAYING = "playing"
    APPLIED = "applied"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    UNREACHABLE = "unreachable"


TERMINAL = frozenset(
    {
        DeliveryState.DONE,
        DeliveryState.APPLIED,
        DeliveryState.REJECTED,
        DeliveryState.FAILED,
        DeliveryState.EXPIRED,
        DeliveryState.INTERRUPTED,
        DeliveryState.CANCELLED,
        DeliveryState.SUPERSEDED,
        DeliveryState.UNREACHABLE,
    }
)
DELIVERED = frozenset({DeliveryState.DONE, DeliveryState.APPLIED})

# Progress order of the non-terminal states; an ack never moves a delivery backwards
# (QoS 1 may deliver `received` again after `playing` when a lantern re-sends it).
_RANK = {
    DeliveryState.HELD: 0,
    DeliveryState.PLANNED: 0,
    DeliveryState.PUBLISHED: 1,
    DeliveryState.RECEIVED: 2,
    DeliveryState.PLAYING: 3,
}
_TERMINAL_RANK = 9

# Ack statuses (protocol.AckStatus values) map one to one onto delivery states.
_FROM_ACK = {
    "received": DeliveryState.RECEIVED,
    "playing": DeliveryState.PLAYING,
    "done": DeliveryState.DONE,
    "applied": DeliveryState.APPLIED,
    "interrupted": DeliveryState.INTERRUPTED,
    "rejected": DeliveryState.REJECTED,
    "failed": DeliveryState.FAILED,
    "expired": DeliveryState.EXPIRED,
}


def rank(state: DeliveryState) -> int:
    return _TERMINAL_RANK if state in TERMINAL else _RANK[state]


def next_state(current: DeliveryState, ack_status: str) -> DeliveryState | None:
    """The state an ack moves a delivery to, or None when the ack changes nothing."""
    target = _FROM_ACK.get(ack_status)
    if target is None or current in TERMINAL:
        return None
    if rank(target) <= rank(current):
        return None
    return target


def is_terminal(state: DeliveryState) -> bool:
    return state in TERMINAL


class AckRefusal(StrEnum):
    """Why an ack for a command we did send that lantern is still not believed."""

    NOT_SENT = "not_sent"  # the delivery is held for approval: nothing was published
    WRONG_STATUS = "status_not_for_command"  # e.g. `playing` for a light, `applied` for audio
    PLAYED_MISMATCH = "played_mismatch"  # `done` without exactly the clips that were sent
    NOT_OUR_COPY = "not_our_copy"  # `rejected` for a copy addressed elsewhere (a replay)


@dataclass(frozen=True, slots=True)
class AckedCommand:
    """What the service sent, as far as judging an ack for it needs."""

    channel: str
    op: str
    # An audio `set`: the sha256 of every spoken clip in playback order, repeats included (what
    # a `done` must list as played). None for other commands, or when the envelope is unreadable.
    clips: tuple[str, ...] | None = None
    sent_ahead: bool = False  # has a starts_at: a release may end it before it ever played


# Statuses a lantern sends for each kind of command (firmware_sim/lantern.py is the reference):
# audio plays (`playing`, `done` once played to the end); light, projection and path hold a slot
# (`applied`, `done` when it expires or is released); a release only answers `done`.
_AUDIO_SET = frozenset(
    {"received", "playing", "done", "interrupted", "rejected", "failed", "expired"}
)
_OUTPUT_SET = frozenset(
    {"received", "applied", "done", "interrupted", "rejected", "failed", "expired"}
)
_RELEASE = frozenset({"received", "done", "rejected", "failed", "expired"})
_RELEASED = "released"  # the ack reason of a set ended by a release before it started
# A lantern refuses a copy not addressed to it (protocol ``aud``). The outbox sends each lantern
# only its own copy, on its own topic, so such a refusal is about someone else's copy replayed
# on the broker, never about what we sent: it must not end the delivery (the genuine copy may
# be playing right then).
_NOT_OUR_COPY = frozenset({"wrong_audience", "missing_audience"})


def statuses_for(command: AckedCommand) -> frozenset[str]:
    if command.op == "release":
        return _RELEASE
    return _AUDIO_SET if command.channel == "audio" else _OUTPUT_SET


def judge_ack(
    current: DeliveryState,
    ack_status: str,
    command: AckedCommand | None,
    played: Sequence[str] | None = None,
    reason: str | None = None,
) -> DeliveryState | AckRefusal | None:
    """The state an ack moves a delivery to, ``None`` when it changes nothing (a duplicate or a
    late one), or why it is refused.

    Order: nothing leaves a terminal state and nothing moves backwards (received < playing <
    done); an ack cannot deliver what was never published; the status must be one the lantern
    sends for that kind of command; an audio `done` must list exactly the clips sent (in order,
    with repeats), except for a command sent ahead that a release ended before it began; a
    refusal of a copy addressed to someone else says nothing about ours.
    """
    if current in TERMINAL:
        return None
    if current is DeliveryState.HELD:
        return AckRefusal.NOT_SENT
    if ack_status == "rejected" and reason in _NOT_OUR_COPY:
        return AckRefusal.NOT_OUR_COPY
    if command is not None:
        if ack_status not in statuses_for(command):
            return AckRefusal.WRONG_STATUS
        if ack_status == "done" and command.clips is not None:
            ended_unplayed = command.sent_ahead and played is None and reason == _RELEASED
            if not ended_unplayed and tuple(played or ()) != command.clips:
                return AckRefusal.PLAYED_MISMATCH
    return next_state(current, ack_status)
