"""The console on the 3,533-lantern demo fleet: readable at the default zoom (clusters that keep
the worst state in sight) and smooth while a city-wide exercise plays (no main-thread task over
100 ms, measured with the Long Tasks API and printed).

Wall-clock timing on a host whose two cores are shared measures that load too; the console is
built to keep each task far below the limit (the lanterns are drawn by a worker on an
OffscreenCanvas, the counts and the map follow the stream four times a second at most), and the
test polls its conditions on a timer, not every animation frame, so it adds no frames itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from firmware_sim import Fleet
from firmware_sim.faults import Faults
from lightctl.paths import DEMO_LANTERNS, DEMO_STREETS
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from tests.e2e.conftest import Shots
from tests.integration.conftest import FleetThread, LiveService, simulated_fleet
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LONG_TASK_LIMIT_MS = 100  # the limit for every main-thread task
POLL_MS = 500  # the test's own checks: on a timer, never per animation frame

OBSERVE = """() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({at: e.startTime, ms: e.duration});
  }).observe({type: 'longtask', buffered: false});
}"""


@pytest.fixture
def inventory(database: Database) -> Database:
    """The demo's own inventory: 3,406 street segments and 3,533 lanterns of Zürich."""
    database.create_all()
    import_streets(database, DEMO_STREETS)
    import_lanterns(database, DEMO_LANTERNS)
    return database


@pytest.fixture
def fleet_thread(mosquitto: MosquittoProcess, topic_root: str) -> Iterator[FleetThread]:
    """Every demo lantern simulated, 500 per connection as the demo's gateways."""
    sim = simulated_fleet(
        mosquitto.url, topic_root, inventory=DEMO_LANTERNS, speed=20, per_connection=500
    )
    sim.start()
    yield sim
    sim.stop()


def _clusters(page: Any) -> list[dict[str, Any]]:
    page.wait_for_function("() => window.lightctl.map.dots.drawn > 0", polling=POLL_MS)
    return list(page.evaluate("() => window.lightctl.map.dots.clusters"))


# 3,533 simulated lanterns and the service share this process: the exercise took over 300 s
# (pytest's default limit here) at a load average of 10-17 on the shared two cores.
@pytest.mark.timeout(1200)
def test_demo_fleet_reads_at_the_default_zoom_and_a_city_wide_exercise_runs_smoothly(
    open_console: Callable[..., Any], service: LiveService, fleet_thread: FleetThread, shots: Shots
) -> None:
    fleet: Fleet = fleet_thread.fleet
    everyone = sorted(fleet.lantern_ids)
    assert len(everyone) == 3533
    # A speaker the operator broke: its lantern must stay visible as failed when zoomed out.
    broken = everyone[len(everyone) // 2]
    fleet_thread.loop.call_soon_threadsafe(
        fleet.set_faults, broken, Faults(broken=frozenset({"speaker"}))
    )
    page = open_console("dispatcher")
    zoom = page.evaluate("() => window.lightctl.map.map.getZoom()")
    clusters = _clusters(page)
    # Zoomed out, the dots merge: far fewer discs than lanterns, every lantern in one of them.
    in_view = page.evaluate(
        """() => { const m = window.lightctl.map; const b = m.map.getBounds().pad(0.1);
          return [...m.live.values()].filter(l => b.contains([l.lat, l.lon])).length; }"""
    )
    print(f"\ndefault zoom {zoom}: {len(clusters)} clusters for {in_view} lanterns in view")
    assert zoom < 16
    assert 20 < len(clusters) < in_view / 5
    assert sum(c["n"] for c in clusters) >= in_view * 0.95
    shots.take(page, "default-zoom")

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
    page.locator(f"#running-list li[data-alert='{alert_id}'] button[data-action=show]").click()
    page.wait_for_function(
        "id => window.lightctl.dispatcher.alert?.id === id", arg=alert_id, polling=POLL_MS
    )
    page.wait_for_function(
        """n => ['done', 'failed', 'unreachable'].reduce(
             (s, k) => s + Number(document.querySelector('#count-' + k).textContent), 0) === n""",
        arg=len(everyone),
        polling=POLL_MS,
        timeout=600_000,
    )
    page.wait_for_function(
        "n => window.lightctl.map.shownCounts().done === n - 1", arg=len(everyone), polling=POLL_MS
    )
    tasks = page.evaluate("() => window.__longTasks")
    longest = max((t["ms"] for t in tasks), default=0.0)
    total = sum(t["ms"] for t in tasks)
    print(
        f"long tasks while {len(everyone)} lanterns played: {len(tasks)}, {total:.0f} ms in all, "
        f"longest {longest:.0f} ms (limit {LONG_TASK_LIMIT_MS} ms)"
    )
    shots.take(page, "city-wide")

    # The failed lantern's cluster shows the worst state, zoomed out...
    page.wait_for_function(
        "() => window.lightctl.map.dots.clusters.some(c => c.worst === 'failed')", polling=POLL_MS
    )
    worst = [
        c
        for c in page.evaluate("() => window.lightctl.map.dots.clusters")
        if c["counts"].get("failed")
    ]
    assert [c["worst"] for c in worst] == ["failed"]
    # ...and zoomed in, every lantern has its own colour again: no clusters, the one in red.
    page.evaluate(
        """id => { const m = window.lightctl.map; const l = m.live.get(id);
          m.map.setView([l.lat, l.lon], 17.5, {animate: false}); }""",
        broken,
    )
    page.wait_for_function("() => window.lightctl.map.dots.clusters.length === 0", polling=POLL_MS)
    assert page.evaluate("id => window.lightctl.map.markers.get(id).shown", broken) == "failed"
    shots.take(page, "zoomed-in")
    assert longest <= LONG_TASK_LIMIT_MS, tasks
