"""Evacuation guidance (issue 18): walking-graph build, one guidance solve and the headings of
10,000 lanterns, on the full Zürich street file of the demo and on a synthetic 100,000-node
street grid (targets on this machine: solve <= 50 ms at 100,000 nodes, headings for 10,000
lanterns <= 200 ms). Each figure is printed with a bare baseline measured in the same run:
scipy's Dijkstra alone on the same graph, and a bare STRtree nearest query for the snapping.

With ``--url`` (a running ``lightctl demo``, token in LIGHTCTL_TOKEN) it also measures end to
end on the demo fleet: an evacuation alert, then an edit of its hazard, timed from the POST of
the edit until every lantern acked the new arrows (target <= 2 s). With ``--mqtt-url`` (and the
service's broker password, the demo's ``<data-dir>/broker/service.password``) it also watches the
broker, so the time splits into where it goes: the update request, the outbox until the first
and the last copy of the new commands is published, the lanterns until the last ``applied`` ack
is on the broker, and the service until it has read them all.

    python benchmarks/guidance.py [--nodes 100000] [--lanterns 10000] [--repeat 7]
    python benchmarks/guidance.py --url http://127.0.0.1:8000 [--runs 3] \
        [--mqtt-url mqtt://127.0.0.1:1883 \
         --mqtt-password-file lightctl-data/demo/broker/service.password]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import shapely
from paho.mqtt.enums import CallbackAPIVersion
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from lightctl.geo.arrows import guide_lanterns
from lightctl.geo.evacuation import Hazard, solve
from lightctl.geo.records import StreetSegment
from lightctl.geo.snapping import Snapper
from lightctl.geo.walkgraph import WalkGraph, build_walk_graph
from lightctl.paths import DEMO_STREETS

FIRE = (8.5392, 47.3715)  # on Bahnhofstrasse
CENTRE = (8.54, 47.37)  # the synthetic grid's centre
M_PER_DEG_LAT = 111_132.0


class Took:
    """Median wall and CPU milliseconds of repeated runs (CPU time is what a loaded, shared
    machine distorts least: other processes stretch the wall time, not this one's CPU)."""

    def __init__(self, wall: list[float], cpu: list[float]) -> None:
        self.wall = statistics.median(wall)
        self.cpu = statistics.median(cpu)

    def __str__(self) -> str:
        return f"{self.wall:.1f} ms wall / {self.cpu:.1f} ms CPU"


def timed(step: Callable[[], Any], repeat: int) -> tuple[Took, Any]:
    """Median wall and CPU time of ``repeat`` runs, and the last result."""
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        started, cpu0 = time.perf_counter(), time.process_time()
        out = step()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu0) * 1000)
    return Took(wall, cpu), out


def zurich_segments() -> list[StreetSegment]:
    features = json.loads(DEMO_STREETS.read_text(encoding="utf-8"))["features"]
    return [
        StreetSegment(
            f["properties"]["id"],
            f["properties"].get("name"),
            f["properties"].get("class"),
            tuple((float(x), float(y)) for x, y in f["geometry"]["coordinates"]),
        )
        for f in features
        if f["geometry"]["type"] == "LineString"
    ]


def grid_segments(nodes: int, spacing_m: float = 40.0) -> list[StreetSegment]:
    """A square street grid of about ``nodes`` junctions, one segment per block side."""
    side = math.ceil(math.sqrt(nodes))
    m_lon = M_PER_DEG_LAT * math.cos(math.radians(CENTRE[1]))
    lon = CENTRE[0] + (np.arange(side) - side / 2) * spacing_m / m_lon
    lat = CENTRE[1] + (np.arange(side) - side / 2) * spacing_m / M_PER_DEG_LAT
    out: list[StreetSegment] = []
    for j in range(side):
        for i in range(side - 1):
            out.append(
                StreetSegment(
                    f"h{i}-{j}", None, "residential", ((lon[i], lat[j]), (lon[i + 1], lat[j]))
                )
            )
            out.append(
                StreetSegment(
                    f"v{j}-{i}", None, "footway", ((lon[j], lat[i]), (lon[j], lat[i + 1]))
                )
            )
    return out


