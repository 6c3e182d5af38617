"""A city-wide warning against the bare broker (issue 14, "How it is measured").

One invocation, one Mosquitto it starts itself:

1. the bare baseline: as many QoS 1 commands as the warning needs (lanterns x channels), each to
   its own device topic, acked by plain paho clients, timed to the last ack;
2. the project: ``lightctl serve`` on a fresh database with N lanterns, ``firmware-sim`` (its own
   processes, ``--processes``), a city-wide template warning (``fire_smoke``) and a free-text
   one, each timed from POST to the 201, to the first / p50 / p95 / last lantern ``playing`` and
   to every lantern ``received`` (acks timed on the broker by a listening client), with the
   service's memory and the CPU the service and the simulator spent.

    python benchmarks/fanout.py                       # the demo inventory, 3,533 lanterns
    python benchmarks/fanout.py --lanterns 100000 --processes 4
    python benchmarks/fanout.py --lanterns 100000 --post-only --database-url postgresql://...

N up to 3,533 takes the demo inventory (real positions and streets), above that synthetic
lanterns over Zürich on synthetic streets of ~200. ``--post-only``: no fleet and no baseline,
only POST /alerts timed (three times) and the time until every delivery row is written.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# E402: run as a script from a checkout, the project is importable only after the line above.
from lightctl.paths import DEMO_LANTERNS, DEMO_STREETS  # noqa: E402
from lightctl.services.inventory import import_lanterns, import_streets  # noqa: E402
from lightctl.signing import KeyStore  # noqa: E402
from lightctl.store import Database  # noqa: E402

# The city of Zürich: 8.448-8.625 E, 47.320-47.435 N; a 20 km circle round the centre holds it.
WEST, SOUTH, EAST, NORTH = 8.448, 47.320, 8.625, 47.435
CITY = {"circle": {"lon": 8.54, "lat": 47.372, "radius_m": 20_000}, "confirm_large": True}
FREE_TEXT = {
    "de": "Grossbrand im Quartier. Schliessen Sie Fenster und Türen.",
    "en": "Major fire in the district. Close windows and doors.",
}
CHANNELS = 3  # audio, light, projection: what a warning sends each lantern
# A synthetic street is a 60 m band, 1.2 km long: 5,439 streets over the city, ~18 lanterns
# each at 100,000 (16 on the east-west ones, 22 on the north-south ones).
BAND_LAT, BAND_LON, PIECE = 60 / 111_200, 60 / 75_300, 0.012
ENVELOPE_BYTES = 900  # about the size of a signed audio command
WINDOW = 20_000  # commands the baseline's sender keeps unacknowledged at most
# The service's counters that say how a warning went out (GET /api/v1/metrics).
FAN_OUT_COUNTERS = (
    "outbox_published",
    "outbox_group_published",
    "outbox_group_covered",
    "outbox_resent",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    what: str, predicate: Callable[[], bool], timeout_s: float, step: float = 0.2
) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"gave up after {timeout_s:.0f} s waiting for {what}")
        time.sleep(step)
    return time.monotonic() - started


@contextmanager
def mosquitto(workdir: Path) -> Iterator[str]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 0\nmessage_size_limit 262144\n"
    )
    proc = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until("mosquitto", lambda: _listens(port), 10, 0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _client(name: str, url: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    host, port = url.removeprefix("mqtt://").split(":")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, int(port))
    return client


# ---- (1) the bare baseline ---------------------------------------------------------------------


def baseline(url: str, messages: int, ackers: int = 4) -> float:
    """Seconds from the first publish of ``messages`` QoS 1 commands (one device topic each) to
    the last QoS 1 ack, with ``ackers`` plain paho clients answering (a shared subscription)."""
    run = uuid.uuid4().hex[:6]
    got = threading.Event()
    acked = [0]
    lock = threading.Lock()

    def on_ack(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        with lock:
            acked[0] += 1
            if acked[0] >= messages:
                got.set()

    def on_cmd(client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        device = message.topic.split("/")[1]
        client.publish(f"b{run}/{device}/ack", b'{"status":"received"}', qos=1)

    collector = _client(f"bc-{run}", url)
    collector.on_message = on_ack
    collector.subscribe(f"b{run}/+/ack", qos=1)
    collector.loop_start()
    clients = []
    for i in range(ackers):
        client = _client(f"ba{i}-{run}", url)
        client.on_message = on_cmd
        client.subscribe(f"$share/bench/b{run}/+/cmd", qos=1)
        client.loop_start()
        clients.append(client)
    sender = _client(f"bs-{run}", url)
    sender.loop_start()
    time.sleep(1.0)  # not a wait for an outcome: lets the subscriptions settle before timing
    body = b"x" * ENVELOPE_BYTES
    started = time.monotonic()
    for i in range(messages):
        sender.publish(f"b{run}/d{i}/cmd", body, qos=1)
        if i % 1000 == 999:
            # At most WINDOW commands unacknowledged: a 300,000-message burst into paho's
            # queue stalled the baseline (the service's outbox paces itself the same way).
            while i - acked[0] > WINDOW and not got.is_set():
                time.sleep(0.005)
    if not got.wait(timeout=600):
        raise SystemExit(f"baseline: {acked[0]} of {messages} acks after 600 s")
    took = time.monotonic() - started
    for client in [sender, collector, *clients]:
        client.loop_stop()
        client.disconnect()
    return took


# ---- (2) the project ---------------------------------------------------------------------------


def inventory(n: int, workdir: Path) -> tuple[Path, Path | None]:
    """Lanterns (and streets, for the demo) as GeoJSON: the demo's first N, else synthetic."""
    if n <= 3533:
        data = json.loads(DEMO_LANTERNS.read_text(encoding="utf-8"))
        data["features"] = data["features"][:n]
        path = workdir / "lanterns.geojson"
        path.write_text(json.dumps(data))
        return path, DEMO_STREETS
    rng = np.random.default_rng(14)
    lons, lats = rng.uniform(WEST, EAST, n), rng.uniform(SOUTH, NORTH, n)
    east_west = rng.random(n) < 0.5
    band = np.where(east_west, (lats - SOUTH) // BAND_LAT, (lons - WEST) // BAND_LON)
    piece = np.where(east_west, (lons - WEST) // PIECE, (lats - SOUTH) // PIECE)
    features = [
        {
            "type": "Feature",
            "id": f"SYN{i:06d}",
            "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
            "properties": {"street": f"{'Quer' if ew else 'Laengs'}strasse {int(b)}-{int(p)}"},
        }
        for i, (x, y, ew, b, p) in enumerate(
            zip(
                lons.tolist(),
                lats.tolist(),
                east_west.tolist(),
                band.tolist(),
                piece.tolist(),
                strict=True,
            )
        )
    ]
    path = workdir / "lanterns.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path, None


@contextmanager
def fresh_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A SQLite file in ``workdir``, or a new PostgreSQL database beside ``url``'s (dropped)."""
    if url is None:
        yield f"sqlite:///{workdir / 'lightctl.db'}"
        return
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield plain.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


class AckClock:
    """Every ack of one command as the broker hands it on: when each lantern said what."""

    def __init__(self, url: str, root: str) -> None:
        self.lock = threading.Lock()
        self.first: dict[tuple[str, str, str], float] = {}
        self.client = _client(f"clock-{uuid.uuid4().hex[:6]}", url)
        self.client.on_message = self._on_message
        self.client.subscribe(f"{root}/v2/gateways/+/acks", qos=0)
        self.client.subscribe(f"{root}/v1/lanterns/+/ack", qos=0)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        acks = body.get("acks", [body]) if isinstance(body, dict) else []
        with self.lock:
            for ack in acks:
                key = (str(ack.get("cmd_id")), str(ack.get("lantern")), str(ack.get("status")))
                self.first.setdefault(key, now)

    def times(self, cmd_id: str, status: str) -> list[float]:
        with self.lock:
            return sorted(t for (c, _l, s), t in self.first.items() if c == cmd_id and s == status)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and of its live children (firmware-sim's)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def memory_kb(pid: int) -> tuple[int, int]:
    """Resident and peak resident memory of a process (kB)."""
    rss = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return rss, peak


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from lightctl.cli import main; main()", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def warning(
    name: str,
    http: httpx.Client,
    clock: AckClock,
    body: dict[str, Any],
    n: int,
    pids: dict[str, int],
    timeout_s: float,
) -> dict[str, float]:
    """One warning from POST until every lantern has ended it; prints and returns its figures."""
    cpu_before = {k: cpu_s(p) for k, p in pids.items()}
    rss_before, _peak = memory_kb(pids["service"])
    counters_before = _metrics(http)
    started = time.monotonic()
    response = http.post("/alerts", json=body)
    post_s = time.monotonic() - started
    if response.status_code != 201:
        raise SystemExit(f"{name}: {response.status_code} {response.text[:500]}")
    alert = response.json()
    audio = next(c["id"] for c in alert["commands"] if c["channel"] == "audio")
    count = int(alert["lantern_count"])

    def ended() -> bool:
        return bool(http.get(f"/alerts/{alert['id']}").json()["status"] != "sending")

    wait_until(f"{name} to end", ended, timeout_s, 1.0)
    playing = [t - started for t in clock.times(audio, "playing")]
    received = [t - started for t in clock.times(audio, "received")]
    final = http.get(f"/alerts/{alert['id']}").json()
    rss_after, peak = memory_kb(pids["service"])
    counters = _metrics(http)
    sent = {k: counters.get(k, 0) - counters_before.get(k, 0) for k in FAN_OUT_COUNTERS}
    figures = {
        "post_s": post_s,
        "first_playing_s": min(playing, default=float("nan")),
        "p50_playing_s": pct(playing, 50),
        "p95_playing_s": pct(playing, 95),
        "last_playing_s": max(playing, default=float("nan")),
        "all_received_s": max(received, default=float("nan")),
        "service_cpu_s": cpu_s(pids["service"]) - cpu_before["service"],
        "sim_cpu_s": cpu_s(pids["sim"]) - cpu_before["sim"],
        "service_peak_mb": peak / 1024,
        "growth_kb_per_lantern": max(rss_after - rss_before, 0) / max(count, 1),
        "group_copies": sent["outbox_group_published"],
        "group_covered": sent["outbox_group_covered"],
        "own_topic_publishes": sent["outbox_published"] - sent["outbox_group_published"],
    }
    print(f"\n{name}: {count:,} lanterns (of {n:,}), final counts {final['counts']}")
    print(f"  POST -> 201            {post_s * 1000:8.0f} ms")
    print(
        f"  POST -> playing        first {figures['first_playing_s']:.2f} s, p50 "
        f"{figures['p50_playing_s']:.2f} s, p95 {figures['p95_playing_s']:.2f} s, last "
        f"{figures['last_playing_s']:.2f} s ({len(playing):,} lanterns seen playing)"
    )
    print(f"  POST -> all received   {figures['all_received_s']:.2f} s ({len(received):,} seen)")
    print(
        f"  CPU: service {figures['service_cpu_s']:.1f} s, firmware-sim "
        f"{figures['sim_cpu_s']:.1f} s; service RSS {rss_before // 1024} -> "
        f"{rss_after // 1024} MB (peak {peak // 1024} MB, "
        f"{figures['growth_kb_per_lantern']:.2f} KB per lantern)"
    )
    print(
        f"  fan-out: {sent['outbox_group_published']:,} group copies covering "
        f"{sent['outbox_group_covered']:,} lantern-commands; "
        f"{figures['own_topic_publishes']:,.0f} publishes to lanterns' own topics "
        f"({sent['outbox_resent']:,} of them re-sends)"
    )
    return figures


def project(args: argparse.Namespace, url: str, workdir: Path) -> dict[str, dict[str, float]]:
    lanterns, streets = inventory(args.lanterns, workdir)
    out: dict[str, dict[str, float]] = {}
    with fresh_database(args.database_url, workdir) as db_url:
        db = Database(db_url)
        db.create_all()
        if streets is not None:
            import_streets(db, streets)
        started = time.monotonic()
        import_lanterns(db, lanterns, street_field=None if streets else "street")
        print(f"imported {args.lanterns:,} lanterns in {time.monotonic() - started:.1f} s")
        db.dispose()
        data_dir = workdir / "data"
        keys = KeyStore.in_data_dir(data_dir)
        keys.ensure()
        port, token, root = free_port(), f"lct_{secrets.token_urlsafe(32)}", "bench"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LIGHTCTL_DATA_DIR": str(data_dir),
            "LIGHTCTL_DATABASE_URL": db_url,
            "LIGHTCTL_MQTT_URL": url,
            "LIGHTCTL_MQTT_ROOT": root,
            "LIGHTCTL_HTTP_HOST": "127.0.0.1",
            "LIGHTCTL_HTTP_PORT": str(port),
            "LIGHTCTL_BOOTSTRAP_TOKEN": token,
            "LIGHTCTL_TARGET_MAX_LANTERNS": str(max(args.lanterns, 10_000)),
            "LIGHTCTL_PRERENDER_TEMPLATES": "false" if args.post_only else "true",
            # The clip library holds the template this benchmark sends (fire_smoke names no
            # street: one manifest for the whole city). With every template it also holds one
            # manifest per street, 5,439 at 100,000 synthetic lanterns, and firmware-sim's
            # library sync re-pins every lantern against every manifest on each one that
            # arrives: both simulator processes spent the run on that, confirming ~5 lantern
            # memberships a second (a run of 2026-12-03, stopped after 12 minutes).
            "LIGHTCTL_CLIP_LIBRARY_TEMPLATES": json.dumps(args.library_templates),
        }
        service = start_service(env, workdir / "serve.log")
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        sim: subprocess.Popen[bytes] | None = None
        clock: AckClock | None = None
        try:
            wait_until("lightctl serve", lambda: _healthy(http, service, workdir), 120, 0.5)
            if args.post_only:
                out["post"] = post_only(http, service.pid)
                return out
            clock = AckClock(url, root)
            with (workdir / "sim.log").open("wb") as log:
                sim = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "firmware_sim",
                        "--broker",
                        url,
                        "--inventory",
                        str(lanterns),
                        "--root",
                        root,
                        "--speed",
                        str(args.speed),
                        "--per-connection",
                        str(args.per_connection),
                        "--processes",
                        str(args.processes),
                        "--trust",
                        str(keys.trust_path),
                        "--log-level",
                        "WARNING",
                    ],
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its children go with it if it must be killed
                )
            took = wait_until(
                "the fleet online with its groups",
                lambda: _ready(http, args.lanterns, service, workdir),
                args.timeout_s,
                1.0,
            )
            print(
                f"fleet online, every lantern's groups confirmed: {took:.1f} s "
                f"({args.processes} sim processes)"
            )
            # The clip library goes out once the outbox has been quiet (clip_library_quiet_s).
            time.sleep(args.settle_s)  # not a wait for an outcome: quiet time before timing
            pids = {"service": service.pid, "sim": sim.pid}
            template = {"target": CITY, "template": "fire_smoke", "expires_in_s": 240}
            out["template"] = warning(
                "template fire_smoke", http, clock, template, args.lanterns, pids, args.timeout_s
            )
            free = {"target": CITY, "messages": FREE_TEXT, "expires_in_s": 240}
            out["free_text"] = warning(
                "free text de+en", http, clock, free, args.lanterns, pids, args.timeout_s
            )
            print(f"\nservice metrics: {_metrics(http)}")
        finally:
            if clock is not None:
                clock.stop()
            if sim is not None:
                sim.send_signal(signal.SIGTERM)
                try:
                    sim.wait(timeout=120)
                except subprocess.TimeoutExpired:  # 100,000 lanterns took longer once
                    os.killpg(sim.pid, signal.SIGKILL)
                    sim.wait(timeout=30)
                for line in (workdir / "sim.log").read_text().splitlines():
                    if line.startswith("firmware-sim ") and "processes" in line:
                        print(line)
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
            http.close()
            if args.keep_logs is not None:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for name in ("serve.log", "sim.log"):
                    if (workdir / name).exists():
                        shutil.copy(workdir / name, args.keep_logs / name)
    return out


