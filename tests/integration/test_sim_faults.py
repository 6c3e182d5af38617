"""Fault injection in the simulator over a real broker, through its Python API, its HTTP control
API and the ``firmware-sim`` command line."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import Fleet, LanternSpec
from firmware_sim.control import ControlServer
from firmware_sim.probe import ClipServer, ServiceProbe
from lightctl.protocol import (
    AckBatch,
    AudioPayload,
    CommandEnvelope,
    LightPayload,
    SpeechItem,
    ToneItem,
    TopicKind,
    Topics,
)
from lightctl.signing import KeyStore
from tests.integration.conftest import FleetThread
from tests.integration.resilience import on_fleet, wait_until
from tests.support import ROOT, fixed_env, free_port

pytestmark = pytest.mark.broker

CLIP = b"RIFF a clip for the fault tests " * 300
SHA = hashlib.sha256(CLIP).hexdigest()
IDS = [f"Z{i}" for i in range(8)]


@pytest.fixture
def clips() -> Iterator[ClipServer]:
    server = ClipServer({"/a.wav": CLIP, "/busy.wav": CLIP}, failures={"/busy.wav": 2})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sim(mosquitto: Any, topic_root: str) -> Iterator[FleetThread]:
    fleet = Fleet(
        mosquitto.url,
        [LanternSpec(i) for i in IDS],
        speed=50,
        topics=Topics(topic_root),
        gateway_prefix="faulty",
    )
    thread = FleetThread(fleet)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def control(sim: FleetThread) -> Iterator[httpx.Client]:
    server = ControlServer(sim.fleet, 0)
    asyncio.run_coroutine_threadsafe(server.start(), sim.loop).result(5)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.port}",
        timeout=5,
        headers={"Authorization": f"Bearer {server.token}"},
    ) as client:
        yield client
    asyncio.run_coroutine_threadsafe(server.stop(), sim.loop).result(5)


def audio(cmd_id: str, clips: ClipServer, path: str = "/a.wav") -> CommandEnvelope:
    now = datetime.now(UTC)
    return CommandEnvelope(
        id=cmd_id,
        channel="audio",
        op="set",
        priority=1,
        issued_at=now,
        expires_at=now + timedelta(seconds=60),
        seq=1,
        payload=AudioPayload(
            program=[
                ToneItem(signal="warning", duration_s=1),
                SpeechItem(lang="de", url=clips.url(path), sha256=SHA, duration_s=1),
            ]
        ),
    )


def light(cmd_id: str) -> CommandEnvelope:
    now = datetime.now(UTC)
    return CommandEnvelope(
        id=cmd_id,
        channel="light",
        op="set",
        priority=8,
        issued_at=now,
        expires_at=now + timedelta(seconds=60),
        seq=1,
        payload=LightPayload(on=True, color="#FF0000"),
    )


@pytest.fixture
def arrivals(mosquitto: Any, topic_root: str) -> Iterator[dict[str, datetime]]:
    """When each lantern's first ack reached a subscriber of the broker (wall clock, UTC)."""
    seen: dict[str, datetime] = {}
    topics = Topics(topic_root)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        parsed = topics.parse(message.topic)
        if parsed is not None and parsed.kind is TopicKind.ACKS:  # a v2 gateway's batch
            for ack in AckBatch.from_bytes(bytes(message.payload)).acks:
                seen.setdefault(ack.lantern, datetime.now(UTC))
        elif parsed is not None and parsed.lantern_id is not None:
            seen.setdefault(parsed.lantern_id, datetime.now(UTC))

    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe([(topics.all_lanterns(TopicKind.ACK), 1), (topics.all_gateway_acks(), 1)])
    client.loop_start()
    assert subscribed.wait(5)
    yield seen
    client.loop_stop()
    client.disconnect()


