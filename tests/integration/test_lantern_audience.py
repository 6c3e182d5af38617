"""A captured command plays nowhere else (issue 13, finding 1): every copy names its lantern
inside what is signed, and the lantern's replay protection survives a reboot."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import Fleet
from lightctl.protocol import CommandEnvelope, Topics
from tests.integration.conftest import LiveService
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


def warn(service: LiveService, lantern_id: str) -> dict[str, Any]:
    response = service.http.post(
        "/alerts",
        json={
            "target": {"lanterns": [lantern_id]},
            "messages": {"de": "Übung. Bitte Fenster schliessen."},
            "light": False,
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
