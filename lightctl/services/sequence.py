"""The issuer's rising command sequence number (lanterns refuse a seq they have seen)."""

from __future__ import annotations

import threading
import time


class SequenceCounter:
    """Microseconds since the epoch, never repeating, never lower than what was stored.

    Every counter of a process draws from one shared value: alerts, steering and the outbox's
    re-signing each hold a counter, and two of them handing out the same microsecond would let
    a lantern refuse the second command as a replay of the first.
    """

    _lock = threading.Lock()
    _last = 0

    def __init__(self, start_after: int) -> None:
        with SequenceCounter._lock:
            SequenceCounter._last = max(SequenceCounter._last, start_after)

    def next(self) -> int:
        with SequenceCounter._lock:
            SequenceCounter._last = max(SequenceCounter._last + 1, time.time_ns() // 1000)
            return SequenceCounter._last
