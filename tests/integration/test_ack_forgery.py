"""Acks you can trust (issue 13, finding 5): on a broker where anyone may publish, an attacker
announces an offline lantern online (retained) and forges its received/playing/done acks with the
right clip hashes. A lantern provisioned with an ack key signs its acks; the service believes
nothing else from it, counts every refusal by reason and logs it, while the genuine, signed
lantern next to it completes `done`."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import Fleet, load_inventory
from firmware_sim.verifier import TrustFile
from lightctl.cli import app
from lightctl.protocol import Ack, AckStatus, Availability, CommandEnvelope, SpeechItem, Topics
from lightctl.security.ack_keys import PUBLIC_FILE, AckKey, read_private, read_public
from lightctl.signing import KeyStore
from lightctl.store import Database
from lightctl.store import lantern_keys as key_store
from tests.integration.conftest import LANTERNS, FleetThread, LiveService
from tests.support import MosquittoProcess, cli_runner, flat

pytestmark = [pytest.mark.broker]

OFFLINE = "LEU101190"  # keyed, but not running: the attacker speaks for it
GENUINE = "LEU101085"  # keyed and simulated: signs its own acks
BYSTANDER = "LEU101083"  # keyed and simulated, its gateway compromised: its key is stolen


class Attacker:
    """Any client on an open broker: reads commands, publishes whatever it likes."""

    def __init__(self, broker: MosquittoProcess, topics: Topics) -> None:
        self.topics = topics
        self.captured: dict[str, list[CommandEnvelope]] = {}
        self._cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"evil-{uuid.uuid4()}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._subacks: set[int] = set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def listen(self, lantern_id: str) -> None:
        """Subscribe to a lantern's commands; returns once the broker confirmed it (SUBACK)."""
        _rc, mid = self.client.subscribe(self.topics.cmd(lantern_id), qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._subacks, 10), "no SUBACK"

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _props: Any) -> None:
        with self._cond:
            self._subacks.add(mid)
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        parsed = self.topics.parse(message.topic)
        if parsed is None or parsed.lantern_id is None:
            return
        with self._cond:
            env = CommandEnvelope.from_bytes(bytes(message.payload))
            self.captured.setdefault(parsed.lantern_id, []).append(env)
            self._cond.notify_all()

    def command(
        self, lantern_id: str, alert_id: str, channel: str, timeout_s: float = 20
    ) -> CommandEnvelope:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                found = [
                    e
                    for e in self.captured.get(lantern_id, [])
                    if e.channel == channel and e.alert_id == alert_id
                ]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                assert left > 0, f"no {channel} command for {lantern_id} seen on the broker"
                self._cond.wait(left)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def ack(self, ack: Ack, on_topic_of: str | None = None) -> None:
        self.publish(self.topics.ack(on_topic_of or ack.lantern), ack.to_bytes())

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def played(env: CommandEnvelope) -> list[str]:
    """What a lantern lists as played for an audio command: every clip, repeats included."""
    clips = [i.sha256 for i in env.payload.program if isinstance(i, SpeechItem)]  # type: ignore[union-attr]
    return clips * env.payload.repeat  # type: ignore[union-attr]


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def make_credentials(out: Path) -> dict[str, AckKey]:
    """`lightctl mqtt credentials` for the fixture inventory; the private ack keys it wrote."""
    made = cli_runner().invoke(
        app,
        ["mqtt", "credentials", "--inventory", str(LANTERNS), "--out", str(out), "--no-tls"],
    )
    assert made.exit_code == 0, made.output
    secrets = json.loads((out / "credentials.json").read_text())
    return read_private(secrets["ack_keys"], "credentials.json")


@pytest.fixture
def provisioned(tmp_path: Path, inventory: Database) -> dict[str, AckKey]:
    """Every lantern's ack key made with its broker credentials, the public halves stored in the
    service's database (as `lightctl mqtt lantern-keys` does; the test database lives in its own
    PostgreSQL schema, which the command line cannot name). Returns the private keys."""
    keys = make_credentials(tmp_path / "broker")
    public = read_public(tmp_path / "broker" / PUBLIC_FILE)
    assert {k.lantern_id: k.kid for k in public} == {i: k.kid for i, k in keys.items()}
    rows = [key_store.LanternKey(k.lantern_id, k.kid, k.public_key) for k in public]
    with inventory.session() as session:
        key_store.add_keys(session, rows, datetime.now(UTC), replace=True)
    return keys


