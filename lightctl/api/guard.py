"""Everything the API needs to guard itself, built from settings: sign-in, rate limits, the audit
trail, four-eyes approvals and the alert-outcome recorder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from lightctl.api.ratelimit import RateLimiter
from lightctl.domain.roles import Principal
from lightctl.services.alerts import AlertService
from lightctl.services.approvals import ApprovalService
from lightctl.services.audit import AuditTrail
from lightctl.services.auth import AuthService
from lightctl.services.outcomes import OutcomeRecorder
from lightctl.settings import Settings
from lightctl.store import Database

# Requests with bad credentials per address: a mistyped token is retried a few times, a scan of
# token space is stopped after 20 tries and then gets one try every 3 s.
BAD_CREDENTIALS_BURST = 20
BAD_CREDENTIALS_PER_S = 1 / 3


def utc_now() -> datetime:
    return datetime.now(UTC)


class Guard:
    """Constructor only assigns; ``start`` runs the outcome recorder."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        alerts: Callable[[], AlertService | None],
        on_released: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        bootstrap = settings.bootstrap_token
        self.auth = AuthService(
            db,
            clock,
            settings.session_ttl_s,
            bootstrap.get_secret_value() if bootstrap else None,
            session_idle_s=settings.session_idle_s,
        )
        self.audit = AuditTrail(db, clock)
        self.approvals = ApprovalService(db, clock, on_released)
        self.outcomes = OutcomeRecorder(alerts, self.audit)
        per_min = settings.login_attempts_per_min
        self.login_limiter = RateLimiter(per_min, per_min / 60, "sign-in attempts")
        self.failure_limiter = RateLimiter(
            BAD_CREDENTIALS_BURST, BAD_CREDENTIALS_PER_S, "requests with bad credentials"
        )
        self.request_limiter = RateLimiter(
            settings.request_burst, settings.requests_per_s, "requests"
        )
        self._task: asyncio.Task[None] | None = None

    def four_eyes(self, principal: Principal) -> bool:
        """True when any role of the caller is under the four-eyes rule: a held role stays held
        whatever roles are added to it (dispatcher + viewer is held)."""
        return principal.held_by(frozenset(self.settings.four_eyes_roles))

    async def start(self) -> None:
        self._task = asyncio.create_task(self.outcomes.run(), name="audit-outcomes")

    async def stop(self) -> None:
        self.outcomes.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
