"""Lighting schedules: define per group (or a default for the rest), preview nights, and who each
schedule lights; sending is the ScheduleRunner's job."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from lightctl.domain import schedules as rules
from lightctl.domain.clock import Clock
from lightctl.domain.records import StoredSchedule
from lightctl.domain.roles import SCHEDULER
from lightctl.domain.schedules import Night, Schedule
from lightctl.domain.targets import TargetSpec
from lightctl.errors import Conflict, InvalidRequest, NotFound
from lightctl.geo.names import suggest
from lightctl.geo.sun import sun_events
from lightctl.services.releases import Sign, release_commands
from lightctl.services.sequence import SequenceCounter
from lightctl.services.targets import TargetResolver
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import groups as group_store
from lightctl.store import lanterns as lantern_store
from lightctl.store import schedules as schedule_store
from lightctl.store import steering as steering_store

log = logging.getLogger(__name__)

# Names travel in URLs and, prefixed, in the envelope's 64-character alert_id.
_NAME = re.compile(r"^\w[\w.\-]{0,59}$")
ISSUER_PREFIX = "sc_"


def issuer_id(name: str) -> str:
    """The id a schedule's commands carry as their alert_id (so a slot names its holder)."""
    return f"{ISSUER_PREFIX}{name}"


@dataclass(frozen=True, slots=True)
class ScheduleReport:
    schedule: Schedule
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    lantern_ids: tuple[str, ...]


