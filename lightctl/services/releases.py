"""Release commands for the slots an issuer (steering, schedule) still holds on its lanterns."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from sqlmodel import Session

from lightctl.domain.records import Command
from lightctl.protocol import CommandEnvelope, ReleasePayload
from lightctl.protocol.wire import Channel
from lightctl.services.alerts import commands as build
from lightctl.services.sequence import SequenceCounter
from lightctl.store import alerts as alert_store
from lightctl.store import steering as steering_store

log = logging.getLogger(__name__)

CHANNELS: tuple[Channel, ...] = ("audio", "light", "projection", "path")
# Deliveries whose lantern holds nothing to release: it refused the command, or it was released
# (cancelled) before.
NOTHING_HELD = ("rejected", "failed", "cancelled")

Sign = Callable[[CommandEnvelope], CommandEnvelope]


def release_commands(
    session: Session,
    issuer_id: str,
    now: datetime,
    seq: SequenceCounter,
    sign: Sign,
    role: str,
    only: Collection[str] | None = None,
    pending_everywhere: bool = False,
) -> list[tuple[Command, Sequence[str]]]:
    """One release per live `set` of the issuer, naming it, to its lanterns (``only`` these, if
    given); its unsent deliveries are cancelled. With ``pending_everywhere`` a `set` that has not
    started yet (sent ahead with ``starts_at``) is released on all its lanterns. ``role``: whose
    releases they are (the caller's, or the schedule runner's), as the envelope names it.

    A lantern empties the slot only while the named command holds it (or drops it if it still
    waits for its start), so where someone else wrote the slot since, theirs stays. The release
    lives as long as the command it names: a lantern away for most of that time still lets go
    when it returns, and a late release can clear nothing else.
    """
    out: list[tuple[Command, Sequence[str]]] = []
    for cmd in steering_store.live_sets(session, issuer_id, now):
        pending = pending_everywhere and _starts_after(cmd, now)
        ids = [
            d.lantern_id
            for d in alert_store.deliveries(session, cmd.id)
            if d.state not in NOTHING_HELD and (pending or only is None or d.lantern_id in only)
        ]
        if not ids:
            continue
        alert_store.close_open(session, cmd.id, "cancelled", "released", now, ids)
        env = build.envelope(
            alert_id=issuer_id,
            role=role,
            channel=_channel(cmd.channel),
            priority=cmd.priority,
            issued_at=now,
            expires_at=cmd.expires_at,
            exercise=False,
            payload=ReleasePayload(cmd_id=cmd.id),
            seq=seq.next(),
        )
        out.append((build.stored(sign(env)), sorted(set(ids))))
    if out:
        log.info("%s: %d release commands", issuer_id, len(out))
    return out


def starts_at_of(cmd: Command) -> datetime | None:
    """When a stored command takes effect, if it was sent ahead (``starts_at`` in its envelope)."""
    raw = json.loads(cmd.envelope).get("starts_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def _starts_after(cmd: Command, now: datetime) -> bool:
    starts = starts_at_of(cmd)
    return starts is not None and starts > now


def _channel(name: str) -> Channel:
    for channel in CHANNELS:
        if channel == name:
            return channel
    raise ValueError(f"not a channel: {name}")