@pytest.fixture
def signed_fleet(
    service: LiveService,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    provisioned: dict[str, AckKey],
) -> Iterator[Fleet]:
    """GENUINE and BYSTANDER simulated with the keys they were provisioned with; OFFLINE is not."""
    keys = KeyStore.in_data_dir(tmp_path / "data")
    keys.ensure()
    specs = [s for s in load_inventory(LANTERNS) if s.id in (GENUINE, BYSTANDER)]
    sim = FleetThread(
        Fleet(
            mosquitto.url,
            specs,
            speed=20,
            topics=Topics(topic_root),
            gateway_prefix=f"g{uuid.uuid4().hex[:6]}",
            trust=TrustFile.open(keys.trust_path, [keys.ensure_root().public()]),
            ack_keys={i: provisioned[i] for i in (GENUINE, BYSTANDER)},
        )
    )
    sim.start()
    yield sim.fleet
    sim.stop()


def rows_of(service: LiveService, alert_id: str) -> dict[str, dict[str, Any]]:
    body = service.http.get(f"/alerts/{alert_id}", params={"lanterns": True}).json()
    return {r["lantern"]: r for r in body["lanterns"]}


def test_forged_acks_for_an_offline_keyed_lantern_change_nothing_and_are_counted(
    service: LiveService,
    signed_fleet: Fleet,
    mosquitto: MosquittoProcess,
    topic_root: str,
    provisioned: dict[str, AckKey],
    caplog: pytest.LogCaptureFixture,
) -> None:
    topics = Topics(topic_root)
    attacker = Attacker(mosquitto, topics)
    try:
        attacker.listen(OFFLINE)
        attacker.listen(GENUINE)
        # The first step: a retained "online" for a lantern that is not there.
        fake_online = Availability(online=True, boot=1).to_bytes()
        attacker.publish(topics.availability(OFFLINE), fake_online, retain=True)
        response = service.http.post(
            "/alerts",
            json={"target": {"lanterns": [OFFLINE, GENUINE]}, "messages": {"de": "Achtung."}},
        )
        assert response.status_code == 201, response.text
        alert_id = response.json()["id"]
        audio = attacker.command(OFFLINE, alert_id, "audio")
        light = attacker.command(OFFLINE, alert_id, "light")
        now = datetime.now(UTC)
        stolen = provisioned[BYSTANDER]  # a compromised gateway's lantern key
        mine = AckKey.generate(OFFLINE)  # the attacker's own key
        offline_kid = provisioned[OFFLINE].kid

        def forged(status: AckStatus, cmd: CommandEnvelope = audio) -> Ack:
            proof = played(cmd) if status is AckStatus.DONE else None
            return Ack(cmd_id=cmd.id, lantern=OFFLINE, status=status, at=now, played=proof)

        for status in (AckStatus.RECEIVED, AckStatus.PLAYING, AckStatus.DONE):
            attacker.ack(forged(status))  # unsigned, with the right clip hashes
        attacker.ack(forged(AckStatus.APPLIED, light))
        attacker.ack(stolen.sign(forged(AckStatus.DONE)))  # another lantern's key
        # The offline lantern's own kid, the attacker's key: the signature does not match.
        impostor = AckKey(OFFLINE, offline_kid, mine.private)
        attacker.ack(impostor.sign(forged(AckStatus.DONE)))
        attacker.ack(mine.sign(forged(AckStatus.DONE)))  # a key the service never stored

        # Meanwhile the genuine lantern plays to the end; every ack it sent was signed.
        wait_until(lambda: rows_of(service, alert_id)[GENUINE]["state"] == "done", "GENUINE's done")
        # A second warning only for GENUINE (after the first, which it would interrupt): its
        # command is never sent to OFFLINE, and even OFFLINE's real key cannot make it delivered.
        other = service.http.post(
            "/alerts", json={"target": {"lanterns": [GENUINE]}, "messages": {"de": "Zweitens."}}
        )
        assert other.status_code == 201, other.text
        elsewhere = attacker.command(GENUINE, other.json()["id"], "audio")
        attacker.ack(provisioned[OFFLINE].sign(forged(AckStatus.DONE, elsewhere)))

        def counted() -> dict[str, int]:
            return dict(service.http.get("/metrics").json()["counters"])

        expected = {
            "consumer_ack_refused_unsigned": 4,
            "consumer_ack_refused_foreign_key": 1,
            "consumer_ack_refused_bad_signature": 1,
            "consumer_ack_refused_unknown_key": 1,
            "consumer_ack_unknown_command": 1,
        }
        # The positive sign that every forgery was read: each is counted by its reason.
        wait_until(
            lambda: all(counted().get(k, 0) >= v for k, v in expected.items()), "the refusals"
        )
        rows = rows_of(service, alert_id)
        assert rows[GENUINE]["played"] == played(audio)
        assert rows[OFFLINE]["state"] == "published", rows[OFFLINE]
        assert rows[OFFLINE]["played"] is None
        body = service.http.get(f"/alerts/{alert_id}").json()
        assert body["counts"] == {"done": 1, "published": 1}, body["counts"]
        acks = list(signed_fleet.record(GENUINE).acks)
        assert acks
        assert all(a.kid == provisioned[GENUINE].kid and a.sig for a in acks)
        counters = counted()
        for key, value in expected.items():
            assert counters.get(key, 0) == value, (key, counters)
        assert counters["consumer_ack_signed"] >= 3  # received, playing, done of GENUINE at least
        text = service.http.get("/metrics", params={"format": "prometheus"}).text
        assert 'lightctl_acks_refused_total{reason="unsigned"} 4' in text
        assert 'lightctl_acks_refused_total{reason="foreign_key"} 1' in text
        assert any("refused ack on" in r.getMessage() for r in caplog.records)
    finally:
        attacker.publish(topics.availability(OFFLINE), b"", retain=True)
        attacker.stop()


