"""Random bytes and near-misses on the ack, state and availability topics for a few seconds: the
consumer counts and ignores them, and a normal alert afterwards still completes."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lightctl.protocol import Topics
from lightctl.store import Database
from tests.integration.conftest import LANTERNS, LiveService, make_settings
from tests.integration.resilience import finished, lantern_ids, signed_fleet
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

FUZZ_S = 3.0


def junk(rng: random.Random, lantern: str) -> bytes:
    """One payload: random bytes, or JSON that almost passes for an ack or a state."""
    choice = rng.randrange(8)
    if choice == 0:
        return rng.randbytes(rng.randrange(1, 300))
    if choice == 1:
        return rng.randbytes(20_000)  # over the consumer's size limit
    if choice == 2:
        return b"\xff\xfe" + rng.randbytes(30)  # not UTF-8
    if choice == 3:
        return b"[" * 3000 + b"]" * 3000  # deep nesting
    at = "2025-03-01T12:00:00Z"
    if choice == 4:  # an ack for a command never sent
        body = {"v": 1, "cmd_id": f"cmd_{rng.randrange(10**6)}", "lantern": lantern, "at": at}
        return json.dumps({**body, "status": "done"}).encode()
    if choice == 5:  # an ack that names another lantern than its topic
        return json.dumps(
            {"v": 1, "cmd_id": "x", "lantern": "LEU0", "status": "done", "at": at}
        ).encode()
    if choice == 6:  # wrong types
        return json.dumps({"v": "one", "cmd_id": 5, "status": [], "at": None}).encode()
    return json.dumps({"v": 1, "lantern": lantern, "at": "yesterday", "channels": 7}).encode()


def test_random_bytes_on_lantern_topics_never_stop_the_consumer(
    sqlite_inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, mosquitto.url, topic_root)
    sim = signed_fleet(mosquitto.url, LANTERNS, topic_root, settings.data_dir, speed=20)
    service = LiveService(settings, sqlite_inventory)
    service.start()
    sim.start()
    topics = Topics(topic_root)
    ids = lantern_ids(LANTERNS)
    rng = random.Random(6)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzz-{topic_root}"[:60])
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        sent = 0
        deadline = time.monotonic() + FUZZ_S
        while time.monotonic() < deadline:
            lantern = rng.choice([*ids[:20], "NOT-A-LANTERN", "x" * 64])
            topic = rng.choice([topics.ack(lantern), topics.state(lantern)])
            client.publish(topic, junk(rng, lantern), qos=1)
            # Availability junk never parses as valid (random bytes only), so no lantern is
            # marked offline by accident.
            client.publish(topics.availability(lantern), rng.randbytes(40), qos=1)
            sent += 2
            if sent % 100 == 0:
                time.sleep(0.03)  # about 3,000 messages a second

        def drained() -> bool:
            counters: dict[str, int] = service.http.get("/metrics").json()["counters"]
            return counters.get("consumer_messages", 0) >= sent

        deadline = time.monotonic() + 30
        while not drained():
            assert time.monotonic() < deadline, "the consumer fell behind for good"
            time.sleep(0.2)
        counters = service.http.get("/metrics").json()["counters"]
        dropped = {k: v for k, v in counters.items() if k.startswith("consumer_dropped_")}
        assert dropped["consumer_dropped_malformed"] > 0
        assert dropped["consumer_dropped_oversized"] > 0
        assert dropped["consumer_dropped_lantern_mismatch"] > 0
        assert counters["consumer_ack_unknown_command"] > 0
        assert "consumer_batch_failed" not in counters
        prometheus = service.http.get("/metrics", params={"format": "prometheus"})
        assert "lightctl_consumer_dropped_malformed_total" in prometheus.text
        assert service.http.get("/healthz").json()["status"] == "ok"

        response = service.http.post(
            "/alerts",
            json={"target": {"streets": ["Bahnhofstrasse"]}, "messages": {"en": "Test."}},
        )
        assert response.status_code == 201, response.text
        alert = response.json()
        body = service.wait_for(alert["id"], finished, 30)
        assert body["counts"] == {"done": alert["lantern_count"]}
        print(f"\nfuzz: {sent} junk messages in {FUZZ_S:.0f} s, all counted: {dropped}")
    finally:
        client.loop_stop()
        client.disconnect()
        sim.stop()
        service.stop()
