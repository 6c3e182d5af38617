"""Two ``lightctl serve`` replicas on one PostgreSQL and one Mosquitto take 50 concurrent
lifecycle calls on one alert, spread over both: exactly one terminal outcome, every call 2xx or
409, and no lantern is sent a warning after the cancel or all-clear was committed (checked on the
broker, in the order the broker delivered the commands)."""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lightctl.services.inventory import import_lanterns
from lightctl.signing import KeyStore
from lightctl.store import Database
from tests.integration.resilience import (
    GERMAN,
    ServeProcess,
    audio_command,
    demo_lanterns,
    finished,
    lantern_ids,
    on_fleet,
    process_postgres,
    signed_fleet,
    wait_until,
)
from tests.support import MosquittoProcess, free_port

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.postgres]

LANTERNS = 12
CALLS = 50


@pytest.fixture
def shared_postgres() -> Iterator[tuple[str, Database]]:
    yield from process_postgres()


class CommandTap:
    """Every command the broker delivers to the lanterns' topics, in the broker's order."""

    def __init__(self, url: str, root: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.seen: list[tuple[str, dict[str, object]]] = []
        self.arrived: list[float] = []  # time.monotonic() of each, in the same order
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.connect(host, int(port))
        self._client.subscribe(f"{root}/v1/lanterns/+/cmd", qos=1)
        self._client.loop_start()
        assert self._subscribed.wait(10), "the tap never subscribed"

    def _on_message(self, _client: object, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        lantern = msg.topic.split("/")[-2]
        with self._lock:
            self.seen.append((lantern, json.loads(msg.payload)))
            self.arrived.append(time.monotonic())

    def commands(self) -> list[tuple[str, dict[str, object]]]:
        with self._lock:
            return list(self.seen)

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def two_replicas(
    url: str, broker: MosquittoProcess, topic_root: str, tmp_path: Path
) -> list[ServeProcess]:
    """Two ``lightctl serve`` processes on one database and broker, signing with the same keys."""
    data_dir = tmp_path / "data"
    KeyStore.in_data_dir(data_dir).ensure()
    token = f"lct_{secrets.token_urlsafe(32)}"
    replicas: list[ServeProcess] = []
    for name in ("a", "b"):
        port = free_port()
        env = {
            **os.environ,
            "LIGHTCTL_DATA_DIR": str(data_dir),
            "LIGHTCTL_DATABASE_URL": url,
            "LIGHTCTL_MQTT_URL": broker.url,
            "LIGHTCTL_MQTT_ROOT": topic_root,
            "LIGHTCTL_MQTT_CLIENT_ID": f"svc-{name}-{topic_root}"[:60],
            "LIGHTCTL_HTTP_HOST": "127.0.0.1",
            "LIGHTCTL_HTTP_PORT": str(port),
            "LIGHTCTL_ACK_TIMEOUT_S": "3",
            "LIGHTCTL_PRERENDER_TEMPLATES": "false",
            "LIGHTCTL_BOOTSTRAP_TOKEN": token,
        }
        replicas.append(ServeProcess(env, tmp_path / f"serve-{name}.log", port, token))
    return replicas


def test_concurrent_lifecycle_calls_over_two_replicas_end_once(
    shared_postgres: tuple[str, Database],
    own_mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> None:
    url, db = shared_postgres
    inventory = demo_lanterns(tmp_path, LANTERNS)
    db.create_all()
    import_lanterns(db, inventory)
    ids = lantern_ids(inventory)
    replicas = two_replicas(url, own_mosquitto, topic_root, tmp_path)
    tap = CommandTap(own_mosquitto.url, topic_root)
    try:
        for replica in replicas:
            replica.start()
        created = replicas[0].http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 600},
        )
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]

        rng = random.Random(15)
        calls = [
            rng.choice(["update", "update", "update", "cancel", "all-clear", "approve"])
            for _ in range(CALLS)
        ]

        def call(index: int) -> tuple[str, int, str]:
            kind = calls[index]
            http = replicas[index % 2].http
            if kind == "update":
                text = f"Update {index}: Brand in der Bahnhofstrasse, Fenster schliessen."
                response = http.post(f"/alerts/{alert_id}/update", json={"messages": {"de": text}})
            elif kind == "cancel":
                response = http.post(f"/alerts/{alert_id}/cancel")
            elif kind == "all-clear":
                response = http.post(f"/alerts/{alert_id}/all-clear", json={})
            else:
                response = http.post(f"/alerts/{alert_id}/approve")
            return kind, response.status_code, response.text

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(call, range(CALLS)))

        odd = [a for a in answers if not (200 <= a[1] < 300 or a[1] == 409)]
        assert not odd, odd
        ended = [a for a in answers if a[0] in ("cancel", "all-clear") and a[1] < 300]
        assert len(ended) == 1, answers
        final = replicas[1].alert(alert_id)
        assert final["status"] == {"cancel": "cancelled", "all-clear": "all_clear"}[ended[0][0]]
        ended_at = datetime.fromisoformat(final["ended_at"])

        # The terminal change's own commands carry its time as issued_at (the alert's ended_at);
        # wait until each lantern has been sent one: no other `set` may follow it.
        def terminal_everywhere() -> bool:
            got = {lid for lid, env in tap.commands() if _issued(env) == ended_at}
            return got >= set(ids)

        wait_until(terminal_everywhere, 30, "the terminal commands to reach every lantern")
        late: list[str] = []
        for lantern in ids:
            stream = [env for lid, env in tap.commands() if lid == lantern]
            first_end = next(i for i, env in enumerate(stream) if _issued(env) == ended_at)
            late += [
                f"{lantern}: {env['id']} ({env['op']}, issued {env['issued_at']})"
                for env in stream[first_end:]
                if env["op"] == "set" and _issued(env) != ended_at
            ]
        assert not late, f"warnings sent after the alert ended at {ended_at}: {late}"
        updates = sum(1 for kind, status, _ in answers if kind == "update" and status < 300)
        print(f"\n{CALLS} calls: {updates} updates applied, ended by {ended[0][0]}")
    finally:
        tap.stop()
        for replica in replicas:
            replica.stop()


