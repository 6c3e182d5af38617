"""The schedule runner: sends each lantern its schedule's switching commands at slot 15, ahead.

Every pass works out, per schedule and 0.01° cell of its lanterns, the nights of the next 24 h
there and sends one light command per dimming step (and one path command per night), each once
(what was sent is recorded): the step in force now at once, later ones with ``starts_at``, each
expiring where the next step begins or at switch-off. The lantern holds a command sent ahead
and puts it into slot 15 on its own clock, so one that loses the service still switches on, dims
and goes dark on time until its last command expires, then shows its default.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from lightctl.domain import priorities as slot
from lightctl.domain import schedules as rules
from lightctl.domain.clock import Clock
from lightctl.domain.roles import SCHEDULER
from lightctl.domain.schedules import Night, Schedule
from lightctl.geo.sun import cell_of, sun_events
from lightctl.protocol import LightPayload, PathPayload
from lightctl.protocol.wire import Channel, Payload
from lightctl.services.alerts import commands as build
from lightctl.services.releases import Sign
from lightctl.services.schedules.service import ScheduleService, issuer_id
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import schedules as schedule_store

log = logging.getLogger(__name__)

# A pass every 15 s: a switch happens at most 15 s after its minute, unnoticeable for street
# lighting, and 5,760 light passes a day cost nothing next to one warning.
TICK_S = 15.0
# How far ahead switching commands go out: 24 h covers the rest of tonight and all of the next
# night from any moment, so a lantern cut off at dusk still runs the whole night on its own.
AHEAD = timedelta(hours=24)
# Records of sent commands are kept a day past their expiry (a restart within it sends nothing
# twice), then dropped.
KEEP_SENT = timedelta(days=1)


@dataclass(slots=True)
class _Pending:
    channel: Channel
    payload: Payload
    starts_at: datetime | None  # None: in force now, applied on arrival
    ends_at: datetime
    lantern_ids: list[str] = field(default_factory=list)


class ScheduleRunner:
    """A component: the constructor only assigns, ``start``/``stop`` run the background loop."""

    def __init__(
        self,
        db: Database,
        schedules: ScheduleService,
        clock: Clock,
        on_stored: Callable[[], None] = lambda: None,
        sign: Sign | None = None,
        tick_s: float = TICK_S,
        ahead: timedelta = AHEAD,
        should_run: Callable[[], bool] = lambda: True,
    ) -> None:
        self._db = db
        self._schedules = schedules
        self._clock = clock
        self._on_stored = on_stored
        self._sign: Sign = sign or (lambda env: env)
        self._tick_s = tick_s
        self._ahead = ahead
        # Whether this replica runs the schedules now (it holds their lease); asked every pass.
        self._should_run = should_run
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq: SequenceCounter | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(self._wake), name="schedules")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def wake(self) -> None:
        """A schedule changed (from any thread): run a pass now."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            try:
                if await asyncio.to_thread(self._should_run):
                    await asyncio.to_thread(self.run_once)
            except Exception:  # a database hiccup must not end the schedules
                log.exception("schedule pass failed; next try in %.0f s", self._tick_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self._tick_s)
            wake.clear()

    def run_once(self, now: datetime | None = None) -> int:
        """One pass: store the switching commands due now; returns how many were stored."""
        now = now or self._clock()
        stored = 0
        with self._db.session() as session:
            if self._seq is None:
                self._seq = SequenceCounter(alert_store.max_seq(session))
            seq = self._seq
            schedules = self._schedules.schedules(session)
            if schedules:
                members = self._schedules.members(session, schedules)
                positions = self._schedules.positions(session)
                for schedule in schedules:
                    ids = members.get(schedule.name, [])
                    due = self._due(schedule, ids, positions, now)
                    stored += self._store(session, schedule, due, now, seq)
            schedule_store.prune(session, now - KEEP_SENT)
        if stored:
            log.info("schedules: %d switching commands stored", stored)
            self._on_stored()
        return stored

    def _due(
        self,
        schedule: Schedule,
        ids: list[str],
        positions: dict[str, tuple[float, float]],
        now: datetime,
    ) -> dict[str, _Pending]:
        """What each of the schedule's lanterns should hold now and over the next ``ahead``,
        by command key."""
        cells: dict[tuple[float, float], list[str]] = {}
        for lid in ids:
            if lid in positions:
                cells.setdefault(cell_of(*positions[lid]), []).append(lid)
        due: dict[str, _Pending] = {}
        for (lon, lat), members in cells.items():

            def sun(day: Any, lon: float = lon, lat: float = lat) -> rules.SunEvents:
                return sun_events(lon, lat, day, schedule.timezone)

            # By day slot 15 stays empty and the lantern shows its default.
            for night in rules.upcoming(schedule, now, now + self._ahead, sun):
                for key, pending in _commands(night, now, now + self._ahead).items():
                    due.setdefault(key, pending).lantern_ids.extend(members)
        return due

    def _store(
        self,
        session: Session,
        schedule: Schedule,
        due: dict[str, _Pending],
        now: datetime,
        seq: SequenceCounter,
    ) -> int:
        issuer = issuer_id(schedule.name)
        sent = schedule_store.sent_commands(session, schedule.name, list(due))
        stored = 0
        for key, pending in due.items():
            command_id = sent.get(key)
            if command_id is not None:  # sent before; lanterns that joined since get it too
                have = set(alert_store.lanterns_of(session, command_id))
                new = [i for i in pending.lantern_ids if i not in have]
                if new:
                    schedule_store.add_deliveries(session, command_id, issuer, new, now)
                    stored += 1
                continue
            env = self._sign(
                build.envelope(
                    alert_id=issuer,
                    role=SCHEDULER,  # no person issues it: the runner's own role, slot 15
                    channel=pending.channel,
                    priority=slot.SCHEDULE,
                    issued_at=now,
                    starts_at=pending.starts_at,
                    expires_at=pending.ends_at,
                    exercise=False,
                    payload=pending.payload,
                    seq=seq.next(),
                )
            )
            # Due on the service's clock (the outbox's), whatever instant this pass plans for.
            alert_store.save_commands(
                session,
                issuer,
                [(build.stored(env), sorted(pending.lantern_ids))],
                now=self._clock(),
            )
            schedule_store.remember_command(session, schedule.name, key, env.id, pending.ends_at)
            stored += 1
        return stored


