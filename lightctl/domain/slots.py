"""What the service expects a lantern's slots to hold, from what it sent; pure.

The service keeps no copy of each lantern's priority array: it replays the commands it sent to
the lantern (sets not yet expired, and releases after them) in the order the lantern applies
them (sequence order; a set sent ahead at its ``starts_at``), and takes the highest slot left as
the desired state of each channel. A set whose start is still to come holds nothing yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

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
    # A release naming the command it releases: it empties the slot only while that one holds it.
    releases: str | None = None
    # A set sent ahead: it takes its slot at this time, not on arrival.
    starts_at: datetime | None = None

    def order(self) -> int:
        """When the lantern applies it, in µs since the epoch (seq counts µs of issue time)."""
        if self.starts_at is None:
            return self.seq
        return max(self.seq, int(self.starts_at.timestamp() * 1_000_000))


def holder_kind(issuer_id: str | None) -> str | None:
    """alert | steering | schedule, or None for an issuer this service does not know."""
    if issuer_id is None:
        return None
    return next((k for p, k in HOLDER_KINDS.items() if issuer_id.startswith(p)), None)


def expected_slots(
    sent: Iterable[SentCommand], now: datetime | None = None
) -> dict[str, dict[int, SentCommand]]:
    """Per channel, the slots the lantern should hold at ``now``: commands replayed in the order
    the lantern applies them; a set starting after ``now`` is left out.

    Callers pass only sets that have not expired (an expired slot empties itself), and every
    release sent after the oldest of them.
    """
    slots: dict[str, dict[int, SentCommand]] = {}
    for cmd in sorted(sent, key=lambda c: (c.order(), c.seq)):
        channel = slots.setdefault(cmd.channel, {})
        if cmd.op == "release":
            held = channel.get(cmd.priority)
            if held is not None and cmd.releases in (None, held.command_id):
                del channel[cmd.priority]
        elif cmd.starts_at is not None and now is not None and cmd.starts_at > now:
            continue  # waits on the lantern for its start
        elif cmd.state in HOLDING:
            channel[cmd.priority] = cmd
        elif cmd.state in LEFT:
            # This set reached the slot (replacing what was there) and has since left it.
            channel.pop(cmd.priority, None)
    return slots


def desired(sent: Iterable[SentCommand], now: datetime | None = None) -> dict[str, SentCommand]:
    """Per channel, the command that should drive it (highest slot); absent: the default."""
    slots = expected_slots(sent, now)
    return {channel: held[min(held)] for channel, held in slots.items() if held}
