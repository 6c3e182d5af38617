"""In-memory token buckets per key (user, token, address): enough for one replica's fairness."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lightctl.errors import RateLimited

# Past this many keys, buckets that have refilled completely are forgotten (they hold no debt).
_MAX_KEYS = 10_000


class RateLimiter:
    """``capacity`` requests at once, refilled at ``per_s``; ``take`` raises RateLimited."""

    def __init__(
        self,
        capacity: float,
        per_s: float,
        what: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.per_s = per_s
        self.what = what
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.per_s)

    def take(self, key: str, cost: float = 1.0) -> None:
        with self._lock:
            now = self._clock()
            tokens = self._level(key, now)
            if tokens < cost:
                wait = (cost - tokens) / self.per_s
                raise RateLimited(f"too many {self.what}; retry in {wait:.0f} s", wait)
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > _MAX_KEYS:
                self._prune(now)

    def check(self, key: str) -> None:
        """Refuse when the bucket is empty, without spending from it."""
        with self._lock:
            tokens = self._level(key, self._clock())
        if tokens < 1.0:
            wait = (1.0 - tokens) / self.per_s
            raise RateLimited(f"too many {self.what}; retry in {wait:.0f} s", wait)

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]
