"""A real Mosquitto locked down with the files `lightctl mqtt credentials` writes: lanterns reach
only their own topics, only the service writes commands, nobody gets in anonymously, and the TLS
listener proves itself with the generated CA."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from lightctl.cli import app
from lightctl.protocol import Topics
from lightctl.security import broker
from tests.support import (
    FIXTURES,
    MosquittoProcess,
    cli_runner,
    free_port,
    have_mosquitto,
    wait_for_port,
)

pytestmark = [pytest.mark.broker]

ROOT = "lightctl"
T = Topics(ROOT)


class Locked:
    def __init__(self, proc: MosquittoProcess, tls_port: int, files: Path) -> None:
        self.proc, self.tls_port, self.files = proc, tls_port, files
        self.secrets = json.loads((files / broker.SECRETS_FILE).read_text())
        self.lanterns = sorted(self.secrets["lanterns"])

    def password(self, user: str) -> str:
        if user == self.secrets["service"]["username"]:
            return str(self.secrets["service"]["password"])
        return str(self.secrets["lanterns"].get(user) or self.secrets["gateways"][user])


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Locked]:
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    files = tmp_path / "broker"
    plain_port, tls_port = free_port(), free_port()
    result = cli_runner().invoke(
        app,
        [
            "mqtt",
            "credentials",
            "--inventory",
            str(FIXTURES / "zurich_lanterns_small.geojson"),
            "--out",
            str(files),
            "--per-connection",
            "50",
            "--plain-port",
            str(plain_port),
            "--tls-port",
            str(tls_port),
        ],
    )
    assert result.exit_code == 0, result.output
    # The broker runs the generated mosquitto.conf as docker-compose does (no anonymous clients,
    # password file, ACL, TLS listener with the generated CA), nothing added but the user line.
    conf = (files / broker.CONF_FILE).read_text()
    assert "allow_anonymous false" in conf
    proc = MosquittoProcess.from_conf(tmp_path, _as_owner() + conf, plain_port)
    proc.start()
    wait_for_port(tls_port)
    yield Locked(proc, tls_port, files)
    proc.stop()


def _as_owner() -> str:
    """Mosquitto started as root drops to user `mosquitto`, which may not read our 0600 files."""
    return "user root\n" if os.geteuid() == 0 else ""


def _client(
    locked: Locked,
    user: str | None,
    port: int | None = None,
    tls: bool = False,
    protocol: MQTTProtocolVersion = mqtt.MQTTv5,
) -> tuple[mqtt.Client, int]:
    """Connect and return (client, CONNACK reason code value); 0 means accepted."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, f"t-{uuid.uuid4().hex[:8]}", protocol=protocol
    )
    if user is not None:
        client.username_pw_set(user, locked.password(user))
    if tls:
        client.tls_set(ca_certs=str(locked.files / "ca.crt"), cert_reqs=ssl.CERT_REQUIRED)
    done = threading.Event()
    outcome = {"rc": -1}

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        outcome["rc"] = int(getattr(rc, "value", rc))  # type: ignore[call-overload]
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port or locked.proc.port)
    client.loop_start()
    done.wait(5)
    return client, outcome["rc"]


def _subscribe(client: mqtt.Client, topics: list[tuple[str, int]]) -> None:
    """Subscribe and wait for the SUBACK: from then on the broker routes to this client."""
    acked = threading.Event()
    client.on_subscribe = lambda *_args: acked.set()
    client.subscribe(topics)
    assert acked.wait(5), f"no SUBACK for {topics}"


def _collect(client: mqtt.Client, topic: str) -> list[bytes]:
    got: list[bytes] = []
    client.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    _subscribe(client, [(topic, 1)])
    return got


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _try_publish(locked: Locked, user: str, topic: str, payload: bytes) -> None:
    """Publish QoS 1 and wait until the broker has dealt with it: a PUBACK (Mosquitto answers a
    refused publish with one too, and routes nothing) or the broker hanging up. Either way
    the broker has processed the message before this returns, so a sentinel sent later is
    routed after anything this one might have leaked."""
    client, rc = _client(locked, user)
    assert rc == 0
    dealt_with = threading.Event()
    client.on_publish = lambda *_args: dealt_with.set()
    client.on_disconnect = lambda *_args: dealt_with.set()
    client.publish(topic, payload, qos=1)
    assert dealt_with.wait(5), f"the broker neither acked nor refused {topic}"
    _stop(client)


def _sentinel(sender: mqtt.Client, topic: str, seen: Callable[[], bool], what: str) -> None:
    """Publish on ``topic`` from ``sender`` and wait until ``seen()``: everything the broker
    processed before it has been routed by then (Mosquitto delivers to each subscriber in the
    order it processed the messages)."""
    sender.publish(topic, b"sentinel:" + what.encode(), qos=1).wait_for_publish(5)
    _until(seen, f"the sentinel after {what}")


def _stop(*clients: mqtt.Client) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()


def test_anonymous_and_wrong_passwords_are_refused(locked: Locked) -> None:
    client, rc = _client(locked, None)
    _stop(client)
    assert rc != 0
    over_tls, rc = _client(locked, None, port=locked.tls_port, tls=True)  # on both listeners
    _stop(over_tls)
    assert rc != 0
    bad = mqtt.Client(CallbackAPIVersion.VERSION2, "wrong", protocol=mqtt.MQTTv5)
    bad.username_pw_set(locked.lanterns[0], "not-the-password")
    outcome: list[int] = []
    answered = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        outcome.append(int(getattr(rc, "value", rc)))  # type: ignore[call-overload]
        answered.set()

    bad.on_connect = on_connect
    bad.connect("127.0.0.1", locked.proc.port)
    bad.loop_start()
    assert answered.wait(5), "no CONNACK for a wrong password"
    _stop(bad)
    assert outcome[0] != 0


