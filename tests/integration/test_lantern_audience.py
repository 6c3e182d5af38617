"""A captured command plays nowhere else (issue 13, finding 1): every copy names its lantern
inside what is signed, and the lantern's replay protection survives a reboot."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import Fleet
from firmware_sim.control import apply_spec
from lightctl.protocol import CommandEnvelope, Topics
from tests.integration.conftest import FleetThread, LiveService, simulated_fleet
from tests.integration.resilience import wait_until
from tests.support import MosquittoProcess

pytestmark = pytest.mark.broker

# Two lanterns of the fixture inventory, a few metres apart (both have a speaker).
A, B = "LEU101190", "LEU101085"


class Wiretap:
    """An attacker on the broker: records every command published to a lantern and can publish
    bytes of its own (the demo's broker let anyone do both)."""

    def __init__(self, broker: MosquittoProcess, topics: Topics, lantern_id: str) -> None:
        self.topics = topics
        self.captured: list[bytes] = []
        self._subscribed = threading.Event()
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, f"tap-{uuid.uuid4().hex[:8]}")
        self._client.on_connect = lambda c, *_: c.subscribe(topics.cmd(lantern_id), qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        host, port = broker.url.removeprefix("mqtt://").split(":")
        self._client.connect(host, int(port))
        self._client.loop_start()
        assert self._subscribed.wait(10), "the wiretap did not subscribe"

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.captured.append(bytes(message.payload))

    def first(self, channel: str) -> bytes | None:
        with self._lock:
            for raw in self.captured:
                if CommandEnvelope.from_bytes(raw).channel == channel:
                    return raw
        return None

    def publish(self, lantern_id: str, payload: bytes) -> None:
        self._client.publish(self.topics.cmd(lantern_id), payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def tap(mosquitto: MosquittoProcess, topic_root: str) -> Iterator[Wiretap]:
    wiretap = Wiretap(mosquitto, Topics(topic_root), A)
    yield wiretap
    wiretap.close()


def warn(service: LiveService, lantern_id: str, light: bool = False) -> dict[str, Any]:
    response = service.http.post(
        "/alerts",
        json={
            "target": {"lanterns": [lantern_id]},
            "messages": {"de": "Übung. Bitte Fenster schliessen."},
            "light": light,
            "projection": False,
            "exercise": True,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def acks(fleet: Fleet, lantern_id: str, cmd_id: str) -> list[tuple[str, str | None]]:
    record = fleet.call(lambda: list(fleet.record(lantern_id).acks))
    return [(a.status.value, a.reason) for a in record if a.cmd_id == cmd_id]


def played(fleet: Fleet, lantern_id: str) -> list[str]:
    return fleet.call(lambda: [cmd_id for cmd_id, _clips in fleet.record(lantern_id).played])


def test_a_warning_captured_for_one_lantern_is_refused_by_its_neighbour(
    service: LiveService, fleet: Fleet, tap: Wiretap
) -> None:
    alert = warn(service, A)
    done = service.wait_for(alert["id"], lambda body: body["status"] != "sending")
    assert done["counts"] == {"done": 1}
    captured = tap.first("audio")
    assert captured is not None
    cmd_id = CommandEnvelope.from_bytes(captured).id
    assert CommandEnvelope.from_bytes(captured).aud == f"lanterns/{A}"
    assert played(fleet, A) == [cmd_id]

    tap.publish(B, captured)  # byte for byte, to B's own cmd topic
    wait_until(lambda: bool(acks(fleet, B, cmd_id)), 10, "B to answer the replayed envelope")
    assert acks(fleet, B, cmd_id) == [("rejected", "wrong_audience")]
    assert fleet.call(lambda: fleet.lantern(B).playing) is None
    assert fleet.call(lambda: fleet.lantern(B).slot("audio", 1)) is None
    assert played(fleet, B) == []
    # The dispatcher's view still lists A alone, done.
    rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()["lanterns"]
    assert [(r["lantern"], r["state"]) for r in rows] == [(A, "done")]


def test_a_lantern_refuses_what_it_played_before_a_reboot_and_after_a_restart(
    service: LiveService,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    tap: Wiretap,
) -> None:
    prefix = f"r{uuid.uuid4().hex[:6]}"

    def boot_fleet() -> FleetThread:
        sim = simulated_fleet(
            mosquitto.url,
            topic_root,
            data_dir=service.settings.data_dir,
            state_dir=tmp_path / "sim-state",
            gateway_prefix=prefix,
        )
        sim.start()
        return sim

    sim = boot_fleet()
    fleet = sim.fleet
    try:
        alert = warn(service, A, light=True)
        body = service.wait_for(
            alert["id"],
            lambda b: (
                {c["channel"]: c["counts"] for c in b["commands"]}
                == {"audio": {"done": 1}, "light": {"applied": 1}}
            ),
        )
        ids = {c["channel"]: c["id"] for c in body["commands"]}
        captured = tap.first("audio")
        assert captured is not None
        assert played(fleet, A) == [ids["audio"]]

        # A reboots: its slots are gone; the service sends the held light again (fresh seq).
        acks_before = len(acks(fleet, A, ids["light"]))
        fleet.call(lambda: apply_spec(fleet, f"reboot@{A}"))
        wait_until(
            lambda: (
                len(acks(fleet, A, ids["light"])) > acks_before
                and fleet.call(lambda: fleet.lantern(A).slot("light", 1)) == ids["light"]
            ),
            15,
            "the service's re-sent light to be applied after the reboot",
        )
        assert acks(fleet, A, ids["light"])[-1] == ("applied", None)

        # The warning it played before the reboot, captured and published again: refused.
        tap.publish(A, captured)
        wait_until(
            lambda: len(acks(fleet, A, ids["audio"])) >= 4, 10, "A to answer the replayed copy"
        )
        assert acks(fleet, A, ids["audio"]) == [
            ("received", None),
            ("playing", None),
            ("done", None),
            ("rejected", "replayed"),
        ]
        assert fleet.call(lambda: fleet.lantern(A).playing) is None
        assert played(fleet, A) == [ids["audio"]]
    finally:
        sim.stop()

    # The whole simulator restarts (a power cut of every lantern): the memory is on disk.
    assert (tmp_path / "sim-state" / f"replay.{prefix}.json").exists()
    sim = boot_fleet()
    fleet = sim.fleet
    try:
        tap.publish(A, captured)
        wait_until(lambda: bool(acks(fleet, A, ids["audio"])), 10, "A to answer after the restart")
        assert acks(fleet, A, ids["audio"]) == [("rejected", "replayed")]
        assert fleet.call(lambda: fleet.lantern(A).playing) is None
        assert played(fleet, A) == []
    finally:
        sim.stop()
