"""Broker unreachable at start: /healthz says degraded, the service keeps retrying and recovers."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.integration.nats_cluster import nats_binary
from tests.support import MosquittoProcess, fixed_env, free_port, wait_for_port

pytestmark = [pytest.mark.broker]


def test_degraded_until_the_broker_appears(inventory: Database, tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir(exist_ok=True)
    broker = MosquittoProcess(tmp_path / "broker")  # port chosen, broker not started yet
    live = LiveService(make_settings(tmp_path, broker.url, "health"), inventory)
    live.start()
    try:
        health = live.http.get(f"{live.url}/healthz").json()
        assert health["status"] == "degraded"
        assert health["mqtt"].startswith("disconnected")
        assert health["db"] == "ok"
        # Sending still works: stored and waiting in the outbox, not a 500.
        response = live.http.post(
            "/alerts",
            json={"target": {"streets": ["Poststrasse"]}, "messages": {"de": "Achtung."}},
        )
        assert response.status_code == 201, response.text
        alert = response.json()
        assert alert["counts"] == {"planned": alert["lantern_count"]}

        broker.start()
        deadline = time.monotonic() + 30
        while live.http.get(f"{live.url}/healthz").json()["status"] != "ok":
            assert time.monotonic() < deadline, "never reconnected"
            time.sleep(0.2)
        # The stored alert leaves the outbox once the broker is there.
        live.wait_for(
            alert["id"], lambda b: b["counts"].get("published") == alert["lantern_count"], 15
        )
    finally:
        live.stop()
        broker.stop()


def test_a_broker_that_refuses_our_subscriptions_is_reported_on_healthz(
    inventory: Database, tmp_path: Path
) -> None:
    """A node that takes the connection but refuses subscriptions would look healthy while no
    ack ever arrives: /healthz names it. Here a nats-server whose every QoS 1 subscription
    reserves all 65,535 pending messages a session may have, so only the first is granted
    (the trap config/nats/cluster.conf avoids; Mosquitto grants even what its ACL denies)."""
    binary = nats_binary()
    if binary is None:
        pytest.skip("nats-server not installed")
    port = free_port()
    (tmp_path / "js").mkdir()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f"server_name: refusing\nlisten: 127.0.0.1:{free_port()}\n"
        f"jetstream {{ store_dir: {tmp_path / 'js'} }}\n"
        f"mqtt {{ listen: 127.0.0.1:{port}, max_ack_pending: 65535 }}\n"
    )
    with (tmp_path / "nats.log").open("ab") as log:
        nats = subprocess.Popen(
            [binary, "-c", str(conf)], env=fixed_env(), stdout=log, stderr=subprocess.STDOUT
        )
    live: LiveService | None = None
    try:
        wait_for_port(port)
        live = LiveService(
            make_settings(tmp_path, f"mqtt://127.0.0.1:{port}", "refused"), inventory
        )
        live.start()
        deadline = time.monotonic() + 60
        health = live.http.get(f"{live.url}/healthz").json()
        while "refused the subscriptions" not in health["mqtt"]:
            assert time.monotonic() < deadline, f"never reported: {health}"
            time.sleep(0.2)
            health = live.http.get(f"{live.url}/healthz").json()
        assert health["status"] == "degraded"
        assert f"broker 127.0.0.1:{port} refused the subscriptions refused/v1/" in health["mqtt"]
    finally:
        if live is not None:
            live.stop()
        nats.terminate()
        nats.wait(timeout=10)
