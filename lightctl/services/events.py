"""Tells live viewers (SSE, console) that an alert's delivery counts changed."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class AlertEvents:
    """A version number per alert; waiters wake when it moves. Safe to notify from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._changed = asyncio.Condition()

    def notify(self, alert_ids: set[str]) -> None:
        self._loop.call_soon_threadsafe(self._bump, set(alert_ids))

    def _bump(self, alert_ids: set[str]) -> None:
        for alert_id in alert_ids:
            self._versions[alert_id] += 1
        self._loop.create_task(self._wake_all())

    async def _wake_all(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def version(self, alert_id: str) -> int:
        return self._versions[alert_id]

    async def wait(self, alert_id: str, seen: int, timeout_s: float) -> int:
        """Wait until the alert's version passes ``seen`` or the timeout ends; returns it."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._versions[alert_id] != seen), timeout_s
                )
            except TimeoutError:
                pass
        return self._versions[alert_id]
