"""The FastAPI application, built from injected settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from lightctl import __version__
from lightctl.api import problems
from lightctl.api.auth import authorize, document_security
from lightctl.api.guard import Guard
from lightctl.api.middleware import SecurityMiddleware
from lightctl.api.routes import (
    alerts,
    cap,
    console,
    coverage,
    groups,
    guidance,
    inventory,
    schedules,
    simulator,
    steering,
    system,
    targets,
    templates,
)
from lightctl.api.routes import audit as audit_routes
from lightctl.api.routes import auth as auth_routes
from lightctl.api.routes import metrics as metrics_routes
from lightctl.paths import WEB_DIR
from lightctl.runtime import Runtime
from lightctl.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or Runtime(settings)

    def wake_outbox() -> None:
        if rt.outbox is not None:
            rt.outbox.wake()

    guard = Guard(settings, rt.db, lambda: rt.alerts, wake_outbox, clock=rt.clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        await guard.start()
        await cap.start_feeds(_app)
        try:
            yield
        finally:
            await cap.stop_feeds(_app)
            await guard.stop()
            await rt.stop()

    app = FastAPI(
        title="lightctl",
        version=__version__,
        description="Warn streets and squares through smart street lanterns.",
        lifespan=lifespan,
        # Every route, also those added later, passes the one permission table (api/permissions).
        dependencies=[Depends(authorize)],
    )
    app.state.runtime = rt
    app.state.guard = guard
    app.add_middleware(
        SecurityMiddleware,
        max_body_bytes=settings.max_body_bytes,
        audit=guard.audit,
        addresses=guard.addresses,
        anonymous=guard.anonymous_limiter,
    )
    problems.install(app)
    console.install(app)
    app.include_router(system.router)  # /healthz at the root for probes
    for router in (
        system.router,
        alerts.router,
        cap.router,
        console.router,  # before inventory: /lanterns/live must not be read as /lanterns/{id}
        inventory.router,
        targets.router,
        coverage.router,
        guidance.router,
        groups.router,
        templates.router,
        steering.router,
        schedules.router,
        auth_routes.router,
        audit_routes.router,
        metrics_routes.router,
        simulator.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    # Last: the console's files answer every path no route above claims.
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="console")
    document_security(app)
    return app