class ScheduleService:
    def __init__(
        self,
        db: Database,
        resolver: TargetResolver,
        clock: Clock,
        on_change: Callable[[], None] = lambda: None,
        sign: Sign | None = None,
    ) -> None:
        self._db = db
        self._resolver = resolver
        self._clock = clock
        self._on_change = on_change
        self._sign: Sign = sign or (lambda env: env)
        self._lock = threading.Lock()
        self._positions: tuple[int, dict[str, tuple[float, float]]] | None = None

    # ---- definitions --------------------------------------------------------------------------

    def list_all(self) -> list[ScheduleReport]:
        with self._db.session() as session:
            rows = schedule_store.all_schedules(session)
            members = self.members(session, [_parse(r) for r in rows])
        return [_report(r, members.get(r.name, [])) for r in rows]

    def get(self, name: str) -> ScheduleReport:
        with self._db.session() as session:
            rows = schedule_store.all_schedules(session)
            members = self.members(session, [_parse(r) for r in rows])
        row = next((r for r in rows if r.name == name), None)
        if row is None:
            raise NotFound("schedule", name)
        return _report(row, members.get(name, []))

    def put(self, name: str, data: Mapping[str, Any], must_be_new: bool = False) -> ScheduleReport:
        """Create or replace; lanterns the new rules no longer cover get their slot 15 back."""
        if not _NAME.match(name):
            raise InvalidRequest.at(
                ("name",), "use 1-60 letters, digits, '_', '.', '-', starting with a letter", name
            )
        schedule = rules.schedule_from_json(name, data)
        definition = _definition_json(data)
        with self._lock, self._db.session() as session:
            existing = schedule_store.get_schedule(session, name)
            if must_be_new and existing is not None:
                raise Conflict(f"schedule {name!r} exists; PUT /schedules/{name} replaces it")
            self._check_group(session, schedule)
            schedule_store.save_schedule(session, name, schedule.group, definition, self._clock())
            schedules = [_parse(r) for r in schedule_store.all_schedules(session)]
            covered = set(self.members(session, schedules).get(name, []))
            self._release(session, name, keep=covered)
            schedule_store.forget_commands(session, name)
        self._on_change()
        return self.get(name)

    def delete(self, name: str) -> None:
        with self._lock, self._db.session() as session:
            if schedule_store.get_schedule(session, name) is None:
                raise NotFound("schedule", name)
            self._release(session, name, keep=set())
            schedule_store.delete_schedule(session, name)
        self._on_change()

    def preview(self, name: str, start: date, days: int) -> list[Night | None]:
        """The nights from ``start`` at the centre of the schedule's lanterns."""
        report = self.get(name)
        with self._db.session() as session:
            positions = self.positions(session)
        points = [positions[i] for i in report.lantern_ids if i in positions]
        if not points:
            raise Conflict(f"schedule {name!r} lights no lantern today: nothing to preview")
        lon = sum(p[0] for p in points) / len(points)
        lat = sum(p[1] for p in points) / len(points)
        schedule = report.schedule

        def sun(day: date) -> rules.SunEvents:
            return sun_events(lon, lat, day, schedule.timezone)

        return [rules.night(schedule, start + timedelta(days=n), sun) for n in range(days)]

    # ---- who each schedule lights ---------------------------------------------------------------

    def schedules(self, session: Session) -> list[Schedule]:
        return [_parse(r) for r in schedule_store.all_schedules(session)]

    def members(self, session: Session, schedules: Sequence[Schedule]) -> dict[str, list[str]]:
        """Lantern ids per schedule: group schedules first (by name; a lantern in two scheduled
        groups follows the first), the default schedule takes every lantern left."""
        index = self._resolver.index(session)
        groups = group_store.definitions(session)
        claimed: set[str] = set()
        out: dict[str, list[str]] = {}
        for schedule in sorted((s for s in schedules if s.group), key=lambda s: s.name):
            spec = TargetSpec(groups=(str(schedule.group),), allow_empty=True, confirm_large=True)
            try:
                ids = index.resolve(spec, groups).lantern_ids
            except InvalidRequest as exc:  # the group was deleted or broke: light nothing
                log.warning("schedule %s: group unusable: %s", schedule.name, exc.message)
                ids = ()
            out[schedule.name] = [i for i in ids if i not in claimed]
            claimed.update(ids)
        for schedule in schedules:
            if schedule.group is None:
                out[schedule.name] = sorted(set(self.positions(session)) - claimed)
        return out

    def positions(self, session: Session) -> dict[str, tuple[float, float]]:
        """lon/lat of every lantern, read again only when the inventory changed."""
        version = lantern_store.inventory_version(session)
        cached = self._positions
        if cached is None or cached[0] != version:
            rows = lantern_store.all_positions(session)
            cached = (version, {lid: (lon, lat) for lid, lon, lat in rows})
            self._positions = cached
        return cached[1]

    # ---- helpers ------------------------------------------------------------------------------

    def _check_group(self, session: Session, schedule: Schedule) -> None:
        others = [s for s in schedule_store.all_schedules(session) if s.name != schedule.name]
        if schedule.group is None:
            default = next((s.name for s in others if s.group_name is None), None)
            if default is not None:
                raise InvalidRequest.at(
                    ("group",),
                    f"schedule {default!r} is already the default (no group); give a group",
                )
            return
        known = group_store.definitions(session)
        if schedule.group not in known:
            raise InvalidRequest.at(
                ("group",), "unknown group", schedule.group, tuple(suggest(schedule.group, known))
            )
        taken = next((s.name for s in others if s.group_name == schedule.group), None)
        if taken is not None:
            raise InvalidRequest.at(
                ("group",), f"group already has schedule {taken!r}", schedule.group
            )

    def _release(self, session: Session, name: str, keep: set[str]) -> None:
        """Release slot 15 where this schedule's live commands sit on lanterns not in ``keep``,
        and everywhere the commands sent ahead that have not started: they follow the old rules
        (the runner sends the new ones; a step in force is replaced by the new one in its slot)."""
        issuer = issuer_id(name)
        now = self._clock()
        holders = {
            lid
            for cmd in steering_store.live_sets(session, issuer, now)
            for lid in alert_store.lanterns_of(session, cmd.id)
        }
        leaving = holders - keep
        seq = SequenceCounter(alert_store.max_seq(session))
        releases = release_commands(
            session, issuer, now, seq, self._sign, SCHEDULER, only=leaving, pending_everywhere=True
        )
        if releases:
            alert_store.save_commands(session, issuer, releases, now=now)


def _parse(row: StoredSchedule) -> Schedule:
    return rules.schedule_from_json(row.name, row.definition)


def _definition_json(data: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("group", "timezone", "description", "default", "weekdays", "special_days")
    return {k: data[k] for k in keep if data.get(k) is not None}


def _report(row: StoredSchedule, members: Sequence[str]) -> ScheduleReport:
    return ScheduleReport(
        schedule=_parse(row),
        definition=row.definition,
        created_at=row.created_at,
        updated_at=row.updated_at,
        lantern_ids=tuple(members),
    )
