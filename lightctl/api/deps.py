"""Dependencies as Annotated aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lightctl.errors import ServiceUnavailable
from lightctl.runtime import Runtime
from lightctl.services.alerts import AlertService


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_alerts(request: Request) -> AlertService:
    service = get_runtime(request).alerts
    if service is None:
        raise ServiceUnavailable("the service is still starting")
    return service


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
AlertsDep = Annotated[AlertService, Depends(get_alerts)]
