"""Broker unreachable at start: /healthz says degraded, the service keeps retrying and recovers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.support import MosquittoProcess

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
