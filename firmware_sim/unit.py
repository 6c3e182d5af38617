"""One simulated lantern at run time, and the record of what it did (tests, control API)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from firmware_sim.cache import ClipCache
from firmware_sim.lantern import Lantern
from firmware_sim.link import LanternLink
from firmware_sim.transport import Gateway
from lightctl.protocol import Ack

# Entries kept per lantern in each list of its record; a long rehearsal must not grow without end.
RECORD_CAP = 1000


@dataclass(slots=True)
class LanternRecord:
    """What one simulated lantern did, for tests and the control API (latest RECORD_CAP each)."""

    fetched: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    """(url, sha256 of the bytes received) per download, in order."""
    played: deque[tuple[str, tuple[str, ...]]] = field(
        default_factory=lambda: deque(maxlen=RECORD_CAP)
    )
    """(command id, clip hashes in playback order) per program played to its end."""
    acks: deque[Ack] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    dropped: deque[str] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    motion: deque[datetime] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    """When someone passed the lantern's presence sensor (``Fleet.passer_by``)."""
    received_on: deque[str] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    """The audience of the topic each command arrived on (``lanterns/<id>`` or a group)."""
    groups: tuple[str, ...] = ()
    """The fan-out groups the service provisioned it with (protocol v2)."""
    sounded: deque[tuple[str, datetime]] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    """(command id, when its signal started) per audio command: sound first (issue 14)."""
    speech: deque[tuple[str, int, datetime]] = field(
        default_factory=lambda: deque(maxlen=RECORD_CAP)
    )
    """(command id, index of the first spoken item it played counting repeats, when that item
    started on this lantern's clock) per audio command whose speech started."""
    cache_refusals: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=RECORD_CAP))
    """(sha256, reason) per clip its cache could not keep (played from memory all the same)."""


@dataclass(eq=False, slots=True)
class Unit:
    """One simulated lantern at run time: firmware, connection, clip cache (kept across a
    reboot, like flash), playback."""

    lantern: Lantern
    gateway: Gateway
    link: LanternLink
    record: LanternRecord = field(default_factory=LanternRecord)
    cache: ClipCache = field(default_factory=ClipCache)
    playback: asyncio.Task[None] | None = None
    playback_id: str | None = None
    deadline: datetime | None = None
    timer: asyncio.TimerHandle | None = None
