"""``python -m firmware_sim`` as operators run it: SIGTERM says offline, a crash leaves the will."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.probe import ServiceProbe
from tests.support import fixed_env

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
LANTERNS = 50
PER_CONNECTION = 20  # 50 lanterns -> 3 gateways
GATEWAYS = ["sim-00", "sim-01", "sim-02"]


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "id": f"LEU{100000 + i}",
            "geometry": {"type": "Point", "coordinates": [8.54 + i * 1e-4, 47.37]},
            "properties": {},
        }
        for i in range(LANTERNS + 10)  # --limit cuts the last ten
    ]
    path = tmp_path / "lanterns.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def start_sim(
    url: str, inventory: Path, root: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firmware_sim",
                "--broker",
                url,
                "--inventory",
                str(inventory),
                "--root",
                root,
                "--per-connection",
                str(PER_CONNECTION),
                "--limit",
                str(LANTERNS),
                *extra,
            ],
            cwd=ROOT,
            env=fixed_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def ids() -> list[str]:
    return [f"LEU{100000 + i}" for i in range(LANTERNS)]


def all_online(probe: ServiceProbe) -> bool:
    lanterns = [probe.availability(i) for i in ids()]
    gateways = [probe.gateway(g) for g in GATEWAYS]
    return all(a is not None and a.online for a in lanterns + gateways)


def test_sigterm_stops_cleanly_and_says_offline(
    mosquitto: Any, topic_root: str, inventory: Path, probe: ServiceProbe, tmp_path: Path
) -> None:
    log = tmp_path / "sim.log"
    proc = start_sim(mosquitto.url, inventory, topic_root, log)
    try:
        assert probe.wait_for(lambda: all_online(probe), 20), log.read_text()
        assert probe.availability(f"LEU{100000 + LANTERNS}") is None  # beyond --limit
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    lanterns = [probe.availability(i) for i in ids()]
    gateways = [probe.gateway(g) for g in GATEWAYS]
    assert all(a is not None and not a.online for a in lanterns + gateways)
    text = log.read_text()
    assert "simulating 50 lanterns over 3 connections" in text
    assert "Traceback" not in text


def test_a_crash_leaves_the_gateway_will_offline(
    mosquitto: Any, topic_root: str, inventory: Path, probe: ServiceProbe, tmp_path: Path
) -> None:
    proc = start_sim(mosquitto.url, inventory, topic_root, tmp_path / "sim.log")
    try:
        assert probe.wait_for(lambda: all_online(probe), 20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()

    def gateways_offline() -> bool:
        return all((g := probe.gateway(gw)) is not None and not g.online for gw in GATEWAYS)

    # The broker publishes each connection's last will as soon as the socket dies.
    assert probe.wait_for(gateways_offline, 10)
    # Lanterns could not say goodbye; their availability names the gateway that is now offline.
    assert {a.gateway for i in ids() if (a := probe.availability(i)) is not None} == set(GATEWAYS)


def test_processes_split_the_fleet_and_say_what_cpu_they_spent(
    mosquitto: Any, topic_root: str, inventory: Path, probe: ServiceProbe, tmp_path: Path
) -> None:
    """``--processes 2``: each child runs its half behind gateways of its own, every lantern is
    online once, SIGTERM stops both, and each child and the parent print the CPU they spent."""
    log = tmp_path / "sim.log"
    proc = start_sim(mosquitto.url, inventory, topic_root, log, "--processes", "2")
    # 25 lanterns per process, 20 per connection: two gateways each, prefixed by the shard.
    gateways = ["sim.0-00", "sim.0-01", "sim.1-00", "sim.1-01"]
    try:
        assert probe.wait_for(
            lambda: all(
                a is not None and a.online
                for a in [probe.availability(i) for i in ids()]
                + [probe.gateway(g) for g in gateways]
            ),
            30,
        ), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert all(not a.online for a in [probe.availability(i) for i in ids()] if a is not None)
    text = log.read_text()
    assert "simulating 25 lanterns over 2 connections" in text
    assert "firmware-sim shard 0/2: cpu_s=" in text
    assert "firmware-sim shard 1/2: cpu_s=" in text
    assert "firmware-sim 2 processes: cpu_s=" in text
    assert "lanterns=50" in text
    assert "Traceback" not in text