def _commands(night: Night, now: datetime, until: datetime) -> dict[str, _Pending]:
    """A light command per step not over at ``now`` that begins before ``until`` (and the
    night's path command), keyed by what they switch: the same key in a later pass means the
    command was sent already."""
    out: dict[str, _Pending] = {}
    for start, end, brightness in rules.step_spans(night):
        if end <= now or start >= until:
            continue
        light = LightPayload.model_validate(rules.light_payload(night.plan, brightness))
        out[_key("light", start, end, light)] = _Pending("light", light, _ahead(start, now), end)
    if night.plan.path is not None:
        path = PathPayload.model_validate(night.plan.path)
        on, off = night.on, night.off
        out[_key("path", on, off, path)] = _Pending("path", path, _ahead(on, now), off)
    return out


def _ahead(start: datetime, now: datetime) -> datetime | None:
    """The command's ``starts_at``: its start if still to come, else none (in force now)."""
    return start if start > now else None


def _key(channel: str, start: datetime, end: datetime, payload: Payload) -> str:
    digest = hashlib.sha256(payload.to_bytes()).hexdigest()[:16]
    stamp = "%Y%m%dT%H%MZ"
    begins, ends = start.astimezone(UTC).strftime(stamp), end.astimezone(UTC).strftime(stamp)
    return f"{channel}|{begins}|{ends}|{digest}"
