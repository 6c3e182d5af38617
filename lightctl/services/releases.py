"""Release commands for the slots an issuer (steering, schedule) still holds on its lanterns."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from lightctl.protocol import CommandEnvelope, EmptyPayload
from lightctl.protocol.wire import Channel
from lightctl.services import alert_commands as build
from lightctl.services.sequence import SequenceCounter
from lightctl.store import alerts as alert_store
from lightctl.store import steering as steering_store
from lightctl.store.tables import CommandRow

log = logging.getLogger(__name__)

# A release must reach lanterns that were briefly away, but never linger for hours.
RELEASE_TTL_S = 600
CHANNELS: tuple[Channel, ...] = ("audio", "light", "projection", "path")

Sign = Callable[[CommandEnvelope], CommandEnvelope]


def release_commands(
    session: Session,
    issuer_id: str,
    now: datetime,
    seq: SequenceCounter,
    sign: Sign,
    only: Collection[str] | None = None,
) -> list[tuple[CommandRow, Sequence[str]]]:
    """One release per (channel, slot) to the lanterns (``only`` these, if given) whose slot the
    issuer still holds; its unsent deliveries are cancelled.

    A lantern releases by slot, not by command: where someone else wrote the slot since, the
    release would empty their command, so those lanterns are left out.
    """
    targets: dict[tuple[str, int], tuple[datetime, list[str]]] = {}
    for cmd in steering_store.live_sets(session, issuer_id, now):
        ids = [i for i in alert_store.lanterns_of(session, cmd.id) if only is None or i in only]
        if not ids:
            continue
        alert_store.close_open(session, cmd.id, "cancelled", "released", now, ids)
        others = steering_store.taken_over(session, cmd, ids, now)
        if others:
            log.info("%s: %d lanterns hold someone else's command now", issuer_id, len(others))
        ends = _aware(cmd.expires_at)
        key = (cmd.channel, cmd.priority)
        latest, lanterns = targets.get(key, (ends, []))
        lanterns.extend(i for i in ids if i not in others)
        targets[key] = (max(latest, ends), lanterns)
    out: list[tuple[CommandRow, Sequence[str]]] = []
    for (channel, priority), (ends, ids) in targets.items():
        if not ids:
            continue
        env = build.envelope(
            alert_id=issuer_id,
            channel=_channel(channel),
            priority=priority,
            issued_at=now,
            expires_at=min(ends, now + timedelta(seconds=RELEASE_TTL_S)),
            exercise=False,
            payload=EmptyPayload(),
            seq=seq.next(),
        )
        out.append((build.command_row(sign(env)), sorted(set(ids))))
    return out


def _channel(name: str) -> Channel:
    for channel in CHANNELS:
        if channel == name:
            return channel
    raise ValueError(f"not a channel: {name}")


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
