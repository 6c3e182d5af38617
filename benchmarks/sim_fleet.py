"""How many lanterns one ``firmware_sim`` process runs: start-up, a city-wide warning, shut-down.

    python benchmarks/sim_fleet.py --lanterns 3000
    python benchmarks/sim_fleet.py --lanterns 10000 --per-connection 500 --broker mqtt://host:1883

The fleet runs as its own process (``python -m firmware_sim``, as operators run it) so its CPU and
memory are its own; this script is the service side (a probe that publishes and collects acks) and
the clip server. Without ``--broker`` it starts a private Mosquitto on a free port.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# E402: run as a script from a checkout, the project is importable only after the line above.
from firmware_sim.probe import ClipServer, ServiceProbe  # noqa: E402
from lightctl.protocol import (  # noqa: E402
    AudioPayload,
    CommandEnvelope,
    SpeechItem,
    ToneItem,
    Topics,
)

ZURICH = Path("/work/shared/data/zurich_streetlights_wgs84.geojson")
# Two spoken clips of about 3 s each at 128 kbit/s: the size a lantern really downloads.
CLIP_DE = b"ID3 de " + os.urandom(48_000)
CLIP_EN = b"ID3 en " + os.urandom(48_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 100\nmessage_size_limit 262144\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"mqtt://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def inventory_file(n: int, workdir: Path) -> tuple[Path, list[str]]:
    """The real Zürich inventory when present (cut with --limit), else generated points."""
    if ZURICH.exists():
        features = json.loads(ZURICH.read_text())["features"][:n]
        return ZURICH, [f["id"] for f in features]
    ids = [f"LEU{100000 + i}" for i in range(n)]
    features = [
        {"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [8.54, 47.37]}}
        for i in ids
    ]
    path = workdir / "lanterns.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path, ids


def warning(cmd_id: str, clips: ClipServer) -> CommandEnvelope:
    now = datetime.now(UTC)
    return CommandEnvelope(
        id=cmd_id,
        channel="audio",
        op="set",
        priority=1,
        issued_at=now,
        expires_at=now + timedelta(minutes=10),
        seq=1,
        payload=AudioPayload(
            program=[
                ToneItem(signal="warning", duration_s=4),
                SpeechItem(lang="de", url=clips.url("/de.mp3"), sha256=_sha(CLIP_DE), duration_s=3),
                SpeechItem(lang="en", url=clips.url("/en.mp3"), sha256=_sha(CLIP_EN), duration_s=3),
            ],
            repeat=2,
            interval_s=2,
        ),
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def timed(
    label: str, predicate: Callable[[], bool], probe: ServiceProbe, timeout_s: float
) -> float:
    start = time.monotonic()
    if not probe.wait_for(predicate, timeout_s):
        raise SystemExit(f"{label}: not reached within {timeout_s}s")
    return time.monotonic() - start


def run_round(
    fleet_pid: int,
    probe: ServiceProbe,
    clips: ClipServer,
    ids: list[str],
    round_no: int,
    label: str,
    speed: float,
    timeout_s: float,
) -> list[tuple[str, str]]:
    """Send one warning to every lantern; time until all received and all done."""
    n = len(ids)
    cmd = warning(f"bench-{round_no}", clips)
    done_before = probe.count("done")
    bad_before = probe.count("failed") + probe.count("expired")
    received_before = probe.count("received")
    cpu_before, _ = proc_stats(fleet_pid)

    def bad() -> int:
        return probe.count("failed") + probe.count("expired") - bad_before

    start = time.monotonic()
    for lantern_id in ids:
        probe.send(lantern_id, cmd)
    publish_s = time.monotonic() - start
    timed("received", lambda: probe.count("received") - received_before >= n, probe, timeout_s)
    received_s = time.monotonic() - start
    timed("done", lambda: probe.count("done") - done_before >= n or bad() > 0, probe, timeout_s)
    done_s = time.monotonic() - start
    cpu_s = proc_stats(fleet_pid)[0] - cpu_before
    program_s = cmd.payload.duration_s() if isinstance(cmd.payload, AudioPayload) else 0
    # Fleet-side view from the acks' own timestamps: when the lanterns handled the commands.
    received_at = [a.at for i in ids for a in probe.acks(i, cmd.id) if a.status == "received"]
    spread_s = (max(received_at) - min(received_at)).total_seconds() if received_at else 0.0
    return [
        (f"round {round_no} ({label}): publish {n} commands", f"{publish_s:.2f} s"),
        (f"round {round_no}: all acked received", f"{received_s:.2f} s"),
        (f"round {round_no}: fleet clock, first to last command handled", f"{spread_s:.2f} s"),
        (
            (
                f"round {round_no}: all done (program {program_s:.0f} s / speed {speed:g}"
                f" = {program_s / speed:.2f} s)"
            ),
            f"{done_s:.2f} s",
        ),
        (f"round {round_no}: fleet CPU", f"{cpu_s:.1f} s ({cpu_s / n * 1000:.2f} ms/lantern)"),
        (f"round {round_no}: failed or expired", str(bad())),
    ]


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, peak RSS in MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return cpu_s, hwm_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=3000)
    parser.add_argument("--per-connection", type=int, default=500)
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--fetch-concurrency", type=int, default=32)
    parser.add_argument("--broker", default=None)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    n = args.lanterns

    workdir = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    broker_proc, url = (None, args.broker) if args.broker else start_mosquitto(workdir)
    topics = Topics(f"bench{os.getpid()}")
    clips = ClipServer({"/de.mp3": CLIP_DE, "/en.mp3": CLIP_EN}).start()
    # Our own broker allows 100 messages in flight; an unknown one gets paho's safe default.
    probe = ServiceProbe(url, topics, inflight=20 if args.broker else 100)
    probe.start()
    inventory, ids = inventory_file(n, workdir)
    if len(ids) < n:
        raise SystemExit(f"inventory has only {len(ids)} lanterns")
    fleet = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim", "--broker", url, "--inventory", str(inventory),
         "--limit", str(n), "--per-connection", str(args.per_connection), "--speed",
         str(args.speed), "--root", topics.root, "--log-level", "WARNING",
         "--fetch-concurrency", str(args.fetch_concurrency)],
        cwd=ROOT,
    )  # fmt: skip
    rows: list[tuple[str, str]] = []
    try:

        def online() -> bool:
            return bool(probe.online_count() >= n)

        rows.append(("start-up: all online (load inventory, connect, subscribe)",
                     f"{timed('online', online, probe, args.timeout):.2f} s"))  # fmt: skip

        for round_no, label in ((1, "clips fetched and hash-checked"), (2, "clips cached")):
            rows.extend(
                run_round(fleet.pid, probe, clips, ids, round_no, label, args.speed, args.timeout)
            )
            if rows[-1][1] != "0":
                break
        _, rss_mb = proc_stats(fleet.pid)
        rows.append(("clip downloads served", str(sum(clips.requests.values()))))
        rows.append(("fleet peak RSS", f"{rss_mb:.0f} MB ({rss_mb * 1024 / n:.0f} KB per lantern)"))

        fleet.send_signal(signal.SIGTERM)

        def offline() -> bool:
            return probe.online_count() == 0

        rows.append(("shut-down: all offline", f"{timed('offline', offline, probe, 60):.2f} s"))
        fleet.wait(timeout=30)
    finally:
        fleet.kill()
        probe.stop()
        clips.stop()
        if broker_proc is not None:
            broker_proc.terminate()
    connections = -(-n // args.per_connection)
    print(
        f"\nfirmware_sim: {n} lanterns over {connections} connections, "
        f"{args.fetch_concurrency} downloads in flight, {os.cpu_count()} CPUs"
    )
    for label, value in rows:
        print(f"  {label:<72} {value:>10}")


if __name__ == "__main__":
    main()
