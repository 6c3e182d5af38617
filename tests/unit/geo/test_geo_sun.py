"""Sun events for schedules: the figures of the astral package for the lantern's position."""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun

from lightctl.domain.schedules import night, schedule_from_json
from lightctl.geo.sun import cell_of, sun_events

ZURICH = (8.5417, 47.3769)  # lon, lat: Paradeplatz, the demo inventory's centre
ZONE = "Europe/Zurich"
DATES = [date(2025, 3, 20), date(2025, 6, 21), date(2025, 10, 26), date(2025, 12, 21)]


@pytest.mark.parametrize("day", DATES)
def test_zurich_sunset_and_sunrise_match_astral(day: date) -> None:
    observer = Observer(latitude=ZURICH[1], longitude=ZURICH[0])
    zone = ZoneInfo(ZONE)
    events = sun_events(*ZURICH, day, ZONE)
    assert events.sunset == astral_sun.sunset(observer, day, tzinfo=zone)
    assert events.sunrise == astral_sun.sunrise(observer, day, tzinfo=zone)
    assert events.dusk == astral_sun.dusk(observer, day, tzinfo=zone)
    assert events.dawn == astral_sun.dawn(observer, day, tzinfo=zone)
    assert events.sunset is not None
    assert events.sunset.tzinfo == UTC


def test_known_figures_for_zurich() -> None:
    """Midsummer: sunset 21:26 and sunrise 05:30 local (Swiss Federal Office figures ±1 min)."""
    summer = sun_events(*ZURICH, date(2025, 6, 21), ZONE)
    assert summer.sunset is not None
    local = summer.sunset.astimezone(ZoneInfo(ZONE))
    assert (local.hour, local.minute) in ((21, 25), (21, 26))
    morning = sun_events(*ZURICH, date(2025, 6, 22), ZONE).sunrise
    assert morning is not None
    assert (morning.astimezone(ZoneInfo(ZONE)).hour, morning.astimezone(ZoneInfo(ZONE)).minute) in (
        (5, 29),
        (5, 30),
    )


def test_a_night_in_zurich_follows_astral_to_the_minute() -> None:

    schedule = schedule_from_json("z", {"timezone": ZONE})
    found = night(schedule, date(2025, 12, 21), lambda d: sun_events(*ZURICH, d, ZONE))
    assert found is not None
    sunset = sun_events(*ZURICH, date(2025, 12, 21), ZONE).sunset
    sunrise = sun_events(*ZURICH, date(2025, 12, 22), ZONE).sunrise
    assert sunset is not None
    assert sunrise is not None
    assert abs((found.on - sunset).total_seconds()) <= 30
    assert abs((found.off - sunrise).total_seconds()) <= 30


def test_polar_night_has_no_sunset() -> None:
    tromso = (18.95, 69.65)
    events = sun_events(*tromso, date(2025, 12, 21), "Europe/Oslo")
    assert events.sunset is None
    assert events.sunrise is None


def test_cells_are_a_hundredth_of_a_degree() -> None:
    assert cell_of(8.5417, 47.3769) == pytest.approx((8.54, 47.38))
