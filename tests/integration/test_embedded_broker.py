"""The demo's in-process broker (amqtt, MQTT 3.1.1 only): the service and the lanterns fall back
from MQTT 5 and a warning still reaches every lantern."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim import Fleet, load_inventory
from lightctl.broker import EmbeddedBroker
from lightctl.protocol import Topics
from lightctl.store import Database
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, make_settings

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def amqtt_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(tmp_path / "broker", preferred_port=0, prefer_mosquitto=False)
    broker.start()
    yield broker
    broker.stop()


def test_warning_over_the_in_process_broker(
    inventory: Database, amqtt_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    assert amqtt_broker.kind == "amqtt"
    root = f"amq{uuid.uuid4().hex[:6]}"
    live = LiveService(make_settings(tmp_path, amqtt_broker.url, root), inventory)
    live.start()
    specs = [s for s in load_inventory(LANTERNS)][:20]
    sim = FleetThread(
        Fleet(amqtt_broker.url, specs, speed=20, topics=Topics(root), gateway_prefix=root)
    )
    sim.start()
    try:
        ids = [s.id for s in specs]
        response = live.http.post(
            "/alerts", json={"target": {"lanterns": ids}, "messages": {"de": "Achtung."}}
        )
        assert response.status_code == 201, response.text
        body = live.wait_for(response.json()["id"], lambda b: b["status"] != "sending", 60)
        assert body["counts"] == {"done": len(ids)}
        assert live.runtime.link is not None
        assert not live.runtime.link.mqtt5  # fell back to 3.1.1; expiry rests on the lantern
    finally:
        sim.stop()
        live.stop()