def _issued(envelope: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(envelope["issued_at"]))


FLEET = 2000


# One worker runs both 2,000-lantern kill tests (this and test_broker_cluster.py) in turn.
@pytest.mark.xdist_group("fleet-2000")
def test_a_replica_killed_mid_fan_out_changes_nothing_the_dispatcher_sees(
    shared_postgres: tuple[str, Database],
    own_mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> None:
    url, db = shared_postgres
    inventory = demo_lanterns(tmp_path, FLEET)
    db.create_all()
    import_lanterns(db, inventory)
    ids = lantern_ids(inventory)
    replicas = two_replicas(url, own_mosquitto, topic_root, tmp_path)
    tap = CommandTap(own_mosquitto.url, topic_root)
    sim = signed_fleet(own_mosquitto.url, inventory, topic_root, tmp_path / "data", speed=10)
    try:
        for replica in replicas:
            replica.start()
        sim.start()
        doomed, survivor = replicas
        response = survivor.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 300},
        )
        assert response.status_code == 201, response.text
        alert_id = response.json()["id"]
        wait_until(lambda: len(tap.commands()) >= FLEET // 4, 30, "the fan-out to be under way")
        before_kill = tap.commands()
        arrived = tap.arrived[: len(before_kill)]
        doomed.kill()
        # While both replicas ran, no command went to a lantern twice from two publishers: two
        # replicas claiming one due row publish it in the same moment, while the one replica's
        # retry of a lantern that had not acked comes ack_timeout_s (3 s) after its first copy
        # (on a loaded machine this first part can outlast that), so only copies closer than
        # half of it count.
        first_at: dict[tuple[str, str], float] = {}
        twice: list[tuple[str, str]] = []
        for (lid, env), at in zip(before_kill, arrived, strict=True):
            key = (lid, str(env["id"]))
            if key in first_at and at - first_at[key] < 1.5:
                twice.append(key)
            first_at.setdefault(key, at)
        assert not twice, f"published twice while both replicas ran: {sorted(twice)[:10]}"

        wait_until(lambda: finished(survivor.alert(alert_id)), 120, "every lantern to finish")
        body = survivor.alert(alert_id)
        assert body["counts"] == {"done": FLEET}, body["counts"]
        audio_id = audio_command(body)

        def played() -> dict[str, int]:
            return {
                lid: sum(1 for cmd, _ in sim.fleet.record(lid).played if cmd == audio_id)
                for lid in ids
            }

        assert set(on_fleet(sim, played, timeout_s=30).values()) == {1}
        print(f"\n{len(before_kill)} commands out when replica A was killed; all {FLEET} done")
    finally:
        sim.stop()
        tap.stop()
        for replica in replicas:
            replica.stop()


def test_progress_on_one_replica_shows_acks_the_other_ingested(
    shared_postgres: tuple[str, Database],
    own_mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> None:
    url, db = shared_postgres
    inventory = demo_lanterns(tmp_path, 40)
    db.create_all()
    import_lanterns(db, inventory)
    ids = lantern_ids(inventory)
    replicas = two_replicas(url, own_mosquitto, topic_root, tmp_path)
    sim = signed_fleet(own_mosquitto.url, inventory, topic_root, tmp_path / "data", speed=10)
    try:
        for replica in replicas:
            replica.start()
        sim.start()

        def leaders() -> list[int]:
            return [r.http.get("/metrics").json()["counters"]["ack_leader"] for r in replicas]

        wait_until(lambda: sorted(leaders()) == [0, 1], 20, "one replica to hold the ack lease")
        writer, watcher = sorted(replicas, key=lambda r: -leaders()[replicas.index(r)])
        response = watcher.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 120},
        )
        assert response.status_code == 201, response.text
        alert_id = response.json()["id"]
        last: dict[str, object] = {}
        with watcher.http.stream("GET", f"/alerts/{alert_id}/events", timeout=90) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    last = json.loads(line.removeprefix("data: "))
                    if finished(last):
                        break
        assert last.get("counts") == {"done": len(ids)}, last.get("counts")
        counters = watcher.http.get("/metrics").json()["counters"]
        assert counters["ack_leader"] == 0  # every ack was written by the other replica
        assert counters.get("consumer_held_for_leader", 0) > 0, counters  # kept, not written
        assert counters["notify_received"] > 0, counters  # and heard of them from there
        writer_counters = writer.http.get("/metrics").json()["counters"]
        assert writer_counters["notify_sent"] > 0
    finally:
        sim.stop()
        for replica in replicas:
            replica.stop()
