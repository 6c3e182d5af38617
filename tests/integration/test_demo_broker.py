"""The demo's broker is no longer open (issue 13, finding 5): Mosquitto or the in-process amqtt,
as `lightctl demo` starts it, lets in only the generated accounts, limits each by the generated
ACL and listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import Fleet, load_inventory
from lightctl.broker import EmbeddedBroker
from lightctl.protocol import TopicKind, Topics
from lightctl.security.broker import SERVICE_USER, inventory_ids
from lightctl.store import Database
from lightctl.store import lantern_keys as key_store
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, make_settings
from tests.support import have_mosquitto

pytestmark = [pytest.mark.broker]

T = Topics("lightctl")


@pytest.fixture(params=["mosquitto", "amqtt"])
def demo_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedBroker]:
    if request.param == "mosquitto" and not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    ids = inventory_ids(LANTERNS)
    broker = EmbeddedBroker.locked_down(
        tmp_path / "broker", ids, preferred_port=0, prefer_mosquitto=request.param == "mosquitto"
    )
    broker.start()
    assert broker.kind == request.param
    yield broker
    broker.stop()


class Client:
    """A paho client that records what it receives; ``rc`` is the CONNACK reason (0: in)."""

    def __init__(self, broker: EmbeddedBroker, user: str | None, password: str | None) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.rc = -1
        self.refusal = ""
        self._cond = threading.Condition()
        # amqtt speaks MQTT 3.1.1 only; Mosquitto is spoken to in MQTT 5 as the service and the
        # simulator do (a refused 3.1.1 publish costs the connection there, a v5 one a PUBACK).
        protocol = mqtt.MQTTv5 if broker.kind == "mosquitto" else mqtt.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, f"t-{uuid.uuid4().hex[:8]}", protocol=protocol
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._subacks: set[int] = set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self.rc != -1, 10)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._cond:
            self.rc = reason.value
            self.refusal = str(reason) if reason.is_failure else ""
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.received.append((message.topic, bytes(message.payload)))
            self._cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        with self._cond:
            self._subacks.add(mid)
            self._cond.notify_all()

    def subscribe(self, topic: str) -> None:
        _rc, mid = self.client.subscribe(topic, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._subacks, 10), "no SUBACK"

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def wait_for(self, payload: bytes) -> list[bytes]:
        """Every payload received up to and including ``payload`` (the sentinel)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: any(p == payload for _t, p in self.received), 10)
            assert ok, f"{payload!r} never arrived"
            return [p for _t, p in self.received]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def secrets_of(broker: EmbeddedBroker) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(broker.credentials_file.read_text())
    return data


def test_nobody_gets_in_anonymously_or_with_a_wrong_password(demo_broker: EmbeddedBroker) -> None:
    secrets = secrets_of(demo_broker)
    anonymous = Client(demo_broker, None, None)
    wrong = Client(demo_broker, SERVICE_USER, "not-the-password")
    stranger = Client(demo_broker, "someone", "x")
    service = Client(demo_broker, SERVICE_USER, secrets["service"]["password"])
    try:
        for refused in (anonymous, wrong, stranger):
            assert refused.refusal in ("Not authorized", "Bad user name or password")
        assert service.rc == 0
        assert (
            secrets["service"]["password"] == demo_broker.service_password_file.read_text().strip()
        )
        assert (demo_broker.credentials_file.stat().st_mode & 0o777) == 0o600
        assert set(secrets["ack_keys"]) == set(inventory_ids(LANTERNS))
    finally:
        for c in (anonymous, wrong, stranger, service):
            c.stop()


