"""Tells live viewers (SSE, console) that an alert's delivery counts changed.

Each waiter owns one future, resolved by the loop when its alert's version moves; nothing is
locked. The former design shared one ``asyncio.Condition`` and waited on it inside
``asyncio.wait_for``: the lock was taken by the viewer's task but released and re-taken by the
task ``wait_for`` wraps, so when several viewers dropped together (each cancelled again and again
by its cancel scope) a viewer could leave its ``async with`` while its inner task still queued for
the lock. It then released a lock nobody held (``RuntimeError: Lock is not acquired``) and the
inner task took it for good: every later stream blocked on it after its first event, and shut-down
waited for those streams forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict


class AlertEvents:
    """A version number per alert; waiters wake when it moves. Safe to notify from any thread.

    ``close`` (shut-down) wakes every waiter and makes ``closed`` true, so streams end instead of
    holding the server open."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self, alert_ids: set[str]) -> None:
        if self._loop.is_closed():
            return  # a late ack after shut-down: nobody is left to tell
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and here
            self._loop.call_soon_threadsafe(self._bump, set(alert_ids))

    def close(self) -> None:
        """End every wait now and every later one at once (call on the loop's thread)."""
        self._closed = True
        for alert_id in list(self._waiters):
            self._wake(alert_id)

    def _bump(self, alert_ids: set[str]) -> None:
        for alert_id in alert_ids:
            self._versions[alert_id] += 1
            self._wake(alert_id)

    def _wake(self, alert_id: str) -> None:
        for future in self._waiters.pop(alert_id, ()):
            if not future.done():
                future.set_result(None)

    def version(self, alert_id: str) -> int:
        return self._versions[alert_id]

    async def wait(self, alert_id: str, seen: int, timeout_s: float) -> int:
        """Wait until the alert's version passes ``seen``, the timeout ends or ``close`` is
        called; returns the version. Cancelling the caller leaves nothing behind."""
        if self._versions[alert_id] != seen or self._closed:
            return self._versions[alert_id]
        future: asyncio.Future[None] = self._loop.create_future()
        waiters = self._waiters[alert_id]
        waiters.add(future)
        try:
            # ``asyncio.wait`` never cancels the future and runs no task of its own: a
            # cancellation of the caller arrives here, once, and the finally cleans up.
            await asyncio.wait({future}, timeout=timeout_s)
        finally:
            future.cancel()
            current = self._waiters.get(alert_id)
            if current is not None:
                current.discard(future)
                if not current:
                    del self._waiters[alert_id]
        return self._versions[alert_id]

    def waiting(self) -> int:
        """How many waits are open (a leak check for tests and metrics)."""
        return sum(len(w) for w in self._waiters.values())