def test_each_fault_does_what_it_says(
    sim: FleetThread,
    probe: ServiceProbe,
    clips: ClipServer,
    control: httpx.Client,
    arrivals: dict[str, datetime],
) -> None:
    spec = (
        "broken=speaker@Z0;broken=lamp@Z1;duplicate@Z2;drop_acks@Z3;delay_acks=0.5@Z4;"
        "corrupt_clips@Z5"
    )
    applied = control.post("/faults", json={"spec": spec}).json()["applied"]
    assert applied["broken"] == ["Z0", "Z1"]
    assert applied["duplicate"] == ["Z2"]
    probe.send("Z0", audio("a0", clips))
    probe.send("Z1", light("l1"))
    probe.send("Z2", audio("a2", clips))
    probe.send("Z3", light("l3"))
    probe.send("Z4", light("l4"))
    probe.send("Z5", audio("a5", clips))
    probe.send("Z6", audio("a6", clips, "/busy.wav"))  # the clip server answers 503 twice

    def settled() -> bool:
        return (
            bool(probe.acks("Z0"))
            and bool(probe.acks("Z1"))
            and "done" in probe.statuses("Z2")
            and bool(probe.acks("Z4"))
            and "failed" in probe.statuses("Z5")
            and "done" in probe.statuses("Z6")
        )

    assert probe.wait_for(settled, 20), {i: probe.statuses(i) for i in IDS}
    assert [(a.status.value, a.reason) for a in probe.acks("Z0")] == [("failed", "speaker_broken")]
    assert [(a.status.value, a.reason) for a in probe.acks("Z1")] == [("failed", "lamp_broken")]
    # Every command twice, every ack twice: the lantern still played it once.
    assert probe.statuses("Z2").count("done") >= 2
    assert len(control.get("/commands/a2").json()["played"]) == 1
    assert control.get("/commands/a2").json()["played"] == {"Z2": 1}
    # Sent by the lantern, lost on the way: the acks of Z4 and Z6, made later and published on
    # the same gateway connection, have arrived, so Z3's would have too.
    assert probe.acks("Z3") == []
    assert control.get("/lanterns/Z3").json()["acks"][0]["status"] == "applied"
    assert probe.statuses("Z4") == ["applied"]
    # The delayed ack is made at once but reaches the broker half a second later: measured
    # from the time the lantern put on it to its arrival, whatever the runner's speed.
    assert arrivals["Z4"] - probe.acks("Z4")[0].at >= timedelta(seconds=0.5)
    assert probe.acks("Z5")[-1].reason == "bad_clip_hash"
    assert len(control.get("/lanterns/Z5").json()["fetched"]) == 3  # tried, then gave up
    assert clips.requests["/busy.wav"] == 3  # two 503s, then the clip
    metrics = control.get("/metrics").json()
    assert metrics["clip_retries"] >= 4
    assert metrics["acks_dropped"] >= 1

    # Clearing the faults: a retry of the same command now gets the lantern's last ack.
    control.delete("/faults").raise_for_status()
    assert control.get("/faults").json() == {"faults": {}, "offline": []}
    probe.send("Z3", light("l3"))
    assert probe.wait_for(lambda: probe.statuses("Z3") == ["applied"], 10)


def test_offline_and_reboot_are_announced_and_lose_what_they_should(
    sim: FleetThread, probe: ServiceProbe, clips: ClipServer, control: httpx.Client
) -> None:
    probe.send("Z7", light("held"))
    assert probe.wait_for(lambda: probe.statuses("Z7") == ["applied"], 10)
    boot = probe.availability("Z7")
    assert boot is not None
    control.post("/faults", json={"spec": "offline=1.5@Z7"}).raise_for_status()
    assert probe.wait_for(lambda: (a := probe.availability("Z7")) is not None and not a.online, 5)
    probe.send("Z7", light("while-away"))  # lost on the lantern's link
    assert probe.wait_for(lambda: (a := probe.availability("Z7")) is not None and a.online, 5)
    assert probe.availability("Z7") == boot  # the same boot: it kept its slots
    assert "while-away" not in {a.cmd_id for a in probe.acks("Z7")}
    assert control.get("/lanterns/Z7").json()["dropped"] == ["link down: command lost"]

    control.post("/faults", json={"spec": "reboot@Z7"}).raise_for_status()

    def rebooted() -> bool:
        now = probe.availability("Z7")
        return now is not None and now.online and now.boot == boot.boot + 1

    assert probe.wait_for(rebooted, 5)
    state = control.get("/lanterns/Z7").json()["state"]
    assert "cmd_id" not in state["channels"]["light"]  # the held command is gone
    # The same command again after the reboot is applied again (the lantern forgot it).
    probe.send("Z7", light("held"))
    assert probe.wait_for(lambda: probe.statuses("Z7", "held") == ["applied", "applied"], 10)