def test_a_gateway_reaches_only_its_lanterns_and_only_the_service_commands(
    demo_broker: EmbeddedBroker,
) -> None:
    secrets = secrets_of(demo_broker)
    ids = inventory_ids(LANTERNS)
    own = ids[0]
    service = Client(demo_broker, SERVICE_USER, secrets["service"]["password"])
    gateway = Client(demo_broker, "sim-00", secrets["gateways"]["sim-00"])
    creds = demo_broker.credentials
    assert creds is not None
    # The simulator's one gateway serves all 148 fixture lanterns; a lantern outside its list
    # stands for another gateway's.
    foreign = "LEU-NOT-MINE"
    assert own in creds.gateways["sim-00"][1]
    assert foreign not in creds.gateways["sim-00"][1]
    try:
        assert (service.rc, gateway.rc) == (0, 0)
        service.subscribe(T.all_lanterns(TopicKind.ACK))
        gateway.subscribe(T.cmd(own))
        # Forbidden to the gateway: a command, and an ack for a lantern it does not serve. Each
        # from a fresh connection of the same account: Mosquitto may hang up after a refusal.
        for topic, payload in ((T.cmd(own), b"forged command"), (T.ack(foreign), b"forged ack")):
            rogue = Client(demo_broker, "sim-00", secrets["gateways"]["sim-00"])
            try:
                rogue.publish(topic, payload)
            except RuntimeError:
                pass  # refused by disconnection is as good as refused by PUBACK
            rogue.stop()
        gateway.publish(T.ack(own), b"sentinel")
        got = service.wait_for(b"sentinel")
        assert b"forged ack" not in got
        # The service's command reaches the gateway; the gateway's own forgery never did.
        service.publish(T.cmd(own), b"genuine command")
        got = gateway.wait_for(b"genuine command")
        assert b"forged command" not in got
    finally:
        service.stop()
        gateway.stop()


def outward_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never answers, only picks the route
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


def test_the_demo_broker_listens_on_loopback_only(demo_broker: EmbeddedBroker) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("no address other than loopback on this machine")
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((address, demo_broker.port)) != 0  # refused on the LAN side
    with socket.create_connection(("127.0.0.1", demo_broker.port), 2):
        pass  # and open on loopback


@pytest.mark.e2e
def test_a_warning_reaches_signed_lanterns_through_the_locked_in_process_broker(
    sqlite_inventory: Database, tmp_path: Path
) -> None:
    """The fallback broker (amqtt, MQTT 3.1.1 only) locked down as the demo runs it: the service
    and the simulator's gateways sign in with the generated accounts and a warning completes."""
    ids = inventory_ids(LANTERNS)
    broker = EmbeddedBroker.locked_down(
        tmp_path / "broker", ids, preferred_port=0, prefer_mosquitto=False
    )
    broker.start()
    creds = broker.credentials
    assert creds is not None
    with sqlite_inventory.session() as session:
        rows = [
            key_store.LanternKey(k.lantern_id, k.kid, k.public.public_key)
            for k in creds.ack_keys.values()
        ]
        key_store.add_keys(session, rows, datetime.now(UTC))
    settings = make_settings(
        tmp_path,
        broker.url,
        "lightctl",
        mqtt_username=creds.service[0],
        mqtt_password_file=broker.service_password_file,
    )
    live = LiveService(settings, sqlite_inventory)
    live.start()
    specs = load_inventory(LANTERNS)[:20]
    passwords = {g: pw for g, (pw, _ids) in creds.gateways.items()}
    sim = FleetThread(
        Fleet(broker.url, specs, speed=20, passwords=passwords, ack_keys=creds.ack_keys)
    )
    sim.start()
    try:
        targets = [s.id for s in specs]
        response = live.http.post(
            "/alerts", json={"target": {"lanterns": targets}, "messages": {"de": "Achtung."}}
        )
        assert response.status_code == 201, response.text
        body = live.wait_for(response.json()["id"], lambda b: b["status"] != "sending", 60)
        assert body["counts"] == {"done": len(targets)}
        counters = live.http.get("/metrics").json()["counters"]
        assert counters["consumer_ack_signed"] >= 3 * len(targets)
        assert not [k for k in counters if k.startswith("consumer_ack_refused_")]
    finally:
        sim.stop()
        live.stop()
        broker.stop()
