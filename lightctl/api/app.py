"""The FastAPI application, built from injected settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lightctl import __version__
from lightctl.api import problems
from lightctl.api.routes import alerts, groups, inventory, system, targets, templates
from lightctl.runtime import Runtime
from lightctl.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(
        title="lightctl",
        version=__version__,
        description="Warn streets and squares through smart street lanterns.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    problems.install(app)
    app.include_router(system.router)  # /healthz at the root for probes
    for router in (
        system.router,
        alerts.router,
        inventory.router,
        targets.router,
        groups.router,
        templates.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    return app
