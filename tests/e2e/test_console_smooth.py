"""The console stays smooth while a warning to every lantern plays: the main thread's long tasks
(Long Tasks API) are printed against the 100 ms target; the test fails at 250 ms.

The target is a wall-clock figure, and this machine's two cores are shared: under a load average of
6-10 the same code measured 94-182 ms. So the test fails only where no shared-machine noise
explains it (the console before this work measured 832 ms); the printed figure is the one to read.

Runs on the test fleet (148 fixture lanterns, all simulated), not yet on the 3,533-lantern demo
fleet. Wall-clock timing: on a host whose cores are shared by other work it measures that load
too (see README, console)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import wait_text
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LONG_TASK_TARGET_MS = 100
LONG_TASK_LIMIT_MS = 250

OBSERVE = """() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({at: e.startTime, ms: e.duration});
  }).observe({type: 'longtask', buffered: false});
}"""


def test_no_long_task_while_a_city_wide_exercise_plays(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    page = open_console("dispatcher")
    everyone = sorted(fleet.lantern_ids)
    # Zoomed out (city scale), the dots merge into discs, every lantern in view in one of them...
    page.wait_for_function("() => window.lightctl.map.dots.drawn > 0", polling=500)
    page.evaluate("() => window.lightctl.map.map.setZoom(14.5, {animate: false})")
    page.wait_for_function("() => window.lightctl.map.dots.clusters.length > 0", polling=500)
    clusters = page.evaluate("() => window.lightctl.map.dots.clusters")
    in_view = page.evaluate(
        """() => { const m = window.lightctl.map; const b = m.map.getBounds().pad(0.1);
          return [...m.live.values()].filter(l => b.contains([l.lat, l.lon])).length; }"""
    )
    print(f"\n{len(clusters)} clusters for {in_view} lanterns in view at zoom 14.5")
    assert 0 < len(clusters) < in_view
    assert sum(c["n"] for c in clusters) >= in_view * 0.95
    page.evaluate(OBSERVE)
    sent = service.http.post(
        "/alerts",
        json={
            "target": {"lanterns": everyone, "confirm_large": True},
            "template": "fire_smoke",
            "exercise": True,
        },
    )
    assert sent.status_code == 201, sent.text
    alert_id = sent.json()["id"]
    row = page.locator(f"#running-list li[data-alert='{alert_id}'] button[data-action=show]")
    row.click()
    page.wait_for_function(
        "id => window.lightctl.dispatcher.alert && window.lightctl.dispatcher.alert.id === id",
        arg=alert_id,
    )
    wait_text(page, "#count-done", str(len(everyone)))
    page.wait_for_function(
        "n => window.lightctl.map.shownCounts().done === n", arg=len(everyone), polling=500
    )
    tasks = page.evaluate("() => window.__longTasks")
    longest = max((t["ms"] for t in tasks), default=0.0)
    total = sum(t["ms"] for t in tasks)
    print(
        f"\nlong tasks while {len(everyone)} lanterns played: {len(tasks)}, "
        f"{total:.0f} ms in all, longest {longest:.0f} ms (target {LONG_TASK_TARGET_MS} ms)"
    )
    shots.take(page, "city-wide")
    # ...and zoomed in, every lantern has its own dot and colour again.
    page.evaluate(
        """id => { const m = window.lightctl.map; const l = m.live.get(id);
          m.map.setView([l.lat, l.lon], 17.5, {animate: false}); }""",
        everyone[0],
    )
    page.wait_for_function("() => window.lightctl.map.dots.clusters.length === 0", polling=500)
    assert page.evaluate("id => window.lightctl.map.markers.get(id).shown", everyone[0]) == "done"
    assert longest <= LONG_TASK_LIMIT_MS, tasks
