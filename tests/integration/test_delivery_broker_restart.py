"""The broker is killed (SIGKILL, no persistence) in the middle of a fan-out to 500 lanterns and
started again: every lantern still ends `done`, none plays twice, none is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lightctl.services.inventory import import_lanterns
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.integration.resilience import (
    GERMAN,
    SimProcess,
    assert_all_done_once,
    demo_lanterns,
    finished,
    lantern_ids,
)
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LANTERNS = 500
# The broker stays down this long: gateways and service retry after 1 s, then 2 s.
BROKER_DOWN_S = 1.5


def test_broker_killed_and_restarted_mid_fan_out_loses_and_repeats_nothing(
    database: Database, own_mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    inventory = demo_lanterns(tmp_path, LANTERNS)
    database.create_all()
    import_lanterns(database, inventory)
    ids = lantern_ids(inventory)
    settings = make_settings(tmp_path, own_mosquitto.url, topic_root, ack_timeout_s=3.0)
    sim = SimProcess(
        own_mosquitto.url, inventory, topic_root, settings.data_dir, tmp_path / "sim.log"
    )
    service = LiveService(settings, database)
    service.start()
    sim.start()
    try:
        started = time.monotonic()
        response = service.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 300},
        )
        assert response.status_code == 201, response.text
        alert = response.json()
        own_mosquitto.stop(kill=True)
        at_kill = service.http.get(f"/alerts/{alert['id']}").json()["counts"]
        assert at_kill.get("done", 0) < LANTERNS, at_kill  # really in the middle of it
        time.sleep(BROKER_DOWN_S)  # not a wait: the broker stays down this long
        own_mosquitto.start()

        body = service.wait_for(alert["id"], finished, 90)
        elapsed = time.monotonic() - started
        assert_all_done_once(body, sim, ids)
        rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()
        assert {r["lantern"] for r in rows["lanterns"]} == set(ids)
        assert all(r["played"] for r in rows["lanterns"])
        metrics = service.http.get("/metrics").json()["counters"]
        checks = sim.get("/metrics")["signature_checks"]
        # 3 commands (audio, light, projection), each copy naming its audience (a lantern, or
        # a fan-out group of protocol v2) verified once; copies re-sent after the restart hit
        # the cache. Each lantern's retry goes to its own topic: at most one copy per lantern
        # and command, plus the group copies.
        groups = metrics["outbox_group_published"]
        assert checks["verified"] <= 3 * LANTERNS + groups, checks
        print(
            f"\nbroker restart: counts at kill {at_kill}; all {LANTERNS} done after "
            f"{elapsed:.1f} s; publishes {metrics['outbox_published']} for {3 * LANTERNS} "
            f"deliveries, re-sent {metrics['outbox_resent']}, "
            f"duplicate acks {metrics.get('consumer_ack_duplicate', 0)}; signatures checked "
            f"{checks['verified']} times for {checks['accepted']} accepted envelopes"
        )
    finally:
        sim.stop()
        service.stop()
