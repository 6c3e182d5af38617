"""What the lantern state machine asks for (effects), why (ack reasons), and whom it trusts.

Ack rules (what the service learns, per command id):
- audio ``set``: ``received`` at once (reason ``queued`` while a higher slot plays), ``playing``
  the moment the signal sounds (sound first: before the clips are there; a program without a
  signal once its speech starts), then ``done`` (with ``played``; reason ``joined_late`` and
  only the clips from the sentence it joined at, when its clips came after the alert's shared
  ``speech_at``), ``failed`` (clip trouble, also after ``playing``: never ``done``), ``expired``
  (expiry came first) or ``interrupted`` (``preempted`` by a higher priority,
  ``replaced`` at the same priority, ``released``). ``interrupted`` is final: the command leaves its
  slot and is not resumed, because a warning cut mid-sentence and replayed minutes later confuses
  more than it helps; the issuer decides whether to send it again. A lower command that has not
  started yet keeps waiting in its slot.
- light, projection, path ``set``: ``applied`` (reason ``held_by_higher_priority`` when stored but
  not visible), later ``done`` with reason ``expired`` or ``released``, or ``interrupted`` with
  ``replaced`` when another command takes the same slot; so ``applied → done`` closes each delivery.
- ``release``: the release itself is acked ``done`` (reason ``slot_empty`` when nothing was there,
  ``not_holder`` when it names a command (``payload.cmd_id``) that no longer holds the slot:
  someone else's command stays); the command it removed gets its own final ack as above.
- a ``set`` whose ``starts_at`` lies ahead: ``received`` with reason ``pending`` on arrival (or
  ``rejected`` with ``too_many_pending``), then at ``starts_at``, on the lantern's own clock, the
  acks of a ``set`` arriving then (``applied`` for light, projection, path); a release naming it
  before then drops it, acked ``done`` with ``released``.
- an envelope addressed (``aud``) to another lantern or to a group this lantern is not in, or
  that arrived on another audience's topic: ``rejected`` with ``wrong_audience``; a signed one
  without ``aud``: ``rejected`` with ``missing_audience``; neither is remembered as seen, so a
  misaddressed copy cannot block the genuine command's id. Any refused envelope (audience or
  signature) whose id the lantern has already taken gets no ack at all, only a ``Dropped``: a
  ``rejected`` for that id would contradict the genuine command's own acks.
- an envelope expired on arrival: ``expired``; a channel without hardware: ``rejected`` with
  ``unsupported``; a verifier refusal: ``rejected`` with its reason (``unsigned``,
  ``bad_signature``, ``unknown_key``, ``revoked_key``, ``key_not_allowed_for_life_safety``,
  ``missing_role``, ``unknown_role``, ``above_role_ceiling``, ``key_not_allowed_for_role``); a
  new command id whose seq the replay guard refuses: ``rejected`` with ``replayed`` or
  ``outside_replay_window``; a channel whose hardware is broken: ``failed`` with its reason; JSON
  with an id but an invalid envelope: ``rejected`` with ``invalid_envelope``; no readable id: a
  ``Dropped`` effect, no ack.
- a command id seen before: nothing is done again, the last ack for it is sent again, so a retrying
  service learns where the command stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from lightctl.domain.roles import ISSUER_CEILING
from lightctl.protocol import AckStatus, AudioPayload, CommandEnvelope


class Reason(StrEnum):
    """Machine-readable ``reason`` values this firmware puts on acks."""

    UNSUPPORTED = "unsupported"
    INVALID_ENVELOPE = "invalid_envelope"
    QUEUED = "queued"
    PREEMPTED = "preempted"
    REPLACED = "replaced"
    RELEASED = "released"
    EXPIRED = "expired"
    HELD_BY_HIGHER = "held_by_higher_priority"
    SLOT_EMPTY = "slot_empty"
    # A release naming a command that no longer holds the slot: someone else's stays.
    NOT_HOLDER = "not_holder"
    # A `set` whose starts_at lies ahead: held, put into its slot when its time comes.
    PENDING = "pending"
    PENDING_FULL = "too_many_pending"
    BAD_CLIP_HASH = "bad_clip_hash"
    CLIP_UNAVAILABLE = "clip_unavailable"
    INTERNAL_ERROR = "internal_error"
    # Clip library and shared speech clock (issue 14; firmware_sim/library.py, timeline.py).
    # `done` of a lantern that joined the alert's speech at a later sentence boundary: it
    # played (and lists) only the clips from there to the end of the run.
    JOINED_LATE = "joined_late"
    CACHE_FULL = "cache_full"
    CACHE_UNWRITABLE = "cache_unwritable"
    # Signature and replay checks (firmware_sim/verifier.py, firmware_sim/replay.py).
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    KEY_NOT_LIFE_SAFETY = "key_not_allowed_for_life_safety"
    # Role checks (lightctl/domain/roles.py ISSUER_CEILING): the envelope's claimed issuer role.
    MISSING_ROLE = "missing_role"
    UNKNOWN_ROLE = "unknown_role"
    ABOVE_ROLE_CEILING = "above_role_ceiling"
    KEY_NOT_FOR_ROLE = "key_not_allowed_for_role"
    # Audience checks (CommandEnvelope.aud): addressed to someone else, or arrived on another
    # audience's topic; a signed envelope that names no audience at all.
    WRONG_AUDIENCE = "wrong_audience"
    MISSING_AUDIENCE = "missing_audience"
    REPLAYED = "replayed"
    OUTSIDE_REPLAY_WINDOW = "outside_replay_window"
    # Hardware faults (injected by firmware_sim/faults.py).
    SPEAKER_BROKEN = "speaker_broken"
    LAMP_BROKEN = "lamp_broken"
    PROJECTOR_BROKEN = "projector_broken"
    PATH_LIGHT_BROKEN = "path_light_broken"


@dataclass(frozen=True, slots=True)
class SendAck:
    """Publish an ack for ``cmd_id``."""

    cmd_id: str
    status: AckStatus
    reason: str | None = None
    played: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class StartAudio:
    """Fetch and check the program's clips, then play it; report back through ``audio_*``."""

    cmd: CommandEnvelope
    program: AudioPayload


@dataclass(frozen=True, slots=True)
class StopAudio:
    """Stop the playback of ``cmd_id`` now; its final ack comes as a separate ``SendAck``."""

    cmd_id: str
    status: AckStatus


@dataclass(frozen=True, slots=True)
class PublishState:
    """The effective state changed: publish ``state(now)`` (the executor may coalesce)."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """A payload without a readable command id: nothing can be acked, only counted."""

    reason: str


Effect = SendAck | StartAudio | StopAudio | PublishState | Dropped


class Verifier(Protocol):
    """Checks an envelope's signature; returns None to accept or a rejection reason."""

    def verify(self, cmd: CommandEnvelope) -> str | None: ...


def role_refusal(cmd: CommandEnvelope) -> str | None:
    """Why the envelope's claimed role may not send it (unknown role, or a priority above the
    role's ceiling), or None; a missing role is the caller's question."""
    if cmd.role is None:
        return None
    ceiling = ISSUER_CEILING.get(cmd.role)
    if ceiling is None:
        return Reason.UNKNOWN_ROLE
    return Reason.ABOVE_ROLE_CEILING if cmd.priority < ceiling else None


class AcceptUnsigned:
    """Development without a trust list: accepts unsigned envelopes, but never a priority above
    the role an envelope claims (an envelope without a role passes: nothing to check it by)."""

    def verify(self, cmd: CommandEnvelope) -> str | None:
        return role_refusal(cmd)
