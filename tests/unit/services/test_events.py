"""AlertEvents: waiters wake on a change, leave nothing behind when cancelled, end on close."""

from __future__ import annotations

import asyncio

from lightctl.services.events import AlertEvents


async def _cancel_repeatedly(task: asyncio.Task[int], times: int) -> None:
    """Cancel as a cancel scope does: again on every loop turn until the task is done."""
    for _ in range(times):
        if task.done():
            return
        task.cancel()
        await asyncio.sleep(0)


async def _turns(count: int) -> None:
    """Let the event loop run ``count`` turns (no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


def test_a_change_wakes_every_waiter_of_that_alert_only() -> None:
    async def scenario() -> None:
        events = AlertEvents(asyncio.get_running_loop())
        woken = [asyncio.create_task(events.wait("a", 0, 30)) for _ in range(5)]
        other = asyncio.create_task(events.wait("b", 0, 30))
        await asyncio.sleep(0)
        events.notify({"a"})
        assert await asyncio.gather(*woken) == [1] * 5
        assert not other.done()
        events.close()
        assert await other == 0

    asyncio.run(scenario())


def test_viewers_cancelled_together_twice_leave_later_waiters_working() -> None:
    """The exact order that wedged the former Condition-based design: two viewers cancelled
    together, and again one loop turn later (as a cancel scope re-delivers) while their inner
    waits queue to re-take the lock."""

    async def scenario() -> None:
        events = AlertEvents(asyncio.get_running_loop())
        viewers = [asyncio.create_task(events.wait("a", 0, 30)) for _ in range(2)]
        await _turns(5)  # both are waiting (the old design needed two turns for its inner task)
        for task in viewers:
            task.cancel()
        await asyncio.sleep(0)
        for task in viewers:
            task.cancel()
        results = await asyncio.gather(*viewers, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), results
        later = asyncio.create_task(events.wait("a", 0, 30))
        await _turns(5)
        events.notify({"a"})
        assert await asyncio.wait_for(later, 2) == 1

    asyncio.run(scenario())


def test_viewers_cancelled_together_and_again_leave_later_waiters_working() -> None:
    async def scenario() -> None:
        events = AlertEvents(asyncio.get_running_loop())
        viewers = [asyncio.create_task(events.wait("a", 0, 30)) for _ in range(20)]
        await asyncio.sleep(0)
        await asyncio.gather(*(_cancel_repeatedly(t, 5) for t in viewers))
        await asyncio.gather(*viewers, return_exceptions=True)
        assert all(t.cancelled() for t in viewers)
        assert events.waiting() == 0  # nothing left behind
        later = asyncio.create_task(events.wait("a", 0, 30))
        await asyncio.sleep(0)
        events.notify({"a"})
        assert await asyncio.wait_for(later, 2) == 1

    asyncio.run(scenario())


def test_a_wait_times_out_with_the_version_unchanged_and_close_ends_later_waits() -> None:
    async def scenario() -> None:
        events = AlertEvents(asyncio.get_running_loop())
        assert await events.wait("a", 0, 0.01) == 0
        assert events.waiting() == 0
        events.close()
        assert events.closed
        assert await asyncio.wait_for(events.wait("a", 0, 30), 1) == 0

    asyncio.run(scenario())