def test_bad_fault_specs_are_refused_with_the_reason(
    sim: FleetThread, control: httpx.Client
) -> None:
    for spec, message in (
        ("explode", "unknown fault"),
        ("offline=10@NOPE", "not in this fleet"),
        ("drop_acks=3", "probability"),
    ):
        response = control.post("/faults", json={"spec": spec})
        assert response.status_code == 422, spec
        assert message in response.json()["detail"]
    assert control.post("/faults", content=b"not json").status_code == 400
    assert control.get("/lanterns/NOPE").status_code == 404
    assert control.put("/trust", content=b"{}").status_code == 409  # unsigned fleet
    assert on_fleet(sim, lambda: sim.fleet.unit("Z0").link.faults.any) is False


def test_firmware_sim_command_line_takes_trust_faults_and_a_control_port(
    mosquitto: Any, topic_root: str, tmp_path: Path
) -> None:
    keys = KeyStore.in_data_dir(tmp_path)
    keys.generate()
    keys.ensure_root()  # trust.json signed, root.pub.json beside it (what --trust-root defaults to)
    features = [
        {"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [8.5, 47.3]}}
        for i in IDS
    ]
    inventory = tmp_path / "lanterns.geojson"
    inventory.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    base = [
        sys.executable,
        "-m",
        "firmware_sim",
        "--broker",
        mosquitto.url,
        "--inventory",
        str(inventory),
        "--root",
        topic_root,
        "--trust",
        str(keys.trust_path),
    ]
    refused = subprocess.run(
        [*base, "--faults", "offline=5@NOPE"],
        cwd=ROOT,
        env=fixed_env(),
        capture_output=True,
        timeout=30,
    )
    assert refused.returncode == 2
    assert b"--faults: @NOPE: not in this fleet: NOPE" in refused.stderr
    bad_trust = subprocess.run(
        [*base[:-1], str(tmp_path / "nope.json")],
        cwd=ROOT,
        env=fixed_env(),
        capture_output=True,
        timeout=30,
    )
    assert bad_trust.returncode == 2
    assert b"trust file not found" in bad_trust.stderr
    unsigned = tmp_path / "unsigned.json"
    listed = keys.trust_list().model_copy(update={"root_kid": None, "sig": None})
    unsigned.write_bytes(listed.to_bytes())
    refused_list = subprocess.run(
        [*base[:-1], str(unsigned), "--trust-root", str(keys.root_public_path)],
        cwd=ROOT,
        env=fixed_env(),
        capture_output=True,
        timeout=30,
    )
    assert refused_list.returncode == 2
    assert b"trust list refused: unsigned" in refused_list.stderr

    control_port = free_port()
    log = tmp_path / "sim.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *base,
                "--faults",
                "broken=speaker@Z1;drop_acks=0.5",
                "--control-port",
                str(control_port),
            ],
            cwd=ROOT,
            env=fixed_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        printed = re.compile(rf"control API on http://127\.0\.0\.1:{control_port}; token: (\S+)")
        wait_until(lambda: bool(printed.search(log.read_text())), 20, "the printed token")
        match = printed.search(log.read_text())
        assert match is not None
        base_url = f"http://127.0.0.1:{control_port}"
        # Without the token, or with another, nothing is answered and nothing changes.
        assert httpx.get(f"{base_url}/faults", timeout=5).status_code == 401
        wrong = {"Authorization": "Bearer " + "x" * 43}
        assert httpx.delete(f"{base_url}/faults", headers=wrong, timeout=5).status_code == 401
        client = httpx.Client(
            base_url=base_url, timeout=5, headers={"Authorization": f"Bearer {match[1]}"}
        )

        def up() -> bool:
            try:
                return bool(client.get("/healthz").json()["gateways_connected"] == 1)
            except httpx.HTTPError:
                return False

        wait_until(up, 20, "firmware-sim to listen")
        faults = client.get("/faults").json()["faults"]
        assert faults["Z1"]["broken"] == ["speaker"]
        assert faults["Z0"]["drop_acks"] == 0.5
        assert client.get("/metrics").json()["trust_version"] == 1
        newer = keys.trust_list().model_copy(update={"version": 5})
        altered = client.put("/trust", content=newer.to_bytes())  # changed after signing
        assert (altered.status_code, altered.json()["reason"]) == (403, "bad_signature")
        root = keys.root()
        assert root is not None
        taken = client.put("/trust", content=root.sign(newer).to_bytes()).json()
        assert taken == {"taken": True, "version": 5}
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "Traceback" not in log.read_text()
    assert log.read_text().count(match[1]) == 1  # printed once, never logged
