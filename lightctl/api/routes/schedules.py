"""Lighting schedules at slot 15: define per group, list, preview nights, delete."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from lightctl.api.deps import SchedulesDep
from lightctl.api.schedule_schemas import NightOut, ScheduleCreate, ScheduleIn, ScheduleOut, StepOut
from lightctl.services.schedules.service import ScheduleReport

router = APIRouter(prefix="/schedules", tags=["schedules"])


def _out(report: ScheduleReport) -> ScheduleOut:
    d = report.definition
    return ScheduleOut(
        name=report.schedule.name,
        group=report.schedule.group,
        timezone=report.schedule.timezone,
        description=report.schedule.description,
        default=d.get("default", {}),
        weekdays=d.get("weekdays", {}),
        special_days=d.get("special_days", {}),
        lantern_count=len(report.lantern_ids),
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


@router.get("", response_model=list[ScheduleOut])
def list_schedules(schedules: SchedulesDep) -> list[ScheduleOut]:
    return [_out(r) for r in schedules.list_all()]


@router.post("", status_code=201, response_model=ScheduleOut)
def create_schedule(body: ScheduleCreate, schedules: SchedulesDep) -> ScheduleOut:
    """Create a schedule (409 if the name is taken; PUT replaces)."""
    data = body.model_dump(mode="json", exclude_none=True, exclude={"name"})
    return _out(schedules.put(body.name, data, must_be_new=True))


@router.get("/{name}", response_model=ScheduleOut)
def get_schedule(name: str, schedules: SchedulesDep) -> ScheduleOut:
    return _out(schedules.get(name))


@router.put("/{name}", response_model=ScheduleOut)
def replace_schedule(name: str, body: ScheduleIn, schedules: SchedulesDep) -> ScheduleOut:
    """Create or replace; the lanterns follow the new rules from the next pass (seconds)."""
    return _out(schedules.put(name, body.model_dump(mode="json", exclude_none=True)))


@router.delete("/{name}", status_code=204)
def delete_schedule(name: str, schedules: SchedulesDep) -> Response:
    """Delete; the lanterns it held get their slot 15 released."""
    schedules.delete(name)
    return Response(status_code=204)


@router.get("/{name}/nights", response_model=list[NightOut])
def preview_nights(
    name: str,
    schedules: SchedulesDep,
    start: Annotated[date, Query(description="first night (the date it starts on)")],
    days: Annotated[int, Query(ge=1, le=62)] = 7,
) -> list[NightOut]:
    """Switching times at the centre of the schedule's lanterns, night by night."""
    out: list[NightOut] = []
    for n, night in enumerate(schedules.preview(name, start, days)):
        if night is None:
            out.append(
                NightOut(
                    date=start + timedelta(days=n),
                    plan=None,
                    switch_on=None,
                    switch_off=None,
                    steps=[],
                )
            )
            continue
        out.append(
            NightOut(
                date=night.day,
                plan=night.source,
                switch_on=night.on,
                switch_off=night.off,
                steps=[StepOut(start=s, brightness=b) for s, b in night.steps],
            )
        )
    return out
