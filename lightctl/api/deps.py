"""Dependencies as Annotated aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lightctl.errors import ServiceUnavailable
from lightctl.runtime import Runtime
from lightctl.services.alerts.service import AlertService
from lightctl.services.groups import GroupService
from lightctl.services.schedules.service import ScheduleService
from lightctl.services.steering.service import SteeringService
from lightctl.services.targets import TargetResolver


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_alerts(request: Request) -> AlertService:
    service = get_runtime(request).alerts
    if service is None:
        raise ServiceUnavailable("the service is still starting")
    return service


def get_targets(request: Request) -> TargetResolver:
    return get_runtime(request).targets


def get_groups(request: Request) -> GroupService:
    return get_runtime(request).groups


def get_steering(request: Request) -> SteeringService:
    service = get_runtime(request).steering
    if service is None:
        raise ServiceUnavailable("the service is still starting")
    return service


def get_schedules(request: Request) -> ScheduleService:
    service = get_runtime(request).schedules
    if service is None:
        raise ServiceUnavailable("the service is still starting")
    return service


# An offset past a 64-bit integer overflows the database driver (a 500, found by the schema
# fuzzer); no list is ever a billion rows long.
MAX_OFFSET = 10**9

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
AlertsDep = Annotated[AlertService, Depends(get_alerts)]
TargetsDep = Annotated[TargetResolver, Depends(get_targets)]
GroupsDep = Annotated[GroupService, Depends(get_groups)]
SteeringDep = Annotated[SteeringService, Depends(get_steering)]
SchedulesDep = Annotated[ScheduleService, Depends(get_schedules)]
