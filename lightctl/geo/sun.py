"""Sun events for a place and date (the ``astral`` package), for schedules' dusk-to-dawn rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from astral import Observer
from astral import sun as astral_sun

from lightctl.domain.schedules import SunEvents

# Schedules ask per cell of 0.01° (~1 km): sunset moves ~4 s per km, far below the minute the
# switching instants are rounded to. Cells x dates stay few, so every answer is kept.
CELL_DEG = 0.01


def cell_of(lon: float, lat: float) -> tuple[float, float]:
    """The centre of the 0.01° cell a position lies in."""
    return round(lon / CELL_DEG) * CELL_DEG, round(lat / CELL_DEG) * CELL_DEG


@lru_cache(maxsize=8192)
def sun_events(lon: float, lat: float, day: date, timezone: str) -> SunEvents:
    """Civil dawn, sunrise, sunset and civil dusk of the local date ``day`` at lon/lat, in UTC;
    None for an event the sun does not reach that day (polar day or night)."""
    observer = Observer(latitude=lat, longitude=lon)
    zone = ZoneInfo(timezone)

    def event(name: str) -> datetime | None:
        try:
            at: datetime = getattr(astral_sun, name)(observer, day, tzinfo=zone)
        except ValueError:  # "Sun never reaches ..." at high latitudes
            return None
        return at.astimezone(UTC)

    return SunEvents(
        dawn=event("dawn"), sunrise=event("sunrise"), sunset=event("sunset"), dusk=event("dusk")
    )
