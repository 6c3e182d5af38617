"""Per lantern and channel: what the service expects (desired), what the lantern says (reported),
who holds the slot, and whether the two disagree."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lightctl.domain.records import Command
from lightctl.domain.slots import SentCommand, desired, holder_kind
from lightctl.protocol import ChannelState, LanternState
from lightctl.store import Database
from lightctl.store import steering as steering_store

# The channel each capability drives, in the order the API lists them.
CHANNEL_OF = {"speaker": "audio", "rgb": "light", "projector": "projection", "path_light": "path"}


@dataclass(frozen=True, slots=True)
class SlotView:
    """One side of a channel: the slot, the command in it, who sent it, the value."""

    priority: int | None
    cmd_id: str | None
    holder_kind: str | None
    holder_id: str | None
    value: dict[str, Any] | None
    delivery: str | None = None  # desired only: how the command's delivery stands
    lit: bool | None = None  # reported path only: the footpath light is on now


@dataclass(frozen=True, slots=True)
class ChannelView:
    desired: SlotView | None  # None: the service expects the lantern's default
    reported: SlotView | None  # None: the lantern has not reported this channel
    mismatch: bool | None  # None: nothing reported to compare with


class LanternStates:
    """Reads deliveries from the store and reported states from the ack consumer's memory."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        reported: Callable[[str], LanternState | None],
    ) -> None:
        self._db = db
        self._clock = clock
        self._reported = reported

    def channels(self, lantern_id: str, capabilities: list[str]) -> dict[str, ChannelView]:
        now = self._clock()
        state = self._reported(lantern_id)
        with self._db.session() as session:
            sent = steering_store.sent_to(session, lantern_id, now)
            reported_ids = [
                c.cmd_id for c in (state.channels.values() if state else ()) if c.cmd_id
            ]
            known = steering_store.commands_by_id(session, reported_ids)
        commands = {c.id: c for c, _state in sent}
        wanted = desired((_sent(c, s) for c, s in sent), now)
        names = [CHANNEL_OF[c] for c in capabilities if c in CHANNEL_OF]
        names += [c for c in (state.channels if state else {}) if c not in names]
        out: dict[str, ChannelView] = {}
        for channel in names:
            want = wanted.get(channel)
            mine = _desired_view(commands[want.command_id], want.state) if want else None
            seen = state.channels.get(channel) if state else None  # type: ignore[call-overload]
            theirs = _reported_view(seen, known) if seen is not None else None
            mismatch = None
            if state is not None:
                expected = mine.cmd_id if mine else None
                mismatch = expected != (theirs.cmd_id if theirs else None)
            out[channel] = ChannelView(mine, theirs, mismatch)
        return out


def _sent(command: Command, state: str) -> SentCommand:
    """A stored command as the replay needs it: what a release names, when a set starts."""
    envelope = json.loads(command.envelope)
    payload = envelope.get("payload")
    named = payload.get("cmd_id") if isinstance(payload, dict) else None
    starts = envelope.get("starts_at")
    return SentCommand(
        command.id,
        command.alert_id,
        command.channel,
        command.op,
        command.priority,
        command.seq,
        state,
        releases=named if isinstance(named, str) else None,
        starts_at=datetime.fromisoformat(starts) if isinstance(starts, str) else None,
    )


def _payload(command: Command) -> dict[str, Any] | None:
    payload = json.loads(command.envelope).get("payload")
    return payload if isinstance(payload, dict) else None


def _desired_view(command: Command, delivery: str) -> SlotView:
    return SlotView(
        priority=command.priority,
        cmd_id=command.id,
        holder_kind=holder_kind(command.alert_id),
        holder_id=command.alert_id,
        value=_payload(command),
        delivery=delivery,
    )


def _reported_view(seen: ChannelState, known: Mapping[str, Command]) -> SlotView:
    command = known.get(seen.cmd_id) if seen.cmd_id else None
    issuer = command.alert_id if command is not None else None
    return SlotView(
        priority=seen.priority,
        cmd_id=seen.cmd_id,
        holder_kind=holder_kind(issuer) if seen.cmd_id else _default_or_none(seen),
        holder_id=issuer,
        value=seen.value,
        lit=seen.lit,
    )


def _default_or_none(seen: ChannelState) -> str | None:
    """A report without a command: the lantern default drives it (slot 16), or nothing does."""
    return "default" if seen.priority is not None else None
