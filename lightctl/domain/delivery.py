"""Per-lantern delivery states and how a lantern's acknowledgement moves them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    # How long the lantern is busy with it once it has it: an audio program's length (repeats
    # and gaps included), 0 for what is answered at once (light, projection, path, release).
    play_s: float = 0.0
    # Not before then: a `starts_at` (sent ahead) or an alert's shared speech start.
    begins_at: datetime | None = None


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
# The `done` of a lantern whose clips came after the alert's shared speech start (issue 14): it
# joined at a later sentence boundary and lists only the clips from there to the end.
JOINED_LATE = "joined_late"
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
            if not ended_unplayed and not _played_matches(command.clips, played, reason):
                return AckRefusal.PLAYED_MISMATCH
    return next_state(current, ack_status)


def _played_matches(
    sent: tuple[str, ...], played: Sequence[str] | None, reason: str | None
) -> bool:
    """Every clip sent, in order; or, from a lantern that joined late, a non-empty tail of them
    (it joined at a sentence boundary and spoke from there to the end, in step)."""
    heard = tuple(played or ())
    if reason == JOINED_LATE:
        return 0 < len(heard) < len(sent) and sent[len(sent) - len(heard) :] == heard
    return heard == sent


# ---- timing: when the service asks again, and when it stops waiting ----------------------------

# Retries back off exponentially from the ack timeout up to this.
MAX_BACKOFF_S = 300.0
# A lantern that said `received` but not yet its final ack gets this long after the command
# expired before the service records it `expired` (a lantern acks `done` at expiry at the latest).
FINAL_ACK_GRACE_S = 30.0
# States in which the service still waits for a first ack (and so re-sends).
AWAITING_RECEIPT = frozenset({DeliveryState.PLANNED, DeliveryState.PUBLISHED})
# States in which the lantern has the command and the service waits for its final ack (and
# asks again once it is overdue, see ``final_ack_due``).
AWAITING_FINAL = frozenset({DeliveryState.RECEIVED, DeliveryState.PLAYING})


def final_ack_due(
    command: AckedCommand | None, acked_at: datetime, ack_timeout_s: float
) -> datetime:
    """When a lantern that said `received` or `playing` is asked again for its final ack: the
    ack timeout after the command should have ended (its program played from when it had it, or
    from its start if that is later). Asked again, a lantern answers a command it already has
    with its last ack and never plays it twice, so a final ack lost on the way (with a broker
    node that died, or sent at QoS 0 while the service was moving node) is recovered."""
    begins = acked_at
    play_s = 0.0
    if command is not None:
        play_s = command.play_s
        if command.begins_at is not None and command.begins_at > begins:
            begins = command.begins_at
    return begins + timedelta(seconds=play_s + ack_timeout_s)


def retry_after_s(attempts: int, ack_timeout_s: float) -> float:
    """Seconds until the next send of a delivery already sent ``attempts`` times without a
    `received`: the ack timeout, doubling per attempt, capped."""
    return min(ack_timeout_s * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_S)


def next_attempt_at(now: datetime, attempts: int, ack_timeout_s: float) -> datetime:
    return now + timedelta(seconds=retry_after_s(attempts, ack_timeout_s))


@dataclass(frozen=True, slots=True)
class Verdict:
    state: DeliveryState
    reason: str


def overdue(
    state: DeliveryState, expires_at: datetime, now: datetime, lantern_online: bool
) -> Verdict | None:
    """What the service records for a delivery whose command ran out, or None while waiting.

    Never received before expiry: `unreachable` when the lantern is offline, else `expired`.
    Received but no final ack: `expired` once the final-ack grace after expiry has passed.
    Terminal and held deliveries are never touched.
    """
    if state in AWAITING_RECEIPT and now >= expires_at:
        if lantern_online:
            return Verdict(DeliveryState.EXPIRED, "no ack before expiry")
        return Verdict(DeliveryState.UNREACHABLE, "offline until expiry")
    if state in AWAITING_FINAL and now >= expires_at + timedelta(seconds=FINAL_ACK_GRACE_S):
        return Verdict(DeliveryState.EXPIRED, "no final ack after expiry")
    return None
