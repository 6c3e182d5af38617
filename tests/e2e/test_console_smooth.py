"""The console on the demo fleet (3,533 Zürich lanterns): readable at the default zoom (clusters
that keep the worst state in sight, each lantern's own colour zoomed in) and smooth while a
city-wide exercise plays: every main-thread task the Long Tasks API reports is printed, and the
test fails if one took over 100 ms.

One host stands in for three machines here: the dispatcher's computer (Chromium), the server
(the service, in this process) and 3,533 lanterns (firmware-sim, in a process of its own). The
server's threads and the simulator run at nice 10, so the browser is served first when they
compete for the CPU, as it would be on a computer of its own; other load on the host (another
test process, other jobs) competes with the browser at full weight and is measured too, so the
load average is printed beside the figures.

Made fast enough for CI (71 s on two cores at load average 8; up to 3 minutes at 15-20, most of
it the stack getting ready): the simulator plays 20 times faster than real
time; the lanterns hold the template's clips before the warning (the clip library, as
`lightctl demo` runs it, limited to the one template and the city's two languages) instead of
3,533 lanterns downloading them at once; the warning goes out once every lantern listens to its
fan-out groups. The test polls its own conditions on a timer, never per animation frame."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim import load_inventory
from lightctl.paths import DEMO_LANTERNS, DEMO_STREETS
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from tests.e2e.conftest import Shots
from tests.integration.conftest import LiveService, make_settings
from tests.support import MosquittoProcess, fixed_env, free_port, wait_for_port

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LONG_TASK_LIMIT_MS = 100  # the limit for every main-thread task
POLL_MS = 500  # the test's own checks in the page: on a timer, never per animation frame
SPEED = 20  # the simulated lanterns play 20x faster than real time
# The server and the lanterns stand in for other machines: they yield the CPU to the browser.
BACKGROUND_NICE = 10
# Bounds on the stack getting ready: seen 30-80 s for all three on a loaded two-core host.
READY_S = 180
WARNING_S = 180
# The clip library as the demo builds it, for the one template and the city's languages only.
LIBRARY = {
    "prerender_templates": True,
    "clip_library_templates": ("fire_smoke",),
    "clip_library_languages": ("de", "en"),
    "clip_library_quiet_s": 1.0,
    "clip_library_pace_s": 0.1,
}

OBSERVE = """() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({at: e.startTime, ms: e.duration});
  }).observe({type: 'longtask', buffered: false});
}"""
COUNTS = """() => Object.fromEntries(['received', 'playing', 'done', 'failed', 'unreachable']
  .map(k => [k, Number(document.querySelector('#count-' + k).textContent)]))"""


def _threads(pid: int) -> set[int]:
    return {int(tid) for tid in os.listdir(f"/proc/{pid}/task")}  # Linux


def _yield_cpu(pid: int, keep: AbstractSet[int] = frozenset()) -> int:
    """Lower the CPU priority of every thread of process ``pid`` but ``keep`` to
    BACKGROUND_NICE (threads they start later inherit it); returns how many."""
    lowered = 0
    for tid in _threads(pid) - keep:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
        except ProcessLookupError:  # a worker thread that just ended
            continue
        lowered += 1
    return lowered


class SimulatorProcess:
    """`firmware-sim` on the demo inventory in a process of its own (the test's process runs
    the service), with its control API for the console's fault injection."""

    def __init__(self, broker_url: str, topic_root: str, workdir: Path) -> None:
        self.lantern_ids = sorted(spec.id for spec in load_inventory(DEMO_LANTERNS))
        self.port = free_port()
        self.token = secrets.token_urlsafe(32)
        self.log = workdir / "firmware-sim.log"
        self.argv = [
            sys.executable,
            "-m",
            "firmware_sim",
            "--broker",
            broker_url,
            "--inventory",
            str(DEMO_LANTERNS),
            "--speed",
            str(SPEED),
            "--root",
            topic_root,
            "--control-port",
            str(self.port),
            "--log-level",
            "WARNING",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=fixed_env({**os.environ, "FIRMWARE_SIM_CONTROL_TOKEN": self.token}),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, 60)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def inventory(database: Database) -> Database:
    """The demo's own inventory: 3,406 street segments and 3,533 lanterns of Zürich."""
    database.create_all()
    import_streets(database, DEMO_STREETS)
    import_lanterns(database, DEMO_LANTERNS)
    return database


