"""The firmware of one lantern as a pure state machine: bytes and time in, effects out, no I/O.

Which ack each command gets, and why, is listed with the reasons in ``firmware_sim/effects.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import ValidationError

from firmware_sim.agenda import Agenda
from firmware_sim.effects import (
    AcceptUnsigned,
    Dropped,
    Effect,
    PublishState,
    Reason,
    SendAck,
    StartAudio,
    StopAudio,
    Verifier,
)
from firmware_sim.outputs import FACTORY_DEFAULTS, MotionHold
from firmware_sim.priority import LOWEST, PriorityArray, Slot
from firmware_sim.replay import ReplayGuard
from firmware_sim.seen import SEEN_CAP, SeenIds
from lightctl.protocol import (
    FEATURE_PROJECTION_FLASH,
    AckStatus,
    AudioPayload,
    Channel,
    ChannelState,
    ClipHolding,
    CommandEnvelope,
    LanternState,
    PathPayload,
    ProjectionPayload,
    ReleasePayload,
    group_audience,
    lantern_audience,
)

__all__ = [
    "ALL_CAPABILITIES",
    "CAPABILITY_FOR",
    "CHANNELS",
    "SEEN_CAP",
    "AcceptUnsigned",
    "Capability",
    "Dropped",
    "Effect",
    "Lantern",
    "PublishState",
    "Reason",
    "SendAck",
    "StartAudio",
    "StopAudio",
    "Verifier",
]

Capability = Literal["speaker", "rgb", "projector", "path_light"]
ALL_CAPABILITIES: frozenset[Capability] = frozenset(get_args(Capability))
CAPABILITY_FOR: Mapping[Channel, Capability] = {
    "audio": "speaker",
    "light": "rgb",
    "projection": "projector",
    "path": "path_light",
}
CHANNELS: tuple[Channel, ...] = ("audio", "light", "projection", "path")


class Lantern:
    """One lantern: per-channel priority arrays, an audio queue, replay and expiry checks."""

    def __init__(
        self,
        lantern_id: str,
        capabilities: frozenset[Capability] = ALL_CAPABILITIES,
        verifier: Verifier | None = None,
        defaults: Mapping[Channel, Mapping[str, Any]] | None = None,
        replay: ReplayGuard | None = None,
        groups: Iterable[tuple[str, str]] = (),
        projection_flash: bool = True,
        parse: Callable[[bytes], CommandEnvelope] = CommandEnvelope.from_bytes,
    ) -> None:
        self.id = lantern_id
        # Firmware that shows a projection's ``flash`` (issue 18) lists it in its state; False
        # simulates firmware from before it, whose strict parser refuses the unknown key.
        self.projection_flash = projection_flash
        # How the bytes become an envelope: a fleet shares one parse per copy among its lanterns.
        self._parse = parse
        self.audience = lantern_audience(lantern_id)
        # Fan-out groups (kind, key) this lantern belongs to, e.g. ("street", "bahnhofstrasse"):
        # it acts on envelopes addressed to ``groups/<kind>/<key>`` too. Empty in protocol v1.
        self.groups: frozenset[str] = frozenset(group_audience(k, v) for k, v in groups)
        self.capabilities = capabilities
        self.verifier: Verifier = verifier or AcceptUnsigned()
        # Seq checks for signed commands (None: accept any seq, as unsigned development does).
        self.replay = replay
        # Hardware that fails: channel -> the reason its `set` commands are acked `failed` with.
        self.broken: dict[Channel, str] = {}
        # What each channel shows with every slot empty: the configured default at slot 16.
        self.defaults = dict(FACTORY_DEFAULTS if defaults is None else defaults)
        self.dropped = 0
        # Which library clips it holds (set by whoever runs its clip cache; in the retained state).
        self.clip_report: ClipHolding | None = None
        self._arrays: dict[Channel, PriorityArray[CommandEnvelope]] = {
            channel: PriorityArray() for channel in self.channels
        }
        self._playing: str | None = None
        self._deadline: datetime | None = None
        self._agenda = Agenda()  # commands sent ahead, waiting for their starts_at
        self._motion = MotionHold()
        self._motion.start(self._path_payload())
        self._seen = SeenIds()

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(c for c in CHANNELS if CAPABILITY_FOR[c] in self.capabilities)

    @property
    def playing(self) -> str | None:
        """Id of the audio command that holds the speaker, if any."""
        return self._playing

    # ---- inputs -------------------------------------------------------------------------------

    @property
    def audiences(self) -> frozenset[str]:
        """Every ``aud`` this lantern acts on: its own, and each of its groups'."""
        return self.groups | {self.audience}

    def handle(self, raw: bytes, now: datetime, arrived_on: str | None = None) -> list[Effect]:
        """Take one payload from a cmd topic; ``arrived_on`` is that topic's audience (default:
        this lantern's own cmd topic)."""
        try:
            cmd = self._parse(raw)
        except ValidationError as exc:
            return self._unreadable(raw, exc)
        if not self.projection_flash and _flashes(cmd):
            # Older firmware: its parser does not know ``flash`` and refuses the envelope as it
            # refuses any unknown key (the service sends flash only to lanterns listing it).
            return [SendAck(cmd.id, AckStatus.REJECTED, Reason.INVALID_ENVELOPE)]
        refusal: str | None = self._audience_refusal(cmd, arrived_on or self.audience)
        if refusal is None:
            refusal = self.verifier.verify(cmd)
        if refusal is not None:
            # Not remembered as seen: a forged envelope must not block the genuine one's id.
            if cmd.id in self._seen:
                # Nor may it speak for that id: a `rejected` now would contradict the genuine
                # command's acks (received, playing) in the service's view. Counted, not acked.
                self.dropped += 1
                return [Dropped(f"{refusal[:100]}: refused a copy of {cmd.id}, already taken")]
            return [SendAck(cmd.id, AckStatus.REJECTED, refusal[:200])]
        last = self._seen.last_ack(cmd.id)
        if last is not None:
            return [last]
        if self.replay is not None and cmd.kid is not None and cmd.expires_at > now:
            replayed = self.replay.check(cmd.kid, cmd.seq)
            if replayed is not None:
                return [SendAck(cmd.id, AckStatus.REJECTED, replayed)]
            self.replay.accept(cmd.kid, cmd.seq)
        self._seen.remember(cmd, now)
        if cmd.expires_at <= now:
            return [self._ack(cmd.id, AckStatus.EXPIRED)]
        if CAPABILITY_FOR[cmd.channel] not in self.capabilities:
            return [self._ack(cmd.id, AckStatus.REJECTED, Reason.UNSUPPORTED)]
        broken = self.broken.get(cmd.channel)
        if broken is not None and cmd.op == "set":
            return [self._ack(cmd.id, AckStatus.FAILED, broken)]
        before = self._effective_keys()
        if cmd.op == "set" and cmd.starts_at is not None and cmd.starts_at > now:
            effects = self._hold(cmd)
        elif cmd.op == "release":
            effects = self._release(cmd, now)
        elif cmd.channel == "audio":
            effects = self._set_audio(cmd, now)
        else:
            effects = self._set_output(cmd)
        return self._with_state(before, effects, now)

    def _audience_refusal(self, cmd: CommandEnvelope, arrived_on: str) -> Reason | None:
        """Addressed elsewhere, or carried on another audience's topic: not ours to act on.

        Checked before the signature: a genuine envelope for a neighbour is refused for what it
        is (``wrong_audience``), not for a key problem."""
        if cmd.aud is None:
            # Unsigned development traffic may name no audience; the verifier decides on it.
            return Reason.MISSING_AUDIENCE if cmd.sig is not None else None
        if cmd.aud != arrived_on or cmd.aud not in self.audiences:
            return Reason.WRONG_AUDIENCE
        return None

    def tick(self, now: datetime) -> list[Effect]:
        """Let time pass: empty expired slots, put commands whose start came into their slots,
        start the next waiting audio."""
        before = self._effective_keys()
        effects: list[Effect] = []
        for channel, array in self._arrays.items():
            for slot in array.expire(now):
                effects.extend(self._end_expired(channel, slot))
        # After expiry: a dimming step that ends as the next begins hands over in one change.
        for cmd in self._agenda.due(now):
            effects.extend(self._start(cmd, now))
        if "audio" in self._arrays and self._playing is None:
            effects.extend(self._start_next_audio(now))
        return self._with_state(before, effects, now)

    def motion(self, now: datetime) -> list[Effect]:
        """Someone passes the lantern's sensor: a path in ``motion`` mode lights for ``hold_s``."""
        if "path" not in self._arrays:
            return []
        before = self._effective_keys()
        self._motion.trigger(self._path_payload(), now)
        return self._with_state(before, [], now)

    def next_deadline(self) -> datetime | None:
        """When ``tick`` next has something to do (None: nothing will expire).

        Cached after every change, so a fleet can poll thousands of lanterns cheaply.
        """
        return self._deadline

    def audio_started(self, cmd_id: str, now: datetime) -> list[Effect]:
        """Playback begins: the signal sounds (sound first, clips may still be on their way), or,
        in a program without a signal, the speech starts."""
        if cmd_id != self._playing:
            return []
        return [self._ack(cmd_id, AckStatus.PLAYING)]

    def audio_finished(
        self, cmd_id: str, now: datetime, played: Sequence[str], reason: str | None = None
    ) -> list[Effect]:
        """Playback ran to its end; ``played`` lists the clip hashes heard, in order (``reason``
        ``joined_late``: from the sentence boundary it joined the alert's speech at)."""
        done = SendAck(cmd_id, AckStatus.DONE, reason, tuple(played))
        return self._end_playing(cmd_id, now, done)

    def audio_failed(self, cmd_id: str, now: datetime, reason: str) -> list[Effect]:
        """Playback could not start (clip missing or hash mismatch)."""
        return self._end_playing(cmd_id, now, SendAck(cmd_id, AckStatus.FAILED, reason))

    # ---- state --------------------------------------------------------------------------------

    def state(self, now: datetime) -> LanternState:
        """Effective value per channel and the slot and command that hold it."""
        channels: dict[Channel, ChannelState] = {}
        for channel, array in self._arrays.items():
            top = array.effective()
            lit = self._motion.lit(self._path_payload(), now) if channel == "path" else None
            if top is None:
                default = self.defaults.get(channel)
                channels[channel] = ChannelState(
                    priority=LOWEST if default else None,
                    value=dict(default) if default else None,
                    lit=lit,
                )
            else:
                value = top.value.payload.model_dump(mode="json", exclude_none=True)
                channels[channel] = ChannelState(
                    priority=top.priority, cmd_id=top.value.id, value=value, lit=lit
                )
        fitted = self.capabilities
        broken = sorted(CAPABILITY_FOR[c] for c in self.broken if CAPABILITY_FOR[c] in fitted)
        return LanternState(
            lantern=self.id,
            at=now,
            channels=channels,
            capabilities=sorted(self.capabilities),
            broken=broken,
            clips=self.clip_report,
            features=[FEATURE_PROJECTION_FLASH] if self.projection_flash else None,
        )

    def slot(self, channel: Channel, priority: int) -> str | None:
        """Id of the command in one slot (for tests and the control API)."""
        array = self._arrays.get(channel)
        held = array.get(priority) if array is not None else None
        return held.value.id if held is not None else None

    def waiting(self) -> list[CommandEnvelope]:
        """Commands sent ahead, held until their ``starts_at`` (for tests and the control API)."""
        return self._agenda.held()

    # ---- commands -----------------------------------------------------------------------------

    def _set_output(self, cmd: CommandEnvelope) -> list[Effect]:
        array = self._arrays[cmd.channel]
        effects: list[Effect] = []
        old = array.set(cmd.priority, cmd, cmd.expires_at)
        if old is not None:
            effects.append(self._ack(old.value.id, AckStatus.INTERRUPTED, Reason.REPLACED))
        top = array.effective()
        shadowed = top is not None and top.priority < cmd.priority
        effects.append(
            self._ack(cmd.id, AckStatus.APPLIED, Reason.HELD_BY_HIGHER if shadowed else None)
        )
        return effects

    def _set_audio(self, cmd: CommandEnvelope, now: datetime) -> list[Effect]:
        if not isinstance(cmd.payload, AudioPayload):  # the envelope's validator rules it out
            return [self._ack(cmd.id, AckStatus.REJECTED, Reason.INVALID_ENVELOPE)]
        array = self._arrays["audio"]
        current = self._playing_slot()
        waits = current is not None and current.priority < cmd.priority
        effects: list[Effect] = [
            self._ack(cmd.id, AckStatus.RECEIVED, Reason.QUEUED if waits else None)
        ]
        old = array.set(cmd.priority, cmd, cmd.expires_at)
        if old is not None:
            effects.extend(self._interrupt(old.value.id, Reason.REPLACED))
        if current is not None and cmd.priority < current.priority:
            array.release(current.priority)
            effects.extend(self._interrupt(current.value.id, Reason.PREEMPTED))
        if self._playing is None:
            effects.extend(self._start_next_audio(now))
        return effects

    def _hold(self, cmd: CommandEnvelope) -> list[Effect]:
        if self._agenda.full:
            return [self._ack(cmd.id, AckStatus.REJECTED, Reason.PENDING_FULL)]
        self._agenda.hold(cmd)
        return [self._ack(cmd.id, AckStatus.RECEIVED, Reason.PENDING)]

    def _start(self, cmd: CommandEnvelope, now: datetime) -> list[Effect]:
        """A held command's start came: it takes its slot as if it arrived now."""
        if cmd.expires_at <= now:  # the clock jumped past its whole life (or a long stall)
            return [self._ack(cmd.id, AckStatus.EXPIRED)]
        broken = self.broken.get(cmd.channel)
        if broken is not None:
            return [self._ack(cmd.id, AckStatus.FAILED, broken)]
        if cmd.channel != "audio":
            return self._set_output(cmd)
        # `received` went out on arrival already.
        return [e for e in self._set_audio(cmd, now) if not _acks(e, cmd.id, AckStatus.RECEIVED)]

    def _release(self, cmd: CommandEnvelope, now: datetime) -> list[Effect]:
        named = cmd.payload.cmd_id if isinstance(cmd.payload, ReleasePayload) else None
        array = self._arrays[cmd.channel]
        if named is None:
            old = array.release(cmd.priority)
        else:
            waiting = self._agenda.drop(named, cmd.channel, cmd.priority)
            if waiting is not None:
                return [
                    self._ack(waiting.id, AckStatus.DONE, Reason.RELEASED),
                    self._ack(cmd.id, AckStatus.DONE),
                ]
            old = array.release_if(cmd.priority, lambda held: held.id == named)
            if old is None and array.get(cmd.priority) is not None:
                return [self._ack(cmd.id, AckStatus.DONE, Reason.NOT_HOLDER)]
        effects: list[Effect] = []
        if old is not None:
            if cmd.channel == "audio":
                effects.extend(self._interrupt(old.value.id, Reason.RELEASED))
                if self._playing is None:
                    effects.extend(self._start_next_audio(now))
            else:
                effects.append(self._ack(old.value.id, AckStatus.DONE, Reason.RELEASED))
        effects.append(self._ack(cmd.id, AckStatus.DONE, None if old else Reason.SLOT_EMPTY))
        return effects

    # ---- audio queue --------------------------------------------------------------------------

    def _playing_slot(self) -> Slot[CommandEnvelope] | None:
        top = self._arrays["audio"].effective()
        if top is None or top.value.id != self._playing:
            return None
        return top

    def _interrupt(self, cmd_id: str, reason: Reason) -> list[Effect]:
        """Final ack for an audio command that left its slot early (playing or waiting)."""
        effects: list[Effect] = []
        if cmd_id == self._playing:
            self._playing = None
            effects.append(StopAudio(cmd_id, AckStatus.INTERRUPTED))
        effects.append(self._ack(cmd_id, AckStatus.INTERRUPTED, reason))
        return effects

    def _start_next_audio(self, now: datetime) -> list[Effect]:
        """Start the highest waiting audio command that is still live."""
        array = self._arrays["audio"]
        effects: list[Effect] = []
        for slot in array.expire(now):
            effects.extend(self._end_expired("audio", slot))
        top = array.effective()
        # Only _set_audio fills the audio slots, and only with audio payloads.
        if top is not None and isinstance(top.value.payload, AudioPayload):
            self._playing = top.value.id
            effects.append(StartAudio(top.value, top.value.payload))
        return effects

    def _end_playing(self, cmd_id: str, now: datetime, final: SendAck) -> list[Effect]:
        current = self._playing_slot()
        if current is None or current.value.id != cmd_id:
            return []  # stale report: the command was already stopped (interrupted, expired)
        before = self._effective_keys()
        self._arrays["audio"].release(current.priority)
        self._playing = None
        effects: list[Effect] = [self._record(final)]
        effects.extend(self._start_next_audio(now))
        return self._with_state(before, effects, now)

    def _end_expired(self, channel: Channel, slot: Slot[CommandEnvelope]) -> list[Effect]:
        cmd_id = slot.value.id
        if channel != "audio":
            return [self._ack(cmd_id, AckStatus.DONE, Reason.EXPIRED)]
        effects: list[Effect] = []
        if cmd_id == self._playing:
            self._playing = None
            effects.append(StopAudio(cmd_id, AckStatus.EXPIRED))
        effects.append(self._ack(cmd_id, AckStatus.EXPIRED))
        return effects

    # ---- bookkeeping --------------------------------------------------------------------------

    def _ack(self, cmd_id: str, status: AckStatus, reason: str | None = None) -> SendAck:
        return self._record(SendAck(cmd_id, status, reason))

    def _record(self, ack: SendAck) -> SendAck:
        return self._seen.record(ack)

    def _unreadable(self, raw: bytes, exc: ValidationError) -> list[Effect]:
        cmd_id = _readable_id(raw)
        if cmd_id is not None:
            return [SendAck(cmd_id, AckStatus.REJECTED, Reason.INVALID_ENVELOPE)]
        self.dropped += 1
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc)}
        return [Dropped(f"unparsable command: {first.get('msg', 'invalid')}"[:200])]

    def _path_payload(self) -> PathPayload | None:
        """The path channel's effective payload (a command's, else the default's)."""
        array = self._arrays.get("path")
        top = array.effective() if array is not None else None
        if top is not None:
            return top.value.payload if isinstance(top.value.payload, PathPayload) else None
        default = self.defaults.get("path")
        return PathPayload.model_validate(default) if default else None

    def _effective_keys(self) -> tuple[tuple[int, str] | None, ...]:
        keys: list[tuple[int, str] | None] = []
        for array in self._arrays.values():
            top = array.effective()
            keys.append((top.priority, top.value.id) if top is not None else None)
        return tuple(keys)

    def _with_state(
        self, before: tuple[Any, ...], effects: list[Effect], now: datetime | None = None
    ) -> list[Effect]:
        """Close every change of the slots: refresh the deadline, ask for a state report."""
        times = [t for a in self._arrays.values() if (t := a.next_expiry()) is not None]
        start = self._agenda.next_start()
        if start is not None:
            times.append(start)
        lit_changed = False
        if now is not None and "path" in self._arrays:
            lit_changed = self._motion.settle(self._path_payload(), now)
        if self._motion.until is not None:
            times.append(self._motion.until)
        self._deadline = min(times) if times else None
        if lit_changed or self._effective_keys() != before:
            effects.append(PublishState())
        return effects


def _flashes(cmd: CommandEnvelope) -> bool:
    return isinstance(cmd.payload, ProjectionPayload) and cmd.payload.flash is not None


def _acks(effect: Effect, cmd_id: str, status: AckStatus) -> bool:
    return isinstance(effect, SendAck) and effect.cmd_id == cmd_id and effect.status == status


def _readable_id(raw: bytes) -> str | None:
    """The ``id`` of a JSON object that failed validation, if it could be acked at all."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    cmd_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(cmd_id, str) and 1 <= len(cmd_id) <= 64:
        return cmd_id
    return None