def lanterns_on(
    graph: WalkGraph, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` lantern positions 6 m beside random edges (metric)."""
    edges = rng.integers(0, graph.edge_count, count)
    lengths = graph.along[graph.offsets[edges + 1] - 1]
    at = graph.points_at(edges, lengths * rng.random(count))
    angle = rng.random(count) * 2 * math.pi
    return at[:, 0] + 6 * np.cos(angle), at[:, 1] + 6 * np.sin(angle)


def bench(
    label: str,
    segments: list[StreetSegment],
    centre: tuple[float, float],
    radius_m: float,
    args: argparse.Namespace,
) -> None:
    started = time.perf_counter()
    graph = build_walk_graph(segments)
    build_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    snapper = Snapper(graph)
    snapper_ms = (time.perf_counter() - started) * 1000
    assert graph.projection is not None
    x, y = graph.projection.to_xy([centre[0]], [centre[1]])
    fire = shapely.Point(x[0], y[0])
    area = fire.buffer(radius_m * graph.scale, quad_segs=32)
    hazard = Hazard(
        area=area,
        core=fire.buffer(radius_m / 4 * graph.scale),
        safe_from=area.buffer(50 * graph.scale),
    )
    solve_ms, solution = timed(lambda: solve(graph, hazard), args.repeat)

    # Baseline: scipy's multi-source Dijkstra alone, on a matrix built beforehand.
    e = graph.pair_edges
    u, v, w = graph.edge_u[e], graph.edge_v[e], np.maximum(graph.edge_seconds[e], 1e-6)
    n = graph.node_count
    matrix = csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
    )
    sources = np.flatnonzero(solution.safe)
    bare_ms, _ = timed(
        lambda: dijkstra(
            matrix, directed=True, indices=sources, min_only=True, return_predecessors=True
        ),
        args.repeat,
    )
    rng = np.random.default_rng(18)
    xs, ys = lanterns_on(graph, args.lanterns, rng)

    def headings() -> Any:
        snap = snapper.snap(xs, ys, 30.0)
        return guide_lanterns(graph, solution, snap, hazard)

    head_ms, lg = timed(headings, args.repeat)
    points = shapely.points(np.column_stack([xs, ys]))
    tree = shapely.STRtree(graph.lines_of(np.arange(graph.edge_count)))
    bare_snap_ms, _ = timed(lambda: tree.query_nearest(points, max_distance=30.0), args.repeat)
    kinds: dict[str, int] = {}
    for k in lg.kind:
        kinds[k] = kinds.get(k, 0) + 1
    print(
        f"{label}: {len(segments):,} segments -> {graph.node_count:,} nodes, "
        f"{graph.edge_count:,} edges; build {build_ms:.0f} ms (+ snapper {snapper_ms:.0f} ms)"
    )
    print(
        f"  solve (hazard r={radius_m:.0f} m, {len(sources):,} safe nodes): {solve_ms} "
        f"(bare scipy dijkstra {bare_ms}, CPU ratio {solve_ms.cpu / bare_ms.cpu:.2f})"
    )
    print(
        f"  headings for {len(xs):,} lanterns: {head_ms} "
        f"(bare STRtree nearest {bare_snap_ms}, CPU ratio "
        f"{head_ms.cpu / bare_snap_ms.cpu:.2f}); {kinds}"
    )


class BrokerWatch:
    """Every command copy and ack on the broker, with the moment it passed (the service's own
    account reads everything under its root): where an edit's time goes, from outside."""

    def __init__(self, url: str, password_file: Path, root: str, user: str) -> None:
        host, port = url.removeprefix("mqtt://").rsplit(":", 1)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-guidance-{os.getpid()}"
        )
        self._client.username_pw_set(user, password_file.read_text(encoding="utf-8").strip())
        self._client.on_message = self._on_message
        self._root = root
        self._lock = threading.Lock()
        self.published: dict[str, list[float]] = {}  # cmd id -> when each copy passed
        self.acks: dict[tuple[str, str, str], float] = {}  # (cmd, lantern, status) -> first
        self._client.connect(host, int(port))
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_a: subscribed.set()
        self._client.subscribe(
            [
                (f"{root}/v1/lanterns/+/cmd", 0),
                (f"{root}/v2/groups/+/+/cmd", 0),
                (f"{root}/v1/lanterns/+/ack", 0),
                (f"{root}/v2/gateways/+/acks", 0),
            ]
        )
        self._client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit(f"no subscription on {url}")

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        at = time.monotonic()
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        with self._lock:
            if message.topic.endswith("/cmd"):
                self.published.setdefault(str(body.get("id")), []).append(at)
                return
            for ack in body.get("acks", [body]) if isinstance(body, dict) else []:
                key = (str(ack.get("cmd_id")), str(ack.get("lantern")), str(ack.get("status")))
                self.acks.setdefault(key, at)

    def split(self, commands: set[str], started: float) -> str:
        """Seconds after ``started``: first and last copy of ``commands`` on the broker, and
        the last lantern's ``applied`` for them."""
        with self._lock:
            sent = [t for c in commands for t in self.published.get(c, [])]
            applied = [t for (c, _l, s), t in self.acks.items() if c in commands and s == "applied"]
        if not sent or not applied:
            return "broker: saw no copies or acks of the new commands"
        return (
            f"broker: first copy {min(sent) - started:.2f} s, last copy {max(sent) - started:.2f} "
            f"s ({len(sent)} copies), last applied ack {max(applied) - started:.2f} s "
            f"({len(applied)} acks)"
        )

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def end_to_end(url: str, runs: int, watch: BrokerWatch | None) -> int:
    """The same edit of the same alert without and with evacuation: the plain one is the
    baseline (what an edit of a warning costs on this machine and fleet anyway)."""
    token = os.environ.get("LIGHTCTL_TOKEN")
    if not token:
        print("set LIGHTCTL_TOKEN to the dispatcher token the demo printed", file=sys.stderr)
        return 2
    client = httpx.Client(
        base_url=f"{url.rstrip('/')}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    plains: list[float] = []
    guideds: list[float] = []
    for run in range(runs):
        print(f"run {run + 1}: load average {_load()} on {os.cpu_count()} cores")
        plain = edit_once(client, None, ("light", "projection"), watch)
        guided = edit_once(client, {"buffer_m": 30}, ("projection", "path"), watch)
        if plain is None or guided is None:
            return 1
        plains.append(plain)
        guideds.append(guided)
    print(
        f"edit -> applied over {runs} run(s): evacuation {_spread(guideds)}, plain warning "
        f"{_spread(plains)}; load average after {_load()}"
    )
    return 0


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"median {statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def edit_once(
    client: httpx.Client,
    evacuation: dict[str, Any] | None,
    channels: tuple[str, ...],
    watch: BrokerWatch | None = None,
) -> float | None:
    circle = {"lon": FIRE[0], "lat": FIRE[1], "radius_m": 150}
    body: dict[str, Any] = {
        "target": {"circle": circle},
        "messages": {"de": "Brand an der Bahnhofstrasse.", "en": "Fire on Bahnhofstrasse."},
        "expires_in_s": 300,
        "exercise": True,
    }
    if evacuation is not None:
        body["evacuation"] = evacuation
    label = "evacuation" if evacuation is not None else "plain warning"
    started = time.monotonic()
    response = client.post("/alerts", json=body)
    if response.status_code != 201:
        print(f"refused: {response.status_code} {response.text}", file=sys.stderr)
        return None
    alert = response.json()
    took = time.monotonic() - started
    counts = (alert["guidance"] or {}).get("counts")
    print(f"{label}: {alert['lantern_count']} lanterns {counts or ''}, POST {took:.2f} s")
    wait_applied(client, alert["id"], channels, "first commands")
    before = {c["id"] for c in alert["commands"]}
    grown = {"circle": {**circle, "lon": FIRE[0] + 0.0003, "radius_m": 180}}
    started = time.monotonic()
    response = client.post(f"/alerts/{alert['id']}/update", json={"target": grown})
    post_s = time.monotonic() - started
    if response.status_code != 200:
        print(f"update refused: {response.status_code} {response.text}", file=sys.stderr)
        return None
    new = {
        c["id"]
        for c in response.json()["commands"]
        if c["op"] == "set" and c["channel"] in channels and c["id"] not in before
    }
    took = wait_applied(client, alert["id"], channels, "edited commands", started)
    split = f"; {watch.split(new, started)}" if watch is not None else ""
    print(
        f"{label}: edit -> every {'/'.join(channels)} command acked applied: {took:.2f} s "
        f"(POST {post_s:.2f} s{split})"
    )
    client.post(f"/alerts/{alert['id']}/cancel")
    return took


def wait_applied(
    client: httpx.Client,
    alert_id: str,
    channels: tuple[str, ...],
    what: str,
    started: float | None = None,
) -> float:
    started = started or time.monotonic()
    while True:
        body = client.get(f"/alerts/{alert_id}").json()
        live = [c for c in body["commands"] if c["op"] == "set" and c["channel"] in channels]
        pending = sum(
            n
            for c in live
            for state, n in c["counts"].items()
            if state in ("planned", "published", "received")
        )
        if live and pending == 0:
            return time.monotonic() - started
        if time.monotonic() - started > 120:
            raise SystemExit(f"{what}: still {pending} pending after 120 s")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--lanterns", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--url", default=None, help="a running demo: measure edit -> applied")
    parser.add_argument("--runs", type=int, default=1, help="end-to-end rounds (with --url)")
    parser.add_argument("--mqtt-url", default=None, help="the demo's broker: split the time")
    parser.add_argument("--mqtt-password-file", type=Path, default=None)
    parser.add_argument("--mqtt-user", default="lightctl-service")
    parser.add_argument("--root", default="lightctl", help="the MQTT topic root")
    args = parser.parse_args()
    if args.url:
        watch = None
        if args.mqtt_url:
            if args.mqtt_password_file is None:
                parser.error("--mqtt-url needs --mqtt-password-file")
            watch = BrokerWatch(args.mqtt_url, args.mqtt_password_file, args.root, args.mqtt_user)
        try:
            return end_to_end(args.url, args.runs, watch)
        finally:
            if watch is not None:
                watch.stop()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bench("Zürich (demo street file)", zurich_segments(), FIRE, 250.0, args)
    bench(f"synthetic grid ~{args.nodes:,} nodes", grid_segments(args.nodes), CENTRE, 600.0, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