def test_a_keyed_lantern_whose_key_is_revoked_is_believed_unsigned_again(
    inventory: Database, provisioned: dict[str, AckKey]
) -> None:
    """Revoking is how a lantern without its key (replaced board) is taken back: the store says
    it has no key left, so the consumer takes its unsigned acks as protocol v1's."""
    with inventory.session() as session:
        assert set(key_store.active_keys(session, [OFFLINE])[OFFLINE]) == {provisioned[OFFLINE].kid}
        assert key_store.revoke(session, OFFLINE, datetime.now(UTC)) == 1
    with inventory.session() as session:
        assert key_store.active_keys(session, [OFFLINE]) == {}
        assert key_store.owners(session, [provisioned[OFFLINE].kid]) == {
            provisioned[OFFLINE].kid: OFFLINE
        }


def test_lantern_keys_cli_stores_the_public_keys_and_names_a_bad_file(tmp_path: Path) -> None:
    keys = make_credentials(tmp_path / "broker")
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    db.create_all()
    runner = cli_runner()
    args = ["mqtt", "lantern-keys", "--database-url", db.url]
    stored = runner.invoke(app, [*args, str(tmp_path / "broker" / PUBLIC_FILE)])
    assert stored.exit_code == 0, stored.output
    assert f"{len(keys)} new ack keys of {len(keys)} lanterns stored" in flat(stored.output)
    with db.session() as session:
        active = key_store.active_keys(session, list(keys))
    assert {i: set(k) for i, k in active.items()} == {i: {k.kid} for i, k in keys.items()}
    # New keys for one lantern replace (revoke) its old one.
    again = make_credentials(tmp_path / "again")
    stored = runner.invoke(app, [*args, str(tmp_path / "again" / PUBLIC_FILE)])
    assert stored.exit_code == 0, stored.output
    with db.session() as session:
        active = key_store.active_keys(session, [OFFLINE])
    assert set(active[OFFLINE]) == {again[OFFLINE].kid}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"v": 1, "lanterns": {OFFLINE: {"kid": "ak-1", "public_key": "x"}}}))
    refused = runner.invoke(app, [*args, str(bad)])
    assert refused.exit_code == 2
    assert f"lanterns.{OFFLINE}.public_key" in flat(refused.output)
    db.dispose()
