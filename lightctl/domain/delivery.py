"""Per-lantern delivery states and how a lantern's acknowledgement moves them."""

from __future__ import annotations

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