def _healthy(http: httpx.Client, service: subprocess.Popen[bytes], workdir: Path) -> bool:
    if service.poll() is not None:
        raise SystemExit(f"lightctl serve exited:\n{(workdir / 'serve.log').read_text()[-3000:]}")
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _metrics(http: httpx.Client) -> dict[str, int]:
    counters = http.get("/metrics", params={"format": "json"}).json()["counters"]
    return {str(k): int(v) for k, v in counters.items()}


def _ready(http: httpx.Client, n: int, service: subprocess.Popen[bytes], workdir: Path) -> bool:
    """Every lantern listens to the groups the service gave it (``fanout_confirmed``). Counting
    the lanterns that reported groups at all (``fanout_v2_lanterns``, as this did first) lets
    the warning start while most still report none: they get their own copies, and the run
    measures the per-lantern path (the first 100,000-lantern run: 8 group copies). A failed
    request is asked again (one reset connection ended a 100,000-lantern run after its
    baseline); a service that exited ends the run with its log."""
    if service.poll() is not None:
        raise SystemExit(f"lightctl serve exited:\n{(workdir / 'serve.log').read_text()[-3000:]}")
    try:
        metrics = _metrics(http)
    except httpx.HTTPError as exc:
        print(f"  (metrics not read: {exc!r}; asking again)")
        return False
    return bool(metrics.get("fanout_ready")) and metrics.get("fanout_confirmed", 0) >= n


