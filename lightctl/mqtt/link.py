"""One paho client in its own thread, handing messages to asyncio; MQTT 5 with a 3.1.1 fallback."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

# A service restart within an hour resumes its session: acks queued by the broker are not lost.
# What ``MqttLink.publish`` hands back: a queued publish ``await_broker`` can wait for.
PublishHandle = mqtt.MQTTMessageInfo

SESSION_EXPIRY_S = 3600
KEEPALIVE_S = 30
# paho's default of 20 in flight throttles a fan-out of thousands; Mosquitto allows 100 per client.
MAX_INFLIGHT = 100
# A CONNACK comes back within milliseconds on loopback; 3 s of silence from a listening broker
# means it does not speak MQTT 5 (amqtt 0.12 hangs up on v5 CONNECTs with properties).
V5_SILENCE_S = 3.0
# A node that accepts TCP but sends no CONNACK in this long is treated as gone and the next node
# of the cluster is dialled. nats-server 2.9 did that after a peer died: its MQTT session setup
# waits on JetStream (4 s per request there), and paho would otherwise wait for the keep-alive.
CONNACK_TIMEOUT_S = 8.0
# Longest wait between connection attempts when the URL names several nodes (see _new_client).
CLUSTER_RECONNECT_MAX_S = 2
# A refused subscription is asked for again after this long (a clustered broker refuses while
# it re-elects the leader of its session store).
RESUBSCRIBE_S = 2.0


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    topic: str
    payload: bytes
    retain: bool


class MqttLink:
    """Connects (and keeps reconnecting) to the broker; ``connected`` feeds /healthz."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        subscriptions: list[str],
        queue: asyncio.Queue[IncomingMessage],
        loop: asyncio.AbstractEventLoop,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        alternates: Sequence[tuple[str, int]] = (),
        qos: int = 1,
    ) -> None:
        # QoS of our subscriptions and of publishes that name none (Settings.mqtt_qos).
        self.qos = qos
        # The nodes of a clustered broker: (host, port) first, then the others in turn.
        self._nodes = [(host, port), *alternates]
        self._node = 0
        self.client_id = client_id
        self.subscriptions = subscriptions
        self._queue = queue
        self._loop = loop
        self._username = username
        self._password = password
        self._tls = tls
        self._ca_file = ca_file
        self._protocol = mqtt.MQTTv5
        self._client = self._new_client()
        self._connected = threading.Event()
        self._stopping = False
        self._v5_worked = False  # once MQTT 5 connected, a lost connection is never a fallback
        self.last_error: str | None = None
        # Called on the event loop when a connect finds no session on the broker (first start,
        # or a broker restarted without persistence): acks sent meanwhile may be lost.
        self.on_session_lost: Callable[[], None] | None = None
        self._expiry_props: dict[int, Properties] = {}
        # Sockets opened so far and whether the latest got a CONNACK (set in paho's thread).
        self._sockets_opened = 0
        self._connack_seen = False
        # Subscriptions the broker refused (topic -> reason), asked for again until granted.
        self._refused: dict[str, str] = {}
        self._pending: dict[int, list[str]] = {}
        self._pending_lock = threading.Lock()  # a retry subscribes from the event loop
        # Set on moving to another node: the first connection there re-makes the subscriptions.
        self._moved = False

    @property
    def subscription_problem(self) -> str | None:
        """What the connected node refused to subscribe us to, or None: a node that accepts the
        connection but not the subscriptions would otherwise look healthy while no ack arrives."""
        refused = dict(self._refused)
        if not refused or not self._connected.is_set():
            return None
        topics = ", ".join(sorted(refused))
        reason = next(iter(refused.values()))
        node = f"{self.host}:{self.port}"
        return f"broker {node} refused the subscriptions {topics} ({reason}); retrying"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def host(self) -> str:
        """The broker node connected to (or being dialled) now."""
        return self._nodes[self._node][0]

    @property
    def port(self) -> int:
        return self._nodes[self._node][1]

    def _next_node(self) -> None:
        """The node is gone: paho's next reconnect dials the next node of the cluster."""
        if len(self._nodes) == 1 or self._stopping:
            return
        self._node = (self._node + 1) % len(self._nodes)
        self._moved = True
        log.warning("moving to broker node %s:%s", self.host, self.port)
        self._connect()

    @property
    def mqtt5(self) -> bool:
        return self._protocol == mqtt.MQTTv5

    def _new_client(self) -> mqtt.Client:
        v5 = self._protocol == mqtt.MQTTv5
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=self._protocol,
            clean_session=None if v5 else False,
        )
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)
        # paho doubles its wait after each failed try; with several nodes each try dials another
        # one, so a long wait only delays finding a survivor (nats-server's answer to a connect
        # comes back 5-9 s after a peer died: its raft election timeout is 4-9 s).
        many = len(self._nodes) > 1
        client.reconnect_delay_set(min_delay=1, max_delay=CLUSTER_RECONNECT_MAX_S if many else 10)
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        if self._tls:
            client.tls_set(ca_certs=self._ca_file)  # verifies the broker's certificate and name
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = lambda _client, _userdata: self._next_node()
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        return client

    def start(self) -> None:
        """Begin connecting in the background; never raises when the broker is down."""
        self._connect()
        self._client.loop_start()
        self._loop.call_later(V5_SILENCE_S, self._check_v5_silence)

    def _check_v5_silence(self) -> None:
        """A broker that accepts TCP but never answers MQTT 5 gets MQTT 3.1.1 instead."""
        if self._stopping or self._connected.is_set() or self._v5_worked or not self.mqtt5:
            return
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                reachable = True
        except OSError:
            reachable = False  # broker down: keep MQTT 5 and look again later
        if reachable:
            self._fall_back_to_311()
        else:
            self._loop.call_later(V5_SILENCE_S, self._check_v5_silence)

    def _connect(self) -> None:
        kwargs: dict[str, Any] = {"keepalive": KEEPALIVE_S}
        if self.mqtt5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            kwargs.update(clean_start=False, properties=props)
        self._client.connect_async(self.host, self.port, **kwargs)

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int | None = None,
        expiry_s: int | None = None,
        retain: bool = False,
    ) -> PublishHandle:
        """Queue a publish (thread-safe), at the link's QoS unless told. Message expiry only
        exists in MQTT 5."""
        if qos is None:
            qos = self.qos
        props = None
        if expiry_s is not None and self.mqtt5:
            seconds = max(1, int(expiry_s))
            props = self._expiry_props.get(seconds)
            if props is None:
                # Building Properties costs ~0.1 ms; a fan-out reuses a handful of values.
                if len(self._expiry_props) >= 4096:
                    self._expiry_props.clear()
                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                props.MessageExpiryInterval = seconds
                self._expiry_props[seconds] = props
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)

    # paho thread below: only hand data over, never touch application state.

    def _on_socket_open(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._connack_seen = False
        self._sockets_opened += 1
        self._loop.call_soon_threadsafe(self._watch_connack, self._sockets_opened, sock)
        # Nagle's algorithm would hold small acks/commands back up to 40 ms per round trip.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        _properties: Any,
    ) -> None:
        if reason_code.is_failure:
            self.last_error = str(reason_code)
            log.warning(
                "broker %s:%s refused the connection: %s", self.host, self.port, reason_code
            )
            # amqtt (3.1.1 only) answers a v5 CONNECT with "Unsupported protocol version".
            if self.mqtt5 and "protocol version" in str(reason_code).lower():
                self._loop.call_soon_threadsafe(self._fall_back_to_311)
            return
        self._connack_seen = True
        self.last_error = None
        self._v5_worked = self._v5_worked or self.mqtt5
        self._connected.set()
        self._refused = {}
        self._pending = {}
        if self._moved and self.subscriptions:
            # A resumed session may name subscriptions whose broker-side consumers died with the
            # old node (nats-server keeps single-replica consumers on one node): granted, silent.
            self._moved = False
            client.unsubscribe(list(self.subscriptions))
        self._subscribe(client, self.subscriptions)
        lost = self.on_session_lost
        if lost is not None and not getattr(flags, "session_present", False):
            self._loop.call_soon_threadsafe(lost)
        log.info(
            "connected to broker %s:%s (MQTT %s)",
            self.host,
            self.port,
            "5" if self.mqtt5 else "3.1.1",
        )

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason_code: ReasonCode,
        _properties: Any,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._stopping:
            return
        self.last_error = str(reason_code)
        if was_connected:
            log.warning("lost the broker %s:%s: %s", self.host, self.port, reason_code)
            self._next_node()
        elif self.mqtt5 and not self._v5_worked:
            # amqtt 0.12 drops a v5 CONNECT that carries properties without any CONNACK.
            self._loop.call_soon_threadsafe(self._fall_back_to_311)
        elif not self._connack_seen:
            # Hung up (or cut by the CONNACK timeout) before answering: try the next node.
            self._next_node()

    def _subscribe(self, client: mqtt.Client, topics: Sequence[str]) -> None:
        if not topics:
            return
        with self._pending_lock:
            _result, mid = client.subscribe([(topic, self.qos) for topic in topics])
            if mid is not None:
                self._pending[mid] = list(topics)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        _properties: Any,
    ) -> None:
        with self._pending_lock:
            topics = self._pending.pop(mid, [])
        refused = {t: str(r) for t, r in zip(topics, reason_codes, strict=False) if r.is_failure}
        for topic in topics:
            if topic not in refused:
                self._refused.pop(topic, None)
        if not refused:
            return
        self._refused.update(refused)
        log.error(
            "broker %s:%s refused subscriptions %s: %s",
            self.host,
            self.port,
            sorted(refused),
            next(iter(refused.values())),
        )
        self._loop.call_soon_threadsafe(
            self._loop.call_later, RESUBSCRIBE_S, self._resubscribe, client
        )

    def _resubscribe(self, client: mqtt.Client) -> None:
        """On the event loop: ask again for what was refused, if still on that connection."""
        if client is self._client and self._connected.is_set() and self._refused:
            self._subscribe(client, sorted(self._refused))

    def _watch_connack(self, socket_number: int, sock: Any) -> None:
        self._loop.call_later(CONNACK_TIMEOUT_S, self._connack_overdue, socket_number, sock)

    def _connack_overdue(self, socket_number: int, sock: Any) -> None:
        """On the event loop: no CONNACK on this socket yet, so cut it; paho reports the loss and
        ``_on_disconnect`` moves to the next node (the MQTT 5 silence check covers a first try)."""
        if socket_number != self._sockets_opened or self._connack_seen or self._stopping:
            return
        if self.mqtt5 and not self._v5_worked:
            return
        log.warning(
            "broker %s:%s sent no CONNACK in %.0f s; trying the next node",
            self.host,
            self.port,
            CONNACK_TIMEOUT_S,
        )
        self.last_error = f"no CONNACK from {self.host}:{self.port}"
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: paho has seen the loss itself

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            item = IncomingMessage(msg.topic, bytes(msg.payload), bool(msg.retain))
        except UnicodeDecodeError:  # a topic that is not UTF-8 is not ours; never kill paho
            log.warning("ignored a message with an undecodable topic")
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _fall_back_to_311(self) -> None:
        if not self.mqtt5 or self._stopping or self._connected.is_set():
            return
        log.warning("broker does not speak MQTT 5; using MQTT 3.1.1 (expiry rests on lanterns)")
        old = self._client
        old.loop_stop()
        self._protocol = mqtt.MQTTv311
        self._client = self._new_client()
        self._connect()
        self._client.loop_start()


def await_broker(info: PublishHandle, timeout_s: float) -> None:
    """Wait (bounded) until the broker acknowledged a QoS 1 publish; earlier ones precede it."""
    try:
        info.wait_for_publish(timeout=timeout_s)
    except (RuntimeError, ValueError):  # not queued (link lost): the retry covers it
        pass
