"""Free-text clips to many lanterns: over HTTP from ``lightctl serve``, or once through the broker.

Issue 14 asks to choose by measurement. Both ways deliver the same copies, timed from the first
request (or publish) to the last copy checked against its sha256 on the receiving side:

1. HTTP: ``--copies`` receivers each GET every clip from ``GET /api/v1/audio/{sha256}.wav`` of a
   ``lightctl serve`` on a fresh database, ``--concurrency`` requests in flight at most (32: what
   a simulated fleet allows itself);
2. broker: every clip published once, QoS 1, to one topic that ``--copies`` MQTT connections
   subscribe to (each connection stands for a lantern, or a gateway, that takes the clip).

It prints seconds, copies per second and the CPU of the serving side (``lightctl serve``, or
Mosquitto), and the time the same broker then needs to carry a small command to every receiver
while the clips are still going out (what a warning's commands would wait behind).

    python benchmarks/clip_delivery.py                      # 500 receivers, the 2 free-text clips
    python benchmarks/clip_delivery.py --copies 3533 --connections-per-process 500
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# E402: run as a script from a checkout, the project is importable only after the lines above.
from fanout import (  # noqa: E402
    _healthy,
    cpu_s,
    free_port,
    fresh_database,
    mosquitto,
    start_service,
    wait_until,
)

from lightctl.audio.clips import ClipStore  # noqa: E402
from lightctl.store import Database  # noqa: E402

# The benchmark's free-text warning (benchmarks/fanout.py, de + en, one sentence each as
# rendered there): two WAV clips of these sizes.
CLIP_BYTES = (153_052, 155_122)


def clips() -> list[bytes]:
    """Bytes of the sizes the free-text warning's clips have (random: only size matters)."""
    return [secrets.token_bytes(size) for size in CLIP_BYTES]


# ---- 1. HTTP ------------------------------------------------------------------------------------


def over_http(copies: int, bodies: list[bytes], concurrency: int, workdir: Path) -> None:
    data_dir = workdir / "data"
    store = ClipStore(data_dir / "clips")
    shas = [store.put(body, "wav").sha256 for body in bodies]
    with fresh_database(None, workdir) as db_url:
        db = Database(db_url)
        db.create_all()
        db.dispose()
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LIGHTCTL_DATA_DIR": str(data_dir),
            "LIGHTCTL_DATABASE_URL": db_url,
            "LIGHTCTL_MQTT_URL": "mqtt://127.0.0.1:1",  # no broker needed to serve clips
            "LIGHTCTL_HTTP_HOST": "127.0.0.1",
            "LIGHTCTL_HTTP_PORT": str(port),
            "LIGHTCTL_BOOTSTRAP_TOKEN": f"lct_{secrets.token_urlsafe(32)}",
            "LIGHTCTL_PRERENDER_TEMPLATES": "false",
        }
        service = start_service(env, workdir / "serve.log")
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            with httpx.Client(base_url=base, timeout=30) as http:
                wait_until("lightctl serve", lambda: _healthy(http, service, workdir), 120, 0.5)
            before, mine = cpu_s(service.pid), time.process_time()
            took, bad, errors = asyncio.run(_fetch_all(base, shas, copies, concurrency))
            spent, mine = cpu_s(service.pid) - before, time.process_time() - mine
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
    total = copies * len(shas)
    megabytes = copies * sum(len(b) for b in bodies) / 1e6
    print(
        f"HTTP:   {copies:,} receivers x {len(shas)} clips = {total:,} GETs ({megabytes:,.0f} MB), "
        f"{concurrency} in flight: {took:.2f} s to the last checked copy "
        f"({total / took:,.0f} copies/s); CPU: lightctl serve {spent:.1f} s, the receivers "
        f"(httpx, one process) {mine:.1f} s; bad copies {bad}, failed requests retried {errors}"
    )


