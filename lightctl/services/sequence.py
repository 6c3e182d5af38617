"""The issuer's rising command sequence number (lanterns refuse a seq they have seen)."""

from __future__ import annotations

import threading
import time


class SequenceCounter:
    """Microseconds since the epoch, never repeating, never lower than what was stored."""

    def __init__(self, start_after: int) -> None:
        self._last = start_after
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last
