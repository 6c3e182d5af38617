"""A gateway's ack batches stay under the broker's message limit, so no lantern's ack is lost.

The `done` of an audio command lists every clip played: 27 hashes for a warning in nine
languages, ~1.9 KB per ack. 200 of them in one batch were 386 KB, past the 256 KiB
``message_size_limit`` of every Mosquitto we configure: the broker dropped the batch and the
service recorded those lanterns `expired` after the grace, though each had played to the end.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.transport import ACK_BATCH_MAX, BrokerAddress, Gateway
from lightctl.protocol import Ack, AckBatch, AckStatus, Topics
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker]

BROKER_LIMIT = 262_144  # message_size_limit of tests/support.py, config/mosquitto, benchmarks
CLIPS = 27  # nine languages, three sentences each


class Listener:
    """Every ack batch the broker hands on, as the service would read it."""

    def __init__(self, url: str, topic: str) -> None:
        self.sizes: list[int] = []
        self.acks: list[Ack] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"listen-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = self._message
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        host, port = url.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port))
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        batch = AckBatch.from_bytes(bytes(message.payload))
        with self.lock:
            self.sizes.append(len(message.payload))
            self.acks.extend(batch.acks)

    def count(self) -> int:
        with self.lock:
            return len(self.acks)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_the_done_acks_of_a_nine_language_warning_all_reach_the_service(
    mosquitto: MosquittoProcess, topic_root: str
) -> None:
    topics = Topics(topic_root)
    lanterns = [f"L{i:03d}" for i in range(ACK_BATCH_MAX)]
    listener = Listener(mosquitto.url, topics.gateway_acks("gw-00"))
    assert listener.subscribed.wait(10)
    played = [f"{i:064x}" for i in range(CLIPS)]

    async def play_to_the_end() -> None:
        gateway = Gateway(
            "gw-00",
            BrokerAddress.parse(mosquitto.url),
            topics,
            lanterns,
            lambda *_args: None,
            boot=1,
        )
        await gateway.start()
        assert await gateway.wait_connected(10)
        now = datetime.now(UTC)
        for lantern in lanterns:  # every lantern of the gateway ends the warning at once
            gateway.publish_ack(
                Ack(
                    cmd_id="cmd_0123456789abcdef",
                    lantern=lantern,
                    status=AckStatus.DONE,
                    at=now,
                    played=played,
                )
            )
        gateway.flush_acks()
        # Positive sign: every ack arrived (the broker drops an oversized batch silently).
        for _ in range(200):
            if listener.count() >= len(lanterns):
                break
            await asyncio.sleep(0.05)
        await gateway.stop()

    try:
        asyncio.run(play_to_the_end())
    finally:
        listener.stop()
    assert sorted(a.lantern for a in listener.acks) == lanterns
    assert all(a.played == played for a in listener.acks)
    assert max(listener.sizes) <= BROKER_LIMIT // 2