async def _fetch_all(
    base: str, shas: list[str], copies: int, concurrency: int
) -> tuple[float, int, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    slots = asyncio.Semaphore(concurrency)
    bad = errors = 0

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def one(sha: str) -> None:
            # Retried like a simulated lantern retries (firmware_sim/clips.py): a dropped
            # connection under load costs a pause, not the copy.
            nonlocal bad, errors
            for attempt in range(8):
                try:
                    async with slots:
                        response = await http.get(f"/audio/{sha}.wav")
                except httpx.HTTPError:
                    errors += 1
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
                if response.status_code == 200:
                    if hashlib.sha256(response.content).hexdigest() != sha:
                        bad += 1
                    return
                errors += 1
                await asyncio.sleep(0.5 * 2**attempt)
            bad += 1

        started = time.monotonic()
        # Every receiver asks for its clips in order, as a lantern's playback does.
        await asyncio.gather(*(one(sha) for _ in range(copies) for sha in shas))
        return time.monotonic() - started, bad, errors


# ---- 2. the broker ------------------------------------------------------------------------------


def over_broker(copies: int, bodies: list[bytes], url: str, workdir: Path) -> None:
    run = uuid.uuid4().hex[:6]
    shas = {hashlib.sha256(b).hexdigest() for b in bodies}
    lock = threading.Lock()
    got: dict[int, set[str]] = {i: set() for i in range(copies)}
    command_at: dict[int, float] = {}
    bad = [0]
    subacks = [0]
    complete = threading.Event()
    commanded = threading.Event()
    host, port = url.removeprefix("mqtt://").split(":")

    def receiver(index: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"r{index}-{run}", protocol=mqtt.MQTTv5
        )

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            now = time.monotonic()
            if message.topic.endswith("/cmd"):
                with lock:
                    command_at.setdefault(index, now)
                    if len(command_at) == copies:
                        commanded.set()
                return
            digest = hashlib.sha256(message.payload).hexdigest()
            with lock:
                if digest not in shas:
                    bad[0] += 1
                    return
                got[index].add(digest)
                if all(len(v) == len(shas) for v in got.values()):
                    complete.set()

        def on_subscribe(*_args: object) -> None:
            with lock:
                subacks[0] += 1

        client.on_message = on_message
        client.on_subscribe = on_subscribe
        client.connect(host, int(port))
        client.subscribe(f"c{run}/clips/+", qos=1)
        client.subscribe(f"c{run}/cmd", qos=1)
        return client

    receivers = [receiver(i) for i in range(copies)]
    # One network thread drives all receivers (paho's loop per client would be `copies` threads).
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            for client in receivers:
                client.loop(timeout=0)
            time.sleep(0.001)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"s-{run}", protocol=mqtt.MQTTv5)
    sender.connect(host, int(port))
    sender.loop_start()
    wait_until("every receiver subscribed", lambda: subacks[0] >= 2 * copies, 300, 0.1)
    broker_pid = _broker_pid(workdir)
    before = cpu_s(broker_pid) if broker_pid else 0.0
    mine = time.process_time()
    started = time.monotonic()
    for index, body in enumerate(bodies):
        sender.publish(f"c{run}/clips/{index}", body, qos=1)
    # A warning's command right behind the clips: how long it waits on the same broker.
    sender.publish(f"c{run}/cmd", b"x" * 900, qos=1)
    ok = complete.wait(timeout=600)
    took = time.monotonic() - started
    commanded.wait(timeout=60)
    behind = max(command_at.values(), default=float("nan")) - started
    spent = (cpu_s(broker_pid) - before) if broker_pid else float("nan")
    mine = time.process_time() - mine
    stop.set()
    thread.join(timeout=10)
    sender.loop_stop()
    for client in [sender, *receivers]:
        client.disconnect()
    total = copies * len(bodies)
    megabytes = copies * sum(len(b) for b in bodies) / 1e6
    state = "" if ok else " (NOT all copies arrived within 600 s)"
    print(
        f"broker: {copies:,} subscribers x {len(bodies)} clips = {total:,} copies "
        f"({megabytes:,.0f} MB) from {len(bodies)} publishes: {took:.2f} s to the last checked "
        f"copy ({total / took:,.0f} copies/s){state}; CPU: Mosquitto {spent:.1f} s, the "
        f"receivers (paho, one process) {mine:.1f} s; a command "
        f"published after the clips reached the last subscriber {behind:.2f} s after the "
        f"first clip; bad copies {bad[0]}"
    )


def _broker_pid(workdir: Path) -> int | None:
    """The Mosquitto this benchmark started: the process run with its config file."""
    conf = str(workdir / "mosquitto.conf")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if conf in (entry / "cmdline").read_bytes().decode(errors="replace"):
                return int(entry.name)
        except OSError:
            continue
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=500, help="receivers of every clip")
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP requests in flight")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-broker", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="clips-") as tmp:
        bodies = clips()
        if not args.skip_http:
            over_http(args.copies, bodies, args.concurrency, Path(tmp))
        if not args.skip_broker:
            with mosquitto(Path(tmp)) as url:
                over_broker(args.copies, bodies, url, Path(tmp))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
