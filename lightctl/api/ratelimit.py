"""Limits per key: token buckets for request volume, back-off for failed attempts.

On PostgreSQL every bucket and every back-off is kept in the database, so replicas enforce one
limit together, not one each (store/ratelimits.py ``DatabaseBuckets``, store/auth.py
``DatabaseFailures``); SQLite serves one process, whose memory is the same thing there.
api/guard.py has the numbers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from lightctl.errors import RateLimited

# Past this many keys, buckets that have refilled completely are forgotten (they hold no debt).
_MAX_KEYS = 10_000
# Failures between two sweeps of keys that no longer hold anything back.
_PRUNE_EVERY = 1000


class BucketStore(Protocol):
    """Where a RateLimiter's buckets live when they are shared (store/ratelimits.py)."""

    def take(self, key: str, capacity: float, per_s: float, cost: float, now: float) -> float:
        """Spend ``cost``: the level left, or the negative shortfall (then nothing is spent)."""
        ...

    def level(self, key: str, capacity: float, per_s: float, now: float) -> float: ...

    def prune(self, before: float) -> None: ...


class RateLimiter:
    """``capacity`` requests at once, refilled at ``per_s``; ``take`` raises RateLimited.

    Buckets are in this process's memory unless a shared ``store`` is given (then ``clock``
    must be wall-clock time, which every replica reads alike)."""

    def __init__(
        self,
        capacity: float,
        per_s: float,
        what: str,
        clock: Callable[[], float] = time.monotonic,
        store: BucketStore | None = None,
    ) -> None:
        self.capacity = capacity
        self.per_s = per_s
        self.what = what
        self.clock = clock  # public: a test may stop it
        self.store = store
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()
        self._taken_since_prune = 0

    def _refused(self, shortfall: float) -> RateLimited:
        wait = shortfall / self.per_s
        return RateLimited(f"too many {self.what}; retry in {wait:.0f} s", wait)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.per_s)

    def take(self, key: str, cost: float = 1.0) -> None:
        if self.store is not None:
            now = self.clock()
            left = self.store.take(key, self.capacity, self.per_s, cost, now)
            if left < 0:
                raise self._refused(-left)
            self._taken_since_prune += 1
            if self._taken_since_prune >= _PRUNE_EVERY:
                self._taken_since_prune = 0
                # A bucket untouched this long has refilled: forgetting it changes nothing.
                self.store.prune(now - self.capacity / self.per_s)
            return
        with self._lock:
            now = self.clock()
            tokens = self._level(key, now)
            if tokens < cost:
                wait = (cost - tokens) / self.per_s
                raise RateLimited(f"too many {self.what}; retry in {wait:.0f} s", wait)
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > _MAX_KEYS:
                self._prune(now)

    def check(self, key: str) -> None:
        """Refuse when the bucket is empty, without spending from it."""
        if self.store is not None:
            tokens = self.store.level(key, self.capacity, self.per_s, self.clock())
        else:
            with self._lock:
                tokens = self._level(key, self.clock())
        if tokens < 1.0:
            wait = (1.0 - tokens) / self.per_s
            raise RateLimited(f"too many {self.what}; retry in {wait:.0f} s", wait)

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]


Entry = tuple[int, float, float]  # failures, last failure at, closed until


class FailureStore(Protocol):
    """Where a FailureBackoff keeps its counts: this replica's memory, or a shared table."""

    def load(self, key: str) -> Entry | None: ...

    def save(self, key: str, entry: Entry) -> None: ...

    def drop(self, key: str) -> None: ...

    def prune(self, before: float) -> None: ...


class MemoryFailures:
    """Counts in this process; bounded to ``_MAX_KEYS`` keys (the oldest are forgotten first)."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def load(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def save(self, key: str, entry: Entry) -> None:
        self._entries[key] = entry
        if len(self._entries) > _MAX_KEYS:
            oldest = sorted(self._entries, key=lambda k: self._entries[k][1])
            for stale in oldest[: len(self._entries) - _MAX_KEYS]:
                del self._entries[stale]

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def prune(self, before: float) -> None:
        for key in [
            k for k, (_n, last, until) in self._entries.items() if max(last, until) < before
        ]:
            del self._entries[key]


class FailureBackoff:
    """Failed attempts per key with exponential back-off; only failures count.

    The first ``free`` failures cost nothing (a person mistypes); each one after them closes the
    key for ``base_s``, then twice that, and so on up to ``max_s``. A key with no failure for
    ``forget_s`` starts clean again, and ``succeeded`` clears it at once. A key is a presented
    credential, an account at an address, or a real address: never something another caller's
    mistakes can fill up for a caller who presents a good credential. ``store`` is this
    process's memory unless a shared one is given (then ``clock`` must be wall-clock time).
    """

    def __init__(
        self,
        what: str,
        free: int,
        base_s: float,
        max_s: float,
        forget_s: float,
        clock: Callable[[], float] = time.monotonic,
        store: FailureStore | None = None,
    ) -> None:
        self.what = what
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.forget_s = forget_s
        self.clock = clock  # public: a test may stop it
        self.store: FailureStore = store or MemoryFailures()
        self._lock = threading.Lock()
        self._failed_since_prune = 0

    def _current(self, key: str, now: float) -> Entry:
        entry = self.store.load(key)
        if entry is None or now - entry[1] >= max(self.forget_s, entry[2] - entry[1]):
            return (0, now, now)
        return entry

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            now = self.clock()
            return max(0.0, self._current(key, now)[2] - now)

    def check(self, key: str) -> None:
        """RateLimited while ``key`` is backed off."""
        wait = self.wait_s(key)
        if wait > 0:
            raise RateLimited(f"too many {self.what}; retry in {max(1, round(wait))} s", wait)

    def failures(self, key: str) -> int:
        with self._lock:
            return self._current(key, self.clock())[0]

    def failed(self, key: str) -> float:
        """Count one failure; returns the back-off it starts (0 while still free)."""
        with self._lock:
            now = self.clock()
            count, _last, _until = self._current(key, now)
            count += 1
            over = count - self.free
            wait = 0.0 if over <= 0 else min(self.max_s, self.base_s * 2 ** min(over - 1, 30))
            self.store.save(key, (count, now, now + wait))
            self._failed_since_prune += 1
            if self._failed_since_prune >= _PRUNE_EVERY:
                self._failed_since_prune = 0
                self.store.prune(now - max(self.forget_s, self.max_s))
            return wait

    def succeeded(self, key: str) -> None:
        with self._lock:
            self.store.drop(key)
