"""The one clock: what time it is, as an aware UTC datetime, injected wherever time matters.

``Runtime`` owns one and hands it to every service, the outbox, the consumer and (as ``now``)
the store, so a test that moves a fake clock moves every stamp and deadline together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC: the default ``Clock`` outside tests."""
    return datetime.now(UTC)
