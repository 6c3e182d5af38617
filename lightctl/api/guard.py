"""Everything the API needs to guard itself, built from settings: sign-in, rate limits, the audit
trail, four-eyes approvals and the alert-outcome recorder."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from lightctl.api.addresses import AddressResolver, parse_networks
from lightctl.api.ratelimit import FailureBackoff, RateLimiter
from lightctl.domain.clock import Clock, utc_now
from lightctl.domain.roles import Principal
from lightctl.services.access.auth import AuthService
from lightctl.services.alerts.approvals import ApprovalService
from lightctl.services.alerts.outcomes import OutcomeRecorder
from lightctl.services.alerts.service import AlertService
from lightctl.services.audit import AuditTrail
from lightctl.settings import Settings
from lightctl.store import Database
from lightctl.store.auth import DatabaseFailures
from lightctl.store.ratelimits import DatabaseBuckets

# Failed attempts, counted only as failures and never held against a good credential (issue 13):
# - one unknown token presented again: a client left with a revoked token retries it, 3 times
#   free, then 1 s, 2 s, ... at most 5 min apart;
# - bad tokens from one real address: a scan is told 429 after 20 (its requests stay cheap
#   index lookups; a valid token from the same address still passes);
# - wrong passwords for one account from one address: 5 free, then 1 s doubling to 15 min, so
#   ten wrong guesses cost the guesser ~30 s and the next ten ~4 h; the same account signs in
#   from any other address at once;
# - wrong passwords from one address over all accounts (spraying): 10 free, then the same.
# A key with no failure for 15 min (and no back-off left) starts clean.
TOKEN_FREE, TOKEN_BASE_S, TOKEN_MAX_S = 3, 1.0, 300.0
ADDRESS_FREE, ADDRESS_BASE_S, ADDRESS_MAX_S = 20, 1.0, 300.0
LOGIN_FREE, LOGIN_BASE_S, LOGIN_MAX_S = 5, 1.0, 900.0
LOGIN_ADDRESS_FREE = 10
FORGET_S = 900.0


class Guard:
    """Constructor only assigns; ``start`` runs the outcome recorder."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        alerts: Callable[[], AlertService | None],
        on_released: Callable[[], None],
        clock: Clock = utc_now,
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
        self.addresses = AddressResolver(parse_networks(settings.trusted_proxies))
        # Replicas on one PostgreSQL share every limit (wall-clock times in two tables), so N
        # replicas allow what one does; SQLite serves one process, whose memory is enough.
        shared = None if db.is_sqlite else DatabaseFailures(db)
        buckets = None if db.is_sqlite else DatabaseBuckets(db)
        wall = time.monotonic if shared is None else time.time
        per_min = settings.login_attempts_per_min
        # Sign-ins per address, right or wrong: each costs a password hash (scrypt, ~50 ms).
        self.login_limiter = RateLimiter(per_min, per_min / 60, "sign-in attempts", wall, buckets)
        self.token_failures = FailureBackoff(
            "requests with this unknown token",
            TOKEN_FREE,
            TOKEN_BASE_S,
            TOKEN_MAX_S,
            FORGET_S,
            wall,
            shared,
        )
        self.address_failures = FailureBackoff(
            "requests with bad credentials from this address",
            ADDRESS_FREE,
            ADDRESS_BASE_S,
            ADDRESS_MAX_S,
            FORGET_S,
            wall,
            shared,
        )
        self.login_failures = FailureBackoff(
            "failed sign-ins", LOGIN_FREE, LOGIN_BASE_S, LOGIN_MAX_S, FORGET_S, wall, shared
        )
        self.login_address_failures = FailureBackoff(
            "failed sign-ins from this address",
            LOGIN_ADDRESS_FREE,
            LOGIN_BASE_S,
            LOGIN_MAX_S,
            FORGET_S,
            wall,
            shared,
        )
        self.request_limiter = RateLimiter(
            settings.request_burst, settings.requests_per_s, "requests", wall, buckets
        )
        anonymous = settings.anonymous_requests_per_min
        self.anonymous_limiter = RateLimiter(
            anonymous,
            anonymous / 60,
            "requests without credentials from this address",
            wall,
            buckets,
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
