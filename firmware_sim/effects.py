"""What the lantern state machine asks for (effects), why (ack reasons), and whom it trusts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

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
    BAD_CLIP_HASH = "bad_clip_hash"
    CLIP_UNAVAILABLE = "clip_unavailable"
    INTERNAL_ERROR = "internal_error"
    # Signature and replay checks (firmware_sim/verifier.py, firmware_sim/replay.py).
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    KEY_NOT_LIFE_SAFETY = "key_not_allowed_for_life_safety"
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


class AcceptUnsigned:
    """Accepts every envelope: signatures arrive in a later issue, the hook is here already."""

    def verify(self, cmd: CommandEnvelope) -> str | None:
        return None
