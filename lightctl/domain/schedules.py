"""Lighting schedules at slot 15: dusk to dawn per group, dimming steps, special days; pure.

A night belongs to the date it starts on: the plan of 24 December switches on at that evening's
sunset and off at the sunrise of the 25th. Times of night ("HH:MM") from 12:00 on fall on the
plan's date, earlier ones on the next morning. Which plan a date follows: its special day, else
its weekday's plan, else the schedule's default. Sun events come from a function of the date
(``lightctl.geo.sun``), so these rules need no astronomy to be tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lightctl.errors import FieldProblem, InvalidRequest, summarise

Event = Literal["sunset", "sunrise", "dusk", "dawn"]
EVENTS: tuple[Event, ...] = ("sunset", "sunrise", "dusk", "dawn")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Offsets beyond 4 h from a sun event are no longer about twilight; use a fixed time instead.
MAX_OFFSET_MIN = 240
# Switching instants are whole minutes: sunset moves ~4 s per km east-west, so a city's lanterns
# share one or two instants and one command each, instead of one per lantern.
RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SunEvents:
    """One date's sun events at one place (UTC); None where the sun does not get there."""

    dawn: datetime | None  # civil: the sun 6° below the horizon, morning
    sunrise: datetime | None
    sunset: datetime | None
    dusk: datetime | None  # civil, evening


@dataclass(frozen=True, slots=True)
class SwitchTime:
    """A sun event plus an offset in minutes, or a fixed local time of night."""

    event: Event | None = None
    offset_min: int = 0
    at: time | None = None


@dataclass(frozen=True, slots=True)
class Step:
    at: time  # local time of night
    brightness: int  # percent; 0 switches the light off until the next step


@dataclass(frozen=True, slots=True)
class DayPlan:
    switch_on: SwitchTime = SwitchTime("sunset")
    switch_off: SwitchTime = SwitchTime("sunrise")
    brightness: int = 100
    cct_k: int | None = None
    steps: tuple[Step, ...] = ()
    path: dict[str, Any] | None = None  # a footpath payload held from switch-on to switch-off


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    group: str | None  # None: every lantern in no scheduled group
    timezone: str
    default: DayPlan
    weekdays: Mapping[int, DayPlan] = field(default_factory=dict)  # 0 = Monday
    special_days: Mapping[date, DayPlan] = field(default_factory=dict)
    description: str = ""

    def plan_for(self, day: date) -> tuple[DayPlan, str]:
        """The plan the night starting on ``day`` follows, and why (special, weekday, default)."""
        if day in self.special_days:
            return self.special_days[day], "special"
        if day.weekday() in self.weekdays:
            return self.weekdays[day.weekday()], "weekday"
        return self.default, "default"


@dataclass(frozen=True, slots=True)
class Night:
    """One night at one place: switching instants (UTC) and brightness from each on."""

    day: date
    source: str
    plan: DayPlan
    on: datetime
    off: datetime
    steps: tuple[tuple[datetime, int], ...]  # (from, brightness); the first is at ``on``

    def step_at(self, now: datetime) -> tuple[datetime, int] | None:
        """The step in force at ``now``, or None outside the night."""
        if not self.on <= now < self.off:
            return None
        return [s for s in self.steps if s[0] <= now][-1]


SunAt = Callable[[date], SunEvents]


def night_time(day: date, at: time, zone: tzinfo) -> datetime:
    """A local time of the night starting on ``day``: from noon on that day, earlier the next."""
    local_day = day if at.hour >= 12 else day + timedelta(days=1)
    return datetime.combine(local_day, at, tzinfo=zone)


def _instant(day: date, switch: SwitchTime, sun: SunAt, zone: tzinfo) -> datetime | None:
    if switch.at is not None:
        return night_time(day, switch.at, zone)
    if switch.event is None:
        raise ValueError("a switch time needs a sun event or a fixed time")
    # Evening events on the night's date, morning events on the next day's.
    evening = switch.event in ("sunset", "dusk")
    events = sun(day if evening else day + timedelta(days=1))
    base = getattr(events, switch.event)
    return None if base is None else base + timedelta(minutes=switch.offset_min)


def _round(at: datetime) -> datetime:
    seconds = at.second + at.microsecond / 1e6
    floor = at.replace(second=0, microsecond=0)
    return floor + RESOLUTION if seconds >= 30 else floor


def night(schedule: Schedule, day: date, sun: SunAt) -> Night | None:
    """The night starting on ``day`` (None when it never gets dark enough, or on is not before
    off, e.g. midsummer at high latitudes)."""
    zone = ZoneInfo(schedule.timezone)
    plan, source = schedule.plan_for(day)
    on = _instant(day, plan.switch_on, sun, zone)
    off = _instant(day, plan.switch_off, sun, zone)
    if on is None or off is None:
        return None
    on, off = _round(on), _round(off)
    if on >= off:
        return None
    steps = [(on, plan.brightness)]
    for step in sorted(plan.steps, key=lambda s: night_time(day, s.at, zone)):
        start = night_time(day, step.at, zone)
        if on < start < off:
            steps.append((start, step.brightness))
        elif start <= on:
            steps[0] = (on, step.brightness)  # a step before switch-on sets where the night starts
    return Night(day, source, plan, on, off, tuple(steps))


