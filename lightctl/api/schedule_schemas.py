"""HTTP schemas of lighting schedules (slot 15): dusk to dawn, dimming steps, special days."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from lightctl.api.schemas import StrictIn
from lightctl.api.steering_schemas import PathIn

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SwitchIn(StrictIn):
    """A sun event with an offset, or a fixed local time of night (HH:MM; before noon: the
    next morning)."""

    event: Literal["sunset", "sunrise", "dusk", "dawn"] | None = Field(
        default=None, description="dusk and dawn: civil twilight (sun 6° below the horizon)"
    )
    offset_min: int = Field(default=0, ge=-240, le=240)
    at: str | None = Field(default=None, pattern=_HHMM)


class StepIn(StrictIn):
    at: str = Field(pattern=_HHMM, description="local time of night; before noon: next morning")
    brightness: int = Field(ge=0, le=100, description="percent; 0 switches off until next step")


class DayPlanIn(StrictIn):
    switch_on: SwitchIn = Field(default_factory=lambda: SwitchIn(event="sunset"))
    switch_off: SwitchIn = Field(default_factory=lambda: SwitchIn(event="sunrise"))
    brightness: int = Field(default=100, ge=0, le=100, description="from switch-on")
    cct_k: int | None = Field(default=None, ge=1800, le=10000)
    steps: list[StepIn] = Field(default_factory=list, max_length=24)
    path: PathIn | None = Field(default=None, description="footpath light for the whole night")


class ScheduleIn(StrictIn):
    """Which plan a night follows: its special day, else its weekday's, else ``default``."""

    group: str | None = Field(default=None, description="null: lanterns in no scheduled group")
    timezone: str = Field(default="Europe/Zurich", description="IANA zone of the times of night")
    description: str = Field(default="", max_length=500)
    default: DayPlanIn = Field(default_factory=DayPlanIn)
    weekdays: dict[Weekday, DayPlanIn] = Field(default_factory=dict)
    special_days: dict[date, DayPlanIn] = Field(default_factory=dict, max_length=400)


class ScheduleCreate(ScheduleIn):
    name: str = Field(min_length=1, max_length=60)


class ScheduleOut(BaseModel):
    name: str
    group: str | None
    timezone: str
    description: str
    default: dict[str, Any]
    weekdays: dict[str, Any]
    special_days: dict[str, Any]
    lantern_count: int = Field(description="lanterns this schedule lights today")
    created_at: datetime
    updated_at: datetime


class StepOut(BaseModel):
    start: datetime = Field(alias="from")
    brightness: int

    model_config = {"populate_by_name": True}


class NightOut(BaseModel):
    date: date
    plan: str | None = Field(description="special, weekday or default")
    switch_on: datetime | None = Field(description="null: no night (the sun stays up)")
    switch_off: datetime | None
    steps: list[StepOut]