def test_a_lantern_reaches_only_its_own_topics(locked: Locked) -> None:
    me, other = locked.lanterns[0], locked.lanterns[1]
    service, rc = _client(locked, "lightctl-service")
    assert rc == 0
    spy = _collect(service, f"{ROOT}/v1/#")
    lantern, rc = _client(locked, me)
    assert rc == 0
    # Its own reports arrive at the service.
    lantern.publish(T.ack(me), b"own-ack", qos=1).wait_for_publish(2)
    # Another lantern's reports and any command topic are dropped by the broker (each from a
    # fresh connection: the broker may hang up on a client after a refused publish).
    for topic in (T.ack(other), T.state(other), T.availability(other), T.cmd(me), T.cmd(other)):
        _try_publish(locked, me, topic, b"forged:" + topic.encode())
    _sentinel(lantern, T.ack(me), lambda: b"sentinel:forged" in spy, "forged")
    assert b"own-ack" in spy
    assert not [p for p in spy if p.startswith(b"forged:")], spy
    # It cannot read another lantern's commands; its own arrive.
    received: list[tuple[str, bytes]] = []
    lantern.on_message = lambda _c, _u, m: received.append((m.topic, bytes(m.payload)))
    _subscribe(lantern, [(T.cmd(other), 1), (T.cmd(me), 1), (f"{ROOT}/v1/lanterns/+/cmd", 1)])
    service.publish(T.cmd(other), b"for-other", qos=1).wait_for_publish(2)
    service.publish(T.cmd(me), b"for-me", qos=1).wait_for_publish(2)
    # The sentinel goes after both, from the same connection, to the topic the lantern may read.
    _sentinel(service, T.cmd(me), lambda: (T.cmd(me), b"sentinel:commands") in received, "commands")
    _stop(service, lantern)
    assert (T.cmd(me), b"for-me") in received
    leaked = [p for t, p in received if p == b"for-other" or t != T.cmd(me)]
    assert not leaked, received


def test_a_gateway_speaks_only_for_its_lanterns(locked: Locked) -> None:
    gateways = locked.secrets["gateways"]
    assert len(gateways) >= 2
    mine = broker.simulator_gateways(
        broker.inventory_ids(FIXTURES / "zurich_lanterns_small.geojson"), "sim", 50
    )
    first, second = mine["sim-00"][0], mine["sim-01"][0]
    service, _ = _collect_service(locked)
    spy = _collect(service, f"{ROOT}/v1/#")
    gateway, rc = _client(locked, "sim-00")
    assert rc == 0
    gateway.publish(T.ack(first), b"ok-first", qos=1).wait_for_publish(2)
    gateway.publish(T.gateway_availability("sim-00"), b"ok-gw", qos=1).wait_for_publish(2)
    _try_publish(locked, "sim-00", T.ack(second), b"forged-second")
    _try_publish(locked, "sim-00", T.gateway_availability("sim-01"), b"forged-gw")
    _sentinel(gateway, T.ack(first), lambda: b"sentinel:forged" in spy, "forged")
    _stop(service, gateway)
    assert b"ok-first" in spy
    assert b"ok-gw" in spy
    assert b"forged-second" not in spy
    assert b"forged-gw" not in spy


def _collect_service(locked: Locked) -> tuple[mqtt.Client, int]:
    return _client(locked, "lightctl-service")


def test_tls_listener_accepts_the_service_with_the_test_ca(locked: Locked) -> None:
    client, rc = _client(locked, "lightctl-service", port=locked.tls_port, tls=True)
    assert rc == 0
    got = _collect(client, f"{ROOT}/v1/lanterns/+/ack")
    client.publish(T.ack(locked.lanterns[0]), b"over-tls", qos=1).wait_for_publish(2)
    _until(lambda: b"over-tls" in got, "the message over TLS")
    _stop(client)
    # Without the CA the certificate is not trusted.
    untrusting = mqtt.Client(CallbackAPIVersion.VERSION2, "untrusting", protocol=mqtt.MQTTv5)
    untrusting.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    with pytest.raises(ssl.SSLError):
        untrusting.connect("127.0.0.1", locked.tls_port)


def test_own_pbkdf2_hashes_are_accepted_by_mosquitto(tmp_path: Path) -> None:
    """The fallback writer (no mosquitto_passwd binary) produces entries Mosquitto accepts."""
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    creds = broker.BrokerCredentials.generate(["L1"], {})
    broker.write_all(tmp_path / "b", creds, [ROOT], use_binary=False)
    assert (tmp_path / "b" / broker.PASSWD_FILE).read_text().count("$7$101$") == 2
    extra = (
        _as_owner()
        + f"password_file {tmp_path / 'b' / broker.PASSWD_FILE}\n"
        + f"acl_file {tmp_path / 'b' / broker.ACL_FILE}\n"
    )
    proc = MosquittoProcess(tmp_path, extra_conf=extra, allow_anonymous=False)
    proc.start()
    try:
        locked = Locked(proc, 0, tmp_path / "b")
        client, rc = _client(locked, "L1")
        _stop(client)
        assert rc == 0
    finally:
        proc.stop()
