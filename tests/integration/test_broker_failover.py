"""The broker URL may name several nodes (``mqtt://node1:1883,node2:1883``): the service and the
simulated gateways are spread over them and move to the next node when theirs dies. Here two
Mosquittos stand in for two nodes; the first is SIGKILLed and a warning sent afterwards is still
played by every lantern, the service having moved too."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from pathlib import Path

import pytest

from lightctl.services.inventory import import_lanterns
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings, simulated_fleet
from tests.integration.resilience import GERMAN, demo_lanterns, finished, lantern_ids, wait_until
from tests.support import MosquittoProcess, have_mosquitto

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LANTERNS = 200


def test_service_and_gateways_move_to_the_next_node_when_theirs_dies(
    database: Database, topic_root: str, tmp_path: Path
) -> None:
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = MosquittoProcess(tmp_path / "a"), MosquittoProcess(tmp_path / "b")
    first.start()
    second.start()
    nodes = f"mqtt://127.0.0.1:{first.port},127.0.0.1:{second.port}"
    inventory = demo_lanterns(tmp_path, LANTERNS)
    database.create_all()
    import_lanterns(database, inventory)
    ids = lantern_ids(inventory)
    settings = make_settings(tmp_path, nodes, topic_root, ack_timeout_s=2.0)
    service = LiveService(settings, database)
    sim = simulated_fleet(
        nodes, topic_root, inventory=inventory, data_dir=settings.data_dir, per_connection=50
    )
    service.start()
    sim.start()
    try:
        spread = Counter(g.node[1] for g in sim.fleet.gateways)
        assert spread == {first.port: 2, second.port: 2}, spread  # every other gateway
        link = service.runtime.link
        assert link is not None
        assert link.port == first.port

        first.stop(kill=True)
        wait_until(lambda: link.port == second.port, 20, "the service to move")
        wait_until(
            lambda: all(g.node[1] == second.port and g.connected for g in sim.fleet.gateways),
            30,
            "every gateway to move to the second node",
        )
        response = service.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 120},
        )
        assert response.status_code == 201, response.text
        body = service.wait_for(response.json()["id"], finished, 60)
        assert body["counts"] == {"done": LANTERNS}, body["counts"]
    finally:
        sim.stop()
        service.stop()
        first.stop()
        second.stop()


def test_a_node_that_accepts_but_never_answers_is_left_for_the_next(
    sqlite_inventory: Database,
    topic_root: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first node takes the TCP connection and then says nothing (a cluster node whose
    session store is gone): the service and every gateway give up on it and use the second."""
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    caplog.set_level(logging.WARNING)
    (tmp_path / "b").mkdir()
    broker = MosquittoProcess(tmp_path / "b")
    broker.start()
    # The kernel completes every handshake into the backlog; nobody ever reads or answers.
    silent = socket.create_server(("127.0.0.1", 0), backlog=64)
    silent_port = silent.getsockname()[1]
    nodes = f"mqtt://127.0.0.1:{silent_port},127.0.0.1:{broker.port}"
    settings = make_settings(tmp_path, nodes, topic_root, ack_timeout_s=2.0)
    service = LiveService(settings, sqlite_inventory)
    sim = simulated_fleet(nodes, topic_root, data_dir=settings.data_dir, per_connection=10)
    try:
        service.start()
        sim.thread.start()
        asyncio.run_coroutine_threadsafe(sim.fleet.start(), sim.loop).result(15)
        link = service.runtime.link
        assert link is not None
        wait_until(lambda: link.connected and link.port == broker.port, 60, "the service")
        wait_until(
            lambda: all(g.connected and g.node[1] == broker.port for g in sim.fleet.gateways),
            60,
            "every gateway to reach the answering node",
        )
        ids = [lid for g in sim.fleet.gateways for lid in g.lantern_ids]
        response = service.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 120},
        )
        assert response.status_code == 201, response.text
        body = service.wait_for(response.json()["id"], finished, 60)
        assert body["counts"] == {"done": len(ids)}, body["counts"]
        # Both left on the CONNACK timeout, not on paho's keep-alive (45 s) much later.
        said = [r.getMessage() for r in caplog.records]
        assert any("sent no CONNACK" in m for m in said), said
        assert any("no CONNACK from 127.0.0.1" in m for m in said), said
    finally:
        sim.stop()
        service.stop()
        silent.close()
        broker.stop()
