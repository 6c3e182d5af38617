"""Schedule rules: which plan a night follows, its switching instants and dimming steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from lightctl.domain.schedules import (
    DayPlan,
    Schedule,
    Step,
    SunEvents,
    SwitchTime,
    current,
    light_payload,
    night,
    schedule_from_json,
    step_spans,
    upcoming,
)
from lightctl.errors import InvalidRequest

ZONE = "Europe/Zurich"


def fake_sun(day: date) -> SunEvents:
    """Sunrise 05:00 UTC, sunset 19:00 UTC every day; civil twilight 30 min around them."""
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return SunEvents(
        dawn=base + timedelta(hours=4, minutes=30),
        sunrise=base + timedelta(hours=5),
        sunset=base + timedelta(hours=19),
        dusk=base + timedelta(hours=19, minutes=30),
    )


DIMMED = DayPlan(steps=(Step(time(23, 0), 50), Step(time(1, 0), 30), Step(time(5, 30), 70)))
FULL_NIGHT = DayPlan(brightness=100, switch_on=SwitchTime("dusk", -15))
SCHEDULE = Schedule(
    name="altstadt",
    group="altstadt",
    timezone=ZONE,
    default=DIMMED,
    weekdays={4: DayPlan(brightness=90)},  # Fridays: no dimming
    special_days={date(2025, 12, 31): FULL_NIGHT, date(2025, 12, 26): DIMMED},
)


def test_special_days_win_over_weekdays_and_weekdays_over_the_default() -> None:
    assert SCHEDULE.plan_for(date(2025, 12, 31)) == (FULL_NIGHT, "special")  # a Wednesday
    assert SCHEDULE.plan_for(date(2025, 12, 26)) == (DIMMED, "special")  # a Friday
    assert SCHEDULE.plan_for(date(2025, 12, 19)) == (DayPlan(brightness=90), "weekday")
    assert SCHEDULE.plan_for(date(2025, 12, 18)) == (DIMMED, "default")


def test_a_night_runs_from_this_evening_to_next_morning_with_its_steps() -> None:
    found = night(SCHEDULE, date(2025, 12, 18), fake_sun)
    assert found is not None
    assert found.on == datetime(2025, 12, 18, 19, 0, tzinfo=UTC)
    assert found.off == datetime(2025, 12, 19, 5, 0, tzinfo=UTC)
    # Steps are local (UTC+1 in December): 23:00 → 22:00 UTC, 01:00 next day → 00:00 UTC;
    # 05:30 local (04:30 UTC) is still before sunrise, so it counts.
    assert [(s.astimezone(UTC).strftime("%d %H:%M"), b) for s, b in found.steps] == [
        ("18 19:00", 100),
        ("18 22:00", 50),
        ("19 00:00", 30),
        ("19 04:30", 70),
    ]


def test_offsets_and_civil_twilight() -> None:
    found = night(SCHEDULE, date(2025, 12, 31), fake_sun)
    assert found is not None
    assert found.on == datetime(2025, 12, 31, 19, 15, tzinfo=UTC)  # dusk 19:30 - 15 min
    assert found.source == "special"


def test_current_finds_last_evenings_night_in_the_small_hours() -> None:
    small_hours = datetime(2025, 12, 19, 0, 30, tzinfo=UTC)
    found = current(SCHEDULE, small_hours, fake_sun)
    assert found is not None
    assert found.day == date(2025, 12, 18)
    assert found.step_at(small_hours) == (datetime(2025, 12, 19, 0, 0, tzinfo=UTC), 30)
    assert current(SCHEDULE, datetime(2025, 12, 19, 12, 0, tzinfo=UTC), fake_sun) is None


def test_the_next_24_hours_hold_the_rest_of_tonight_and_the_next_night() -> None:
    evening = datetime(2025, 12, 18, 21, 0, tzinfo=UTC)  # 22:00 in Zürich, tonight is on
    found = upcoming(SCHEDULE, evening, evening + timedelta(hours=24), fake_sun)
    assert [(n.day, n.on, n.off) for n in found] == [
        (
            date(2025, 12, 18),
            datetime(2025, 12, 18, 19, 0, tzinfo=UTC),
            datetime(2025, 12, 19, 5, 0, tzinfo=UTC),
        ),
        (
            date(2025, 12, 19),
            datetime(2025, 12, 19, 19, 0, tzinfo=UTC),
            datetime(2025, 12, 20, 5, 0, tzinfo=UTC),
        ),
    ]
    noon = datetime(2025, 12, 19, 11, 0, tzinfo=UTC)
    assert [n.day for n in upcoming(SCHEDULE, noon, noon + timedelta(hours=6), fake_sun)] == []
    assert [n.day for n in upcoming(SCHEDULE, noon, noon + timedelta(hours=9), fake_sun)] == [
        date(2025, 12, 19)
    ]


def test_each_step_lasts_until_the_next_and_the_last_until_switch_off() -> None:
    found = night(SCHEDULE, date(2025, 12, 18), fake_sun)
    assert found is not None
    assert [(_utc(a), _utc(b), level) for a, b, level in step_spans(found)] == [
        ("18 19:00", "18 22:00", 100),
        ("18 22:00", "19 00:00", 50),
        ("19 00:00", "19 04:30", 30),
        ("19 04:30", "19 05:00", 70),
    ]


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%d %H:%M")


def test_switching_instants_are_whole_minutes() -> None:
    def sun(day: date) -> SunEvents:
        events = fake_sun(day)
        assert events.sunset is not None
        return SunEvents(None, events.sunrise, events.sunset + timedelta(seconds=31), None)

    found = night(SCHEDULE, date(2025, 12, 18), sun)
    assert found is not None
    assert found.on == datetime(2025, 12, 18, 19, 1, tzinfo=UTC)


def test_no_night_where_the_sun_never_sets() -> None:
    def midnight_sun(day: date) -> SunEvents:
        return SunEvents(None, None, None, None)

    assert night(SCHEDULE, date(2025, 6, 21), midnight_sun) is None


def test_a_zero_step_switches_off() -> None:
    assert light_payload(DayPlan(cct_k=3000), 0) == {"on": False}
    assert light_payload(DayPlan(cct_k=3000), 60) == {"on": True, "brightness": 60, "cct_k": 3000}


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"timezone": "Mars/Olympus"}, ("timezone",)),
        ({"default": {"switch_on": {"event": "noon"}}}, ("default", "switch_on", "event")),
        ({"default": {"switch_on": {}}}, ("default", "switch_on")),
        ({"default": {"switch_off": {"at": "25:00"}}}, ("default", "switch_off", "at")),
        ({"default": {"steps": [{"at": "1am", "brightness": 5}]}}, ("default", "steps", 0, "at")),
        ({"weekdays": {"monday": {}}}, ("weekdays", "monday")),
        ({"special_days": {"31.12.2025": {}}}, ("special_days", "31.12.2025")),
        (
            {"default": {"switch_on": {"event": "sunset", "offset_min": 300}}},
            ("default", "switch_on", "offset_min"),
        ),
    ],
)
def test_bad_definitions_name_the_field(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        schedule_from_json("s", data)
    assert [p.loc for p in caught.value.problems] == [loc]


def test_json_round_trip_of_the_rules() -> None:
    schedule = schedule_from_json(
        "s",
        {
            "group": "altstadt",
            "timezone": ZONE,
            "default": {"steps": [{"at": "23:00", "brightness": 50}]},
            "weekdays": {"fri": {"brightness": 90}},
            "special_days": {"2025-12-31": {"switch_on": {"event": "dusk", "offset_min": -15}}},
        },
    )
    assert schedule.weekdays[4].brightness == 90
    assert schedule.special_days[date(2025, 12, 31)].switch_on == SwitchTime("dusk", -15)
    assert schedule.default.steps == (Step(time(23, 0), 50),)