def post_only(http: httpx.Client, pid: int) -> dict[str, float]:
    """POST /alerts city-wide three times (no fleet): the answer's time, then until every row is
    written; each alert is cancelled before the next."""
    posts: list[float] = []
    for run in range(3):
        started = time.monotonic()
        response = http.post("/alerts", json={"target": CITY, "messages": FREE_TEXT})
        posts.append(time.monotonic() - started)
        if response.status_code != 201:
            raise SystemExit(f"POST: {response.status_code} {response.text[:500]}")
        alert = response.json()
        rows = wait_until(
            "every delivery row written",
            lambda: _metrics(http).get("delivery_rows_pending", 1) == 0,
            600,
            0.2,
        )
        print(
            f"run {run + 1}: POST /alerts -> 201 in {posts[-1] * 1000:.0f} ms for "
            f"{alert['lantern_count']:,} lanterns; every delivery row written {rows:.1f} s later"
        )
        http.post(f"/alerts/{alert['id']}/cancel")
    _rss, peak = memory_kb(pid)
    print(
        f"POST /alerts median {statistics.median(posts) * 1000:.0f} ms; "
        f"service peak {peak // 1024} MB"
    )
    return {"post_s": statistics.median(posts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=3533)
    parser.add_argument("--processes", type=int, default=1, help="firmware-sim processes")
    parser.add_argument("--per-connection", type=int, default=500)
    parser.add_argument("--speed", type=float, default=1.0, help="the simulator's playback speed")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default SQLite)")
    parser.add_argument("--post-only", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--settle-s", type=float, default=8.0)
    parser.add_argument("--timeout-s", type=float, default=900)
    parser.add_argument(
        "--library-templates",
        type=lambda text: [t for t in text.split(",") if t],
        default=["fire_smoke"],
        help="templates of the clip library, comma-separated ('' for all of them)",
    )
    parser.add_argument(
        "--keep-logs", type=Path, default=None, help="copy serve.log and sim.log here at the end"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp, mosquitto(Path(tmp)) as url:
        bare = None
        if not args.post_only and not args.skip_baseline:
            messages = args.lanterns * CHANNELS
            bare = baseline(url, messages)
            print(
                f"bare baseline: {messages:,} QoS 1 commands to device topics, acked by paho: "
                f"{bare:.2f} s to the last ack"
            )
        figures = project(args, url, Path(tmp))
    if bare is not None:
        for name, values in figures.items():
            ratio = values["all_received_s"] / bare
            print(
                f"{name}: all received {values['all_received_s']:.2f} s = {ratio:.2f}x "
                "the bare baseline"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
