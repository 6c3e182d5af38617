"""The service side in miniature, for tests, benchmarks and rehearsals without lightctl running.

``ServiceProbe`` sends command envelopes and collects what lanterns report (acks, retained state
and availability); ``ClipServer`` serves speech clips over HTTP as ``GET /audio/{sha256}`` does.
Both are blocking and thread-based on purpose: a test drives them from outside the fleet's loop.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from firmware_sim.transport import BrokerAddress
from lightctl.protocol import (
    Ack,
    AckBatch,
    Availability,
    CommandEnvelope,
    LanternState,
    TopicKind,
    Topics,
)


class ServiceProbe:
    """Publishes commands like the service and records every ack, state and availability."""

    def __init__(
        self,
        broker_url: str,
        topics: Topics,
        client_id: str = "",
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        inflight: int = 20,
    ) -> None:
        """``inflight``: QoS 1 messages in flight; never above the broker's Receive Maximum."""
        self.broker = BrokerAddress.parse(broker_url)
        self.topics = topics
        self.client_id = client_id or f"probe-{topics.root}-{time.monotonic_ns()}"
        self._cond = threading.Condition()
        self._acks: dict[str, list[Ack]] = defaultdict(list)
        self._status_counts: Counter[str] = Counter()
        self._states: dict[str, LanternState] = {}
        self._availability: dict[str, Availability] = {}
        self._online: set[str] = set()
        self._gateways: dict[str, Availability] = {}
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=protocol,
        )
        self._v5 = protocol == MQTTProtocolVersion.MQTTv5
        self._client.max_inflight_messages_set(inflight)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self, timeout_s: float = 10.0) -> None:
        self._client.connect_async(self.broker.host, self.broker.port)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            raise TimeoutError(f"probe not subscribed at {self.broker} after {timeout_s}s")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def send(self, lantern_id: str, cmd: CommandEnvelope) -> mqtt.MQTTMessageInfo:
        """Publish one envelope (QoS 1); message expiry follows the command's expiry."""
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            remaining_s = (cmd.expires_at - datetime.now(UTC)).total_seconds()
            properties.MessageExpiryInterval = max(1, int(remaining_s) + 1)
        return self._client.publish(
            self.topics.cmd(lantern_id), cmd.to_bytes(), qos=1, properties=properties
        )

    def send_raw(self, lantern_id: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self._client.publish(self.topics.cmd(lantern_id), payload, qos=1)

    def publish_manifest(self, key: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        """A retained clip manifest (issue 14), as the service's clip library publishes it."""
        return self._client.publish(self.topics.clip_manifest(key), payload, qos=1, retain=True)

    # ---- what arrived -------------------------------------------------------------------------

    def acks(self, lantern_id: str, cmd_id: str | None = None) -> list[Ack]:
        with self._cond:
            return [a for a in self._acks[lantern_id] if cmd_id is None or a.cmd_id == cmd_id]

    def statuses(self, lantern_id: str, cmd_id: str | None = None) -> list[str]:
        return [a.status.value for a in self.acks(lantern_id, cmd_id)]

    def count(self, status: str) -> int:
        with self._cond:
            return self._status_counts[status]

    def state(self, lantern_id: str) -> LanternState | None:
        with self._cond:
            return self._states.get(lantern_id)

    def availability(self, lantern_id: str) -> Availability | None:
        with self._cond:
            return self._availability.get(lantern_id)

    def online_count(self) -> int:
        """Lanterns whose latest availability says online (kept per message: O(1) to ask)."""
        with self._cond:
            return len(self._online)

    def gateway(self, gateway_id: str) -> Availability | None:
        with self._cond:
            return self._gateways.get(gateway_id)

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Block until ``predicate()`` holds (re-checked on every message) or time runs out."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.2))
        return True

    # ---- paho callbacks -----------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        kinds = (TopicKind.ACK, TopicKind.STATE, TopicKind.AVAILABILITY)
        filters = [(self.topics.all_lanterns(kind), 1) for kind in kinds]
        filters.append((self.topics.all_gateways(), 1))
        filters.append((self.topics.all_gateway_acks(), 1))  # protocol v2 batches
        client.subscribe(filters)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, *rest: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        parsed = self.topics.parse(message.topic)
        payload = bytes(message.payload)
        if parsed is not None and parsed.kind == TopicKind.ACKS and payload:
            self._on_batch(payload)
            return
        if parsed is None or not payload:
            return
        try:
            with self._cond:
                if parsed.gateway_id is not None:
                    self._gateways[parsed.gateway_id] = Availability.from_bytes(payload)
                elif parsed.lantern_id is None:
                    return
                elif parsed.kind == TopicKind.ACK:
                    ack = Ack.from_bytes(payload)
                    self._acks[parsed.lantern_id].append(ack)
                    self._status_counts[ack.status.value] += 1
                elif parsed.kind == TopicKind.STATE:
                    self._states[parsed.lantern_id] = LanternState.from_bytes(payload)
                elif parsed.kind == TopicKind.AVAILABILITY:
                    avail = Availability.from_bytes(payload)
                    self._availability[parsed.lantern_id] = avail
                    if avail.online:
                        self._online.add(parsed.lantern_id)
                    else:
                        self._online.discard(parsed.lantern_id)
                self._cond.notify_all()
        except ValidationError:
            return  # not ours to judge; the fleet's own tests check the payloads

    def _on_batch(self, payload: bytes) -> None:
        """A v2 gateway's batch: each ack counts as if it came on its lantern's own topic."""
        try:
            batch = AckBatch.from_bytes(payload)
        except (ValidationError, ValueError):
            return
        with self._cond:
            for ack in batch.acks:
                self._acks[ack.lantern].append(ack)
                self._status_counts[ack.status.value] += 1
            self._cond.notify_all()


class ClipServer:
    """Serves fixed bytes per path over HTTP/1.1 on 127.0.0.1 and counts requests."""

    def __init__(
        self, clips: Mapping[str, bytes], failures: Mapping[str, int] | None = None
    ) -> None:
        """``failures``: answer the first N requests of a path with 503 (a server under load)."""
        self.clips = dict(clips)
        self.failures = Counter(failures or {})
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real audio endpoint
            # Headers and body go out in separate writes; with Nagle on, the body's last segment
            # waits for the client's delayed ACK: 40 ms per clip, 100 clips/s at most.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                body = server.clips.get(self.path)
                server.requests[self.path] += 1
                if server.requests[self.path] <= server.failures[self.path]:
                    body, status = b"busy", 503
                else:
                    status = 200 if body is not None else 404
                self.send_response(status)
                payload = body if body is not None else b"not found"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def start(self) -> ClipServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