def current(schedule: Schedule, now: datetime, sun: SunAt) -> Night | None:
    """The night ``now`` lies in (started yesterday or today, local time), if any."""
    today = now.astimezone(ZoneInfo(schedule.timezone)).date()
    for day in (today - timedelta(days=1), today):
        found = night(schedule, day, sun)
        if found is not None and found.step_at(now) is not None:
            return found
    return None


def upcoming(schedule: Schedule, now: datetime, until: datetime, sun: SunAt) -> list[Night]:
    """Every night that is not over at ``now`` and begins before ``until``, earliest first."""
    zone = ZoneInfo(schedule.timezone)
    day = now.astimezone(zone).date() - timedelta(days=1)  # last evening's night may still run
    last = until.astimezone(zone).date()
    out: list[Night] = []
    while day <= last:
        found = night(schedule, day, sun)
        if found is not None and found.off > now and found.on < until:
            out.append(found)
        day += timedelta(days=1)
    return out


def step_spans(night: Night) -> list[tuple[datetime, datetime, int]]:
    """Each dimming step as (from, until, brightness): a step ends where the next begins, the
    last at switch-off; two steps at the same minute leave only the later one."""
    ends = [start for start, _b in night.steps[1:]] + [night.off]
    spans = zip(night.steps, ends, strict=True)
    return [(start, end, b) for (start, b), end in spans if end > start]


def light_payload(plan: DayPlan, brightness: int) -> dict[str, Any]:
    """The light channel's payload for one step (a LightPayload as JSON)."""
    if brightness <= 0:
        return {"on": False}
    out: dict[str, Any] = {"on": True, "brightness": brightness}
    if plan.cct_k is not None:
        out["cct_k"] = plan.cct_k
    return out


# ---- JSON (what the API takes and the store keeps) ------------------------------------------


def schedule_from_json(name: str, data: Mapping[str, Any]) -> Schedule:
    """A schedule from its JSON form; every mistake named by its field at once."""
    problems: list[FieldProblem] = []
    zone = str(data.get("timezone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(FieldProblem(("timezone",), "unknown time zone", zone))
    default = _plan(data.get("default") or {}, ("default",), problems)
    weekdays: dict[int, DayPlan] = {}
    for key, value in (data.get("weekdays") or {}).items():
        if key not in WEEKDAYS:
            problems.append(FieldProblem(("weekdays", key), "not one of mon..sun", key))
            continue
        weekdays[WEEKDAYS.index(key)] = _plan(value, ("weekdays", key), problems)
    special: dict[date, DayPlan] = {}
    for key, value in (data.get("special_days") or {}).items():
        try:
            day = date.fromisoformat(key)
        except ValueError:
            problems.append(FieldProblem(("special_days", key), "not a date YYYY-MM-DD", key))
            continue
        special[day] = _plan(value, ("special_days", key), problems)
    if problems:
        raise InvalidRequest(summarise(problems), problems)
    group = data.get("group")
    return Schedule(
        name=name,
        group=str(group) if group else None,
        timezone=zone,
        default=default,
        weekdays=weekdays,
        special_days=special,
        description=str(data.get("description") or ""),
    )


def _plan(data: Mapping[str, Any], loc: tuple[str, ...], problems: list[FieldProblem]) -> DayPlan:
    on_raw, off_raw = data.get("switch_on"), data.get("switch_off")
    on = _switch({"event": "sunset"} if on_raw is None else on_raw, (*loc, "switch_on"), problems)
    off = _switch(
        {"event": "sunrise"} if off_raw is None else off_raw, (*loc, "switch_off"), problems
    )
    steps: list[Step] = []
    for i, raw in enumerate(data.get("steps") or ()):
        at = _hhmm(raw.get("at"), (*loc, "steps", i, "at"), problems)
        if at is not None:
            steps.append(Step(at, int(raw.get("brightness", 100))))
    return DayPlan(
        switch_on=on,
        switch_off=off,
        brightness=int(data.get("brightness", 100)),
        cct_k=data.get("cct_k"),
        steps=tuple(steps),
        path=data.get("path"),
    )


def _switch(
    data: Mapping[str, Any], loc: tuple[str | int, ...], problems: list[FieldProblem]
) -> SwitchTime:
    event, at = data.get("event"), data.get("at")
    if (event is None) == (at is None):
        problems.append(FieldProblem(loc, "give either event (with offset_min) or at (HH:MM)"))
        return SwitchTime("sunset")
    if at is not None:
        parsed = _hhmm(at, (*loc, "at"), problems)
        return SwitchTime(at=parsed or time(0))
    if event not in EVENTS:
        problems.append(FieldProblem((*loc, "event"), f"not one of {', '.join(EVENTS)}", event))
        return SwitchTime("sunset")
    offset = int(data.get("offset_min", 0))
    if abs(offset) > MAX_OFFSET_MIN:
        problems.append(
            FieldProblem((*loc, "offset_min"), f"must be within ±{MAX_OFFSET_MIN} min", offset)
        )
    return SwitchTime(cast(Event, event), offset)


def _hhmm(value: Any, loc: tuple[str | int, ...], problems: list[FieldProblem]) -> time | None:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(FieldProblem(loc, "not a time of day HH:MM", value))
        return None
    return time(int(match.group(1)), int(match.group(2)))
