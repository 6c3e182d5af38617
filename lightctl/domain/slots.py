"""What the service expects a lantern's slots to hold, from what it sent; pure.

The service keeps no copy of each lantern's priority array: it replays the commands it sent to
the lantern (sets not yet expired, and releases after them) in sequence order, exactly as the
lantern applies them, and takes the highest slot left as the desired state of each channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Delivery states in which a `set` holds (or is about to hold) its slot. A light `set` stays
# `applied` until it expires; an audio `set` leaves its slot once played (`done`) or stopped.
HOLDING = frozenset({"planned", "published", "received", "playing", "applied"})
# A `set` in these states took its slot, then left it (played, stopped, replaced, clip failed).
LEFT = frozenset({"done", "interrupted", "failed"})
# Who issued a command, by the prefix of its issuer id (the envelope's alert_id).
HOLDER_KINDS = {"al_": "alert", "st_": "steering", "sc_": "schedule"}


@dataclass(frozen=True, slots=True)
class SentCommand:
    """One command as sent to one lantern, and how its delivery stands."""

    command_id: str
    issuer_id: str | None
    channel: str
    op: str
    priority: int
    seq: int
    state: str


def holder_kind(issuer_id: str | None) -> str | None:
    """alert | steering | schedule, or None for an issuer this service does not know."""
    if issuer_id is None:
        return None
    return next((k for p, k in HOLDER_KINDS.items() if issuer_id.startswith(p)), None)


def expected_slots(sent: Iterable[SentCommand]) -> dict[str, dict[int, SentCommand]]:
    """Per channel, the slots the lantern should hold: commands replayed in sequence order.

    Callers pass only sets that have not expired (an expired slot empties itself), and every
    release sent after the oldest of them.
    """
    slots: dict[str, dict[int, SentCommand]] = {}
    for cmd in sorted(sent, key=lambda c: c.seq):
        channel = slots.setdefault(cmd.channel, {})
        if cmd.op == "release":
            channel.pop(cmd.priority, None)
        elif cmd.state in HOLDING:
            channel[cmd.priority] = cmd
        elif cmd.state in LEFT:
            # This set reached the slot (replacing what was there) and has since left it.
            channel.pop(cmd.priority, None)
    return slots


def desired(sent: Iterable[SentCommand]) -> dict[str, SentCommand]:
    """Per channel, the command that should drive it (highest slot); absent: the default."""
    return {channel: held[min(held)] for channel, held in expected_slots(sent).items() if held}