@pytest.fixture
def fleet(
    mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(mosquitto.url, topic_root, tmp_path)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def threads_before() -> set[int]:
    """This process's threads before the service started: they keep their priority."""
    return _threads(os.getpid())


@pytest.fixture
def service(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    fleet: SimulatorProcess,
    threads_before: set[int],
) -> Iterator[LiveService]:
    settings = make_settings(
        tmp_path,
        mosquitto.url,
        topic_root,
        simulator_control_url=f"http://127.0.0.1:{fleet.port}",
        simulator_control_token=fleet.token,
        **LIBRARY,
    )
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


READY = ("online", "groups", "clips")


def _wait_until_ready(
    service: LiveService,
    fleet: SimulatorProcess,
    started: float,
    needs: tuple[str, ...] = READY,
) -> dict[str, float]:
    """Until ``needs`` hold: every lantern online, listening to its fan-out groups, holding the
    template's clips; returns the seconds after ``started`` at which each was seen true."""
    n = len(fleet.lantern_ids)
    cursor: str | None = None
    online: dict[str, bool] = {}
    since: dict[str, float] = {}
    while True:
        feed = service.http.get("/lanterns/live", params={"since": cursor} if cursor else {}).json()
        col = {name: i for i, name in enumerate(feed["fields"])}
        for row in feed["lanterns"]:
            online[row[col["id"]]] = len(row) > col["online"] and row[col["online"]] == 1
        cursor = feed["cursor"]
        groups = service.runtime.fanout
        grouped = sum(1 for i in fleet.lantern_ids if groups.held(i))
        held = [m["complete"] for m in service.http.get("/clips/library").json()["manifests"]]
        done = {
            "online": sum(online.values()) == n,
            "groups": groups.ready and grouped == n,
            "clips": bool(held) and min(held) == n,
        }
        for name, ok in done.items():
            if ok:
                since.setdefault(name, time.monotonic() - started)
        if all(done[name] for name in needs):
            return since
        assert time.monotonic() - started < READY_S, (
            f"not ready after {READY_S} s: {sum(online.values())} online, {grouped} grouped, "
            f"library held by {held} of {n}"
        )
        time.sleep(0.5)


# To see what a long task did: LIGHTCTL_E2E_TRACE=/tmp/smooth.json records a Chromium trace
# (timeline and JS samples, for chrome://tracing or Perfetto) of the warning; it costs the
# page some time itself.
TRACE_CATEGORIES = (
    "devtools.timeline,disabled-by-default-devtools.timeline,v8.execute,"
    "disabled-by-default-v8.cpu_profiler"
)


def _start_trace(page: Any) -> Any:
    if not os.environ.get("LIGHTCTL_E2E_TRACE"):
        return None
    cdp = page.context.new_cdp_session(page)
    cdp.send("Tracing.start", {"categories": TRACE_CATEGORIES, "transferMode": "ReturnAsStream"})
    return cdp


def _save_trace(page: Any, cdp: Any) -> None:
    if cdp is None:
        return
    done: dict[str, Any] = {}
    cdp.on("Tracing.tracingComplete", lambda event: done.update(event))
    cdp.send("Tracing.end")
    while not done:
        page.wait_for_timeout(200)
    chunks = []
    while True:
        part = cdp.send("IO.read", {"handle": done["stream"]})
        chunks.append(part["data"])
        if part.get("eof"):
            break
    Path(os.environ["LIGHTCTL_E2E_TRACE"]).write_text("".join(chunks))


def _send_once(service: LiveService, body: dict[str, Any]) -> httpx.Response:
    """POST /alerts, once more with the same Idempotency-Key if the answer was lost (a kept-alive
    connection the server closed just then: seen once while the browser loaded the page)."""
    key = {"Idempotency-Key": f"smooth-{secrets.token_hex(8)}"}
    try:
        return service.http.post("/alerts", json=body, headers=key)
    except httpx.TransportError:
        return service.http.post("/alerts", json=body, headers=key)


def _clusters(page: Any) -> list[dict[str, Any]]:
    page.wait_for_function("() => window.lightctl.map.dots.drawn > 0", polling=POLL_MS)
    return list(page.evaluate("() => window.lightctl.map.dots.clusters"))


@pytest.mark.timeout(480)
def test_demo_fleet_reads_at_the_default_zoom_and_a_city_wide_exercise_runs_smoothly(
    open_console: Callable[..., Any],
    service: LiveService,
    fleet: SimulatorProcess,
    threads_before: set[int],
    shots: Shots,
) -> None:
    everyone = fleet.lantern_ids
    n = len(everyone)
    assert n == 3533
    started = time.monotonic()
    _wait_until_ready(service, fleet, started, needs=("online",))
    # A speaker the operator broke: its lantern must stay in sight, as failed, when zoomed out.
    broken = everyone[n // 2]
    injected = service.http.post(
        "/simulator/faults", json={"lanterns": [broken], "fault": "speaker_broken"}
    )
    assert injected.status_code == 200, injected.text
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
    # Meanwhile the lanterns fetched the template's clips and were given their groups.
    ready = _wait_until_ready(service, fleet, started)
    print(f"stack ready after {', '.join(f'{k} {v:.0f} s' for k, v in ready.items())}")

    # From here on the stand-ins for the server and for the lanterns yield the CPU to the
    # browser (they started at full priority, so that the stack is ready sooner).
    assert fleet.proc is not None
    lowered = _yield_cpu(fleet.proc.pid) + _yield_cpu(os.getpid(), keep=threads_before)
    trace = _start_trace(page)
    page.evaluate(OBSERVE)
    load_before = os.getloadavg()[0]
    sent_at = time.monotonic()
    sent = _send_once(
        service,
        {
            "target": {"lanterns": everyone, "confirm_large": True},
            "template": "fire_smoke",
            "languages": ["de", "en"],
            "exercise": True,
        },
    )
    assert sent.status_code in (200, 201), sent.text
    alert_id = sent.json()["id"]
    page.locator(f"#running-list li[data-alert='{alert_id}'] button[data-action=show]").click()
    page.wait_for_function(
        "id => window.lightctl.dispatcher.alert?.id === id", arg=alert_id, polling=POLL_MS
    )
    # The console keeps up with the lanterns: every one of them ends on the page.
    page.wait_for_function(
        f"n => Object.values(({COUNTS})()).slice(2).reduce((s, v) => s + v, 0) === n",
        arg=n,
        polling=POLL_MS,
        timeout=WARNING_S * 1000,
    )
    played_s = time.monotonic() - sent_at
    counts = page.evaluate(COUNTS)
    page.wait_for_function(
        "n => window.lightctl.map.shownCounts().done === n - 1", arg=n, polling=POLL_MS
    )
    tasks = page.evaluate("() => window.__longTasks")
    _save_trace(page, trace)
    longest = max((t["ms"] for t in tasks), default=0.0)
    print(
        f"city-wide exercise, {n} lanterns, all ended on the page {played_s:.0f} s after POST "
        f"({counts}); long tasks: {len(tasks)}, {sum(t['ms'] for t in tasks):.0f} ms in all, "
        f"longest {longest:.0f} ms (limit {LONG_TASK_LIMIT_MS} ms); load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {lowered} threads of the "
        f"stand-ins at nice {BACKGROUND_NICE}"
    )
    assert (counts["done"], counts["failed"]) == (n - 1, 1), counts
    # The summary says the count once ("3533 lanterns · 3533 lanterns" was a bug).
    summary = page.locator("#live-summary").inner_text()
    assert summary.count(f"{n} lanterns") == 1, summary
    # What a screen reader hears last is what the screen shows.
    page.wait_for_function(
        "want => document.querySelector('#live-announce').textContent.includes(want)",
        arg=f"{n - 1} of {n} done, 1 failed",
        polling=POLL_MS,
    )
    shots.take(page, "city-wide")

    # The failed lantern's cluster shows the worst state, zoomed out...
    page.wait_for_function(
        "() => window.lightctl.map.dots.clusters.some(c => c.worst === 'failed')", polling=POLL_MS
    )
    worst = [c for c in _clusters(page) if c["counts"].get("failed")]
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
