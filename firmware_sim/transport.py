"""One MQTT connection that speaks for many lanterns, the way an edge gateway does.

paho runs its network loop in its own thread (``loop_start``); every command it receives is handed
to asyncio with ``loop.call_soon_threadsafe``, so lantern state is only touched on the event loop.
One connection per few hundred lanterns: paho's select() loop stops near 1,000 sockets and a thread
per lantern does not scale, so a 3,000-lantern fleet runs on a handful of connections.

Protocol v2 (the default): the gateway also subscribes to each lantern's retained ``groups``
topic, subscribes to the fan-out topic of every group one of its lanterns was provisioned with
(once per gateway, however many of its lanterns share it), hands a group copy to each of its
lanterns in that group, reports each lantern's groups in its availability once subscribed, and
sends acks in batches (``AckBatch``, every ``ACK_BATCH_S``, ``ACK_BATCH_MAX`` acks or
``ACK_BATCH_BYTES``). With
``protocol=1`` it behaves exactly as a v1 gateway: own cmd topics, one ack per message.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from lightctl.protocol import (
    Ack,
    AckBatch,
    Availability,
    LanternState,
    Membership,
    TopicKind,
    Topics,
)

log = logging.getLogger(__name__)

# A broker restart or a network blip of up to an hour keeps the session, so QoS 1 commands queue on
# the broker instead of being lost; commands that expire meanwhile are dropped by their own message
# expiry (and refused as expired by the lantern if they still arrive).
SESSION_EXPIRY_S = 3600
# First retry after 1 s, doubling to 30 s: a restarting broker is back within seconds, and the cap
# keeps a dozen gateways from hammering a recovering broker yet rejoins within half a minute.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# Topics per SUBSCRIBE packet: 100 cmd filters are ~6 KB, well under any broker's packet limit, and
# 5 packets cover a 500-lantern connection instead of 500 round trips.
SUBSCRIBE_BATCH = 100
KEEPALIVE_S = 30
# paho's reason code when an MQTT 3.1.1-only broker refuses a v5 CONNECT it could parse.
UNSUPPORTED_PROTOCOL_VERSION = 132
# A broker answers CONNECT within milliseconds; amqtt (3.1.1 only) cannot parse a v5 CONNECT that
# carries a will and answers nothing at all, so silence this long on a first v5 attempt means "try
# 3.1.1". A wrong guess costs little: MQTT 5 brokers speak 3.1.1 as well.
CONNACK_TIMEOUT_S = 3.0
# Once MQTT 5 or 3.1.1 is settled, a node that accepts TCP but sends no CONNACK in this long is
# treated as gone and the next node is dialled: nats-server 2.9 did that after a peer died (its
# MQTT session setup waits on JetStream), and paho alone would wait for the keep-alive.
CONNACK_GIVE_UP_S = 8.0
# Subscriptions a broker refused are asked for again after this long, doubling up to the cap
# (a clustered broker refuses while its JetStream API is busy or re-electing a leader).
RESUBSCRIBE_MIN_S = 1.0
RESUBSCRIBE_MAX_S = 16.0

# Acks wait at most this long for company: 20 ms is well under a lantern's ack timeout and turns
# a fan-out's burst of 500 acks into a handful of messages.
ACK_BATCH_S = 0.02
ACK_BATCH_MAX = 200
# And at most this many bytes: half the 256 KiB message_size_limit of every Mosquitto we
# configure. A `done` lists each clip played (27 hashes in nine languages: ~1.9 KB), so 200 of
# them were 386 KB; Mosquitto dropped that batch and reset the connection, paho sent it again
# on reconnect, and the lanterns' acks never arrived.
ACK_BATCH_BYTES = 128 * 1024
# What a batch adds around its acks ({"v":2,"gateway":"...","acks":[...]}), and per ack (",").
_BATCH_OVERHEAD = 128

# (lantern id, payload, audience of the topic it arrived on)
CommandHandler = Callable[[str, bytes, str], None]
MembershipHandler = Callable[[str, tuple[str, ...]], None]


class _QuietCleanDisconnect(logging.Filter):
    """Drop paho 2.2's ERROR "Client is not connected" that follows every clean disconnect.

    Its ``loop_start`` thread runs one more ``_loop`` after the DISCONNECT closed the socket and
    logs that at ERROR; unexpected losses are reported by ``Gateway._on_disconnect`` instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_paho_log = logging.getLogger(f"{__name__}.paho")
_paho_log.addFilter(_QuietCleanDisconnect())


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens: ``mqtt://host:port``, ``mqtts://host:port``, or the nodes of a
    cluster as ``mqtt://node1:1883,node2:1883,node3:1883`` (gateways are spread over the nodes
    and move to the next one when theirs is gone)."""

    host: str
    port: int
    tls: bool = False
    # Every node of a clustered broker, the first being (host, port); empty for a single broker.
    nodes: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        tls = scheme in ("mqtts", "ssl")
        nodes: list[tuple[str, int]] = []
        for part in rest.split("/", 1)[0].split(","):
            parts = urlsplit(f"{scheme}://{part.strip()}")
            if not parts.hostname:
                raise ValueError(f"broker URL {url!r}: no host in {part!r}")
            try:
                port = parts.port
            except ValueError:
                raise ValueError(f"broker URL {url!r}: bad port in {part!r}") from None
            nodes.append((parts.hostname, port or (8883 if tls else 1883)))
        host, port = nodes[0]
        return cls(host, port, tls, tuple(nodes) if len(nodes) > 1 else ())

    def all_nodes(self) -> tuple[tuple[str, int], ...]:
        return self.nodes or ((self.host, self.port),)


class Gateway:
    """A persistent MQTT session with a last will, subscribed to the cmd topic of each lantern."""

    def __init__(
        self,
        gateway_id: str,
        broker: BrokerAddress,
        topics: Topics,
        lantern_ids: Sequence[str],
        on_command: CommandHandler,
        *,
        boot: int,
        on_connected: Callable[[Gateway], None] | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        session_expiry_s: int = SESSION_EXPIRY_S,
        password: str | None = None,
        ca_file: str | None = None,
        node: int = 0,
        protocol_version: int = 2,
        on_membership: MembershipHandler | None = None,
        on_manifest: Callable[[str, bytes], None] | None = None,
        qos: int = 1,
    ) -> None:
        self.id = gateway_id
        # QoS of every subscription and publish: 1, or 0 on nats-server (``--qos``, README
        # "Brokers"), where the service's re-sends stand in for the broker's queues.
        self.qos = qos
        self.protocol_version = protocol_version
        self._on_membership = on_membership
        # The clip library (issue 14): retained manifests, handed over as (key, payload).
        self._on_manifest = on_manifest
        # v2: each lantern's groups (as subscribed), the lanterns per group, pending SUBACKs.
        self.lantern_groups: dict[str, tuple[str, ...]] = {}
        self._members: dict[str, set[str]] = {}
        self._group_subacks: dict[int, list[str]] = {}
        self._subacks_lock = threading.Lock()  # a SUBACK may beat the mid's bookkeeping
        self._acks: list[Ack] = []
        self._ack_bytes = _BATCH_OVERHEAD  # the size of the batch _acks would make
        self._ack_timer: asyncio.TimerHandle | None = None
        self.bad_topics = 0
        self.batches_sent = 0
        # Which node of a clustered broker this gateway uses now (moves on when it is gone).
        self._nodes = broker.all_nodes()
        self._node = node % len(self._nodes)
        # A locked-down broker knows each gateway by its id (see `lightctl mqtt credentials`).
        self._password = password
        self._ca_file = ca_file
        self.broker = broker
        self.topics = topics
        self.lantern_ids = tuple(lantern_ids)
        self.boot = boot
        self.session_expiry_s = session_expiry_s
        self.connects = 0
        self._on_command = on_command
        self._on_connected = on_connected
        self._protocol = protocol
        self._lantern_set = frozenset(self.lantern_ids)
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Set in paho's thread: sockets opened so far, and whether the latest got a CONNACK.
        self._sockets_opened = 0
        self._connack_seen = False
        self._pending_subacks: set[int] = set()
        # SUBSCRIBE packet id -> its lanterns; lanterns whose subscription the broker refused
        # (announced offline until a retry is granted, so the service does not wait on them).
        self._subscribing: dict[int, tuple[str, ...]] = {}
        self.unsubscribed: set[str] = set()
        self._resubscribe_s = RESUBSCRIBE_MIN_S
        self._downgrading = False
        # Set on moving to another node: its first connection drops the subscriptions the
        # session may still name and makes them anew (see ``_on_connect``).
        self._moved = False
        # A retry subscribes from the event loop: its SUBACK must find the batch recorded.
        self._subscribing_lock = threading.Lock()
        # (online, boot) of lanterns that differ from the gateway's own: one whose link to the
        # gateway is down, or one that rebooted alone (fault injection). Read in paho's thread.
        self.lantern_status: dict[str, tuple[bool, int]] = {}

    @property
    def client_id(self) -> str:
        """Stable per gateway and topic root, so the broker resumes the same session."""
        return f"firmware-sim-{self.topics.root}-{self.id}"

    @property
    def protocol(self) -> MQTTProtocolVersion:
        return self._protocol

    @property
    def connected(self) -> bool:
        """True while subscribed and announced online (not merely TCP-connected)."""
        return self._connected.is_set()

    async def start(self) -> None:
        """Begin connecting in paho's thread; returns at once (see ``wait_connected``)."""
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._client = self._new_client()
        self._client.loop_start()

    async def wait_connected(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def publish_ack(self, ack: Ack) -> mqtt.MQTTMessageInfo | None:
        """v1: publish at once on the lantern's ack topic; v2: add it to the next batch."""
        if self.protocol_version < 2:
            return self._publish(self.topics.ack(ack.lantern), ack.to_bytes(), retain=False)
        size = len(ack.to_bytes()) + 1
        if self._acks and self._ack_bytes + size > ACK_BATCH_BYTES:
            self.flush_acks()
        self._acks.append(ack)
        self._ack_bytes += size
        loop = self._loop
        if len(self._acks) >= ACK_BATCH_MAX or loop is None:
            self.flush_acks()
        elif self._ack_timer is None:
            self._ack_timer = loop.call_later(ACK_BATCH_S, self.flush_acks)
        return None

    def flush_acks(self) -> None:
        """Send the acks collected so far as one ``AckBatch``."""
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        acks, self._acks = self._acks, []
        self._ack_bytes = _BATCH_OVERHEAD
        if not acks or self._client is None:
            return
        batch = AckBatch(gateway=self.id, acks=acks)
        self._publish(self.topics.gateway_acks(self.id), batch.to_bytes(), retain=False)
        self.batches_sent += 1

    def set_groups(self, lantern_id: str, groups: tuple[str, ...]) -> None:
        """A lantern's provisioned groups (event loop): subscribe to the new ones; its
        availability names them once the broker confirmed the subscriptions."""
        old = self.lantern_groups.get(lantern_id, ())
        for aud in old:
            members = self._members.get(aud)
            if members is not None:
                members.discard(lantern_id)
        new: list[str] = []
        for aud in groups:
            members = self._members.setdefault(aud, set())
            if not members:
                new.append(aud)
            members.add(lantern_id)
        self.lantern_groups[lantern_id] = groups
        client = self._client
        if client is None or not new:
            self._announce(lantern_id)
            return
        with self._subacks_lock:
            _, mid = client.subscribe([(self.topics.audience_cmd(aud), self.qos) for aud in new])
            if mid is not None:
                self._group_subacks[mid] = [lantern_id]
        if mid is None:
            self._announce(lantern_id)

    def _announce(self, lantern_id: str) -> None:
        online, boot = self.lantern_status.get(lantern_id, (True, self.boot))
        if self._client is None:
            return
        self._publish(
            self.topics.availability(lantern_id),
            self._availability(lantern_id, online, boot).to_bytes(),
            retain=True,
        )

    def _availability(self, lantern_id: str, online: bool, boot: int) -> Availability:
        groups = None
        if self.protocol_version >= 2:
            groups = list(self.lantern_groups.get(lantern_id, ()))
        return Availability(online=online, boot=boot, gateway=self.id, groups=groups)

    def publish_state(self, state: LanternState) -> mqtt.MQTTMessageInfo:
        return self._publish(self.topics.state(state.lantern), state.to_bytes(), retain=True)

    def set_lantern_status(self, lantern_id: str, online: bool, boot: int) -> None:
        """Announce one lantern's own availability (retained) and keep it for reconnects."""
        self.lantern_status[lantern_id] = (online, boot)
        payload = self._availability(lantern_id, online, boot).to_bytes()
        self._publish(self.topics.availability(lantern_id), payload, retain=True)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Say offline for every lantern and the gateway, wait for the broker to take it, leave."""
        client = self._client
        if client is None:
            return
        self.flush_acks()
        self._closing = True
        if self.connected:
            infos = self._publish_availability(client, online=False)
            deadline = time.monotonic() + timeout_s
            # paho's MessageInfo offers no awaitable; poll its PUBACK flag for at most timeout_s.
            while not _all_published(infos) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        self._client = None
        self._connected.clear()

    # ---- paho side (runs in paho's thread) ------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=self._protocol,
            # MQTT 3.1.1 keeps the session with clean_session=False; v5 uses clean_start below.
            clean_session=None if v5 else False,
        )
        client.enable_logger(_paho_log)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        offline = Availability(online=False, boot=self.boot, gateway=self.id)
        client.will_set(
            self.topics.gateway_availability(self.id), offline.to_bytes(), qos=self.qos, retain=True
        )
        if self._password is not None:
            client.username_pw_set(self.id, self._password)
        if self.broker.tls:
            client.tls_set(ca_certs=self._ca_file)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self._connect_to_node(client)
        return client

    @property
    def node(self) -> tuple[str, int]:
        """The broker node this gateway connects to now."""
        return self._nodes[self._node]

    def _connect_to_node(self, client: mqtt.Client) -> None:
        """Point paho at the current node; its reconnect loop then dials that one."""
        properties = None
        if self._protocol == MQTTProtocolVersion.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry_s
        host, port = self.node
        client.connect_async(
            host, port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties
        )

    def _next_node(self, client: mqtt.Client) -> None:
        """Node gone (or never there): the next reconnect goes to the next node of the cluster."""
        if len(self._nodes) == 1 or self._closing:
            return
        self._node = (self._node + 1) % len(self._nodes)
        self._moved = True
        host, port = self.node
        log.warning("gateway %s: moving to broker node %s:%s", self.id, host, port)
        self._connect_to_node(client)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._next_node(client)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._connack_seen = False
        self._sockets_opened += 1
        self._to_loop(self._watch_connack, self._sockets_opened, sock)
        # Acks are small and latency matters more than packing: do not let Nagle hold them back.
        if hasattr(sock, "setsockopt"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack_seen = True
        if reason.is_failure:
            if reason.value == UNSUPPORTED_PROTOCOL_VERSION and self._may_downgrade():
                log.info("gateway %s: broker refuses MQTT 5, switching to 3.1.1", self.id)
                self._downgrading = True  # the hang-up that follows is not a dead node
                self._to_loop(self._downgrade)
            else:
                log.warning("gateway %s: broker refused the connection: %s", self.id, reason)
            return
        self._downgrading = False
        # "Online" must mean "ready for commands": availability goes out once every SUBACK is in,
        # otherwise a command sent on seeing it could reach the broker before the subscription.
        self._pending_subacks = set()
        self._subscribing = {}
        self.unsubscribed = set()
        self._resubscribe_s = RESUBSCRIBE_MIN_S
        if self._moved:
            # A clustered broker may resume our session on the new node with subscriptions whose
            # consumers lived on the dead one (nats-server keeps single-replica consumers on one
            # node): they are granted and never deliver. Dropping them first makes each anew;
            # commands queued meanwhile are re-sent by the service to lanterns that come back.
            self._moved = False
            topics = [self.topics.cmd(lantern_id) for lantern_id in self.lantern_ids]
            for start in range(0, len(topics), SUBSCRIBE_BATCH):
                client.unsubscribe(topics[start : start + SUBSCRIBE_BATCH])
        for mid in self._subscribe(client, self.lantern_ids):
            self._pending_subacks.add(mid)
        extra: list[str] = []
        if self.protocol_version >= 2:
            extra += [self.topics.groups(lantern_id) for lantern_id in self.lantern_ids]
            # Groups already known (a reconnect): listen again before saying online.
            extra += [self.topics.audience_cmd(aud) for aud, m in self._members.items() if m]
        if self._on_manifest is not None:
            extra.append(self.topics.all_clip_manifests())
        for start in range(0, len(extra), SUBSCRIBE_BATCH):
            _, extra_mid = client.subscribe(
                [(topic, self.qos) for topic in extra[start : start + SUBSCRIBE_BATCH]]
            )
            if extra_mid is not None:
                self._pending_subacks.add(extra_mid)
        log.info(
            "gateway %s connected (%d lanterns, session present: %s)",
            self.id,
            len(self.lantern_ids),
            flags.session_present,
        )
        if not self._pending_subacks:
            self._ready(client)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._subscribing_lock:
            batch = self._subscribing.pop(mid, ())
        refused = [r for r in reasons if r.is_failure]
        lost = {lid for lid, r in zip(batch, reasons, strict=False) if r.is_failure}
        granted = [lid for lid in batch if lid not in lost and lid in self.unsubscribed]
        self.unsubscribed |= lost
        if refused:
            log.error(
                "gateway %s: broker refused %d subscriptions: %s", self.id, len(refused), refused[0]
            )
            self._to_loop(self._schedule_resubscribe, client)
        if granted and mid not in self._pending_subacks:
            # A retry was granted: these lanterns can take commands now.
            self.unsubscribed -= set(granted)
            self._publish_availability(client, online=True, only=granted)
        if mid in self._pending_subacks:
            self._pending_subacks.discard(mid)
            if not self._pending_subacks:
                self._ready(client)
        with self._subacks_lock:
            announce = self._group_subacks.pop(mid, None)
        if announce:
            for lantern_id in announce:
                self._to_loop(self._announce, lantern_id)

    def _ready(self, client: mqtt.Client) -> None:
        self._publish_availability(client, online=True)
        self._to_loop(self._mark_connected)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._downgrading:
            pass  # refused MQTT 5: the 3.1.1 client takes over on the same node
        elif not self._connack_seen and self._may_downgrade():
            # Some 3.1.1-only brokers hang up on a v5 CONNECT without a CONNACK.
            log.info("gateway %s: broker closed before CONNACK, trying MQTT 3.1.1", self.id)
            self._to_loop(self._downgrade)
        elif not self._closing:
            log.warning("gateway %s lost the broker (%s); reconnecting", self.id, reason)
            self._next_node(client)
        self._to_loop(self._connected.clear)

    def _may_downgrade(self) -> bool:
        """Fall back to 3.1.1 only while MQTT 5 has never worked with this broker."""
        return (
            self._protocol == MQTTProtocolVersion.MQTTv5
            and self.connects == 0
            and not self._closing
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_manifest is not None:
            key = self.topics.manifest_key(message.topic)
            if key is not None:
                self._to_loop(self._on_manifest, key, bytes(message.payload))
                return
        audience = self.topics.audience_of_cmd(message.topic)
        if audience is not None and audience.startswith("groups/"):
            self._to_loop(self._on_group_command, audience, bytes(message.payload))
            return
        parsed = self.topics.parse(message.topic)
        if parsed is None:
            # A fan-out topic name that does not parse (or none of ours): nobody acts on it.
            self.bad_topics += 1
            log.warning(
                "gateway %s: ignored message on unparsable topic %r", self.id, message.topic
            )
            return
        if parsed.lantern_id is None or parsed.lantern_id not in self._lantern_set:
            return  # a subscription left over in a persisted session from another lantern set
        if parsed.kind is TopicKind.GROUPS:
            retained = bool(message.retain)
            self._to_loop(self._membership, parsed.lantern_id, bytes(message.payload), retained)
        elif parsed.kind is TopicKind.CMD:
            own = f"lanterns/{parsed.lantern_id}"
            self._to_loop(self._on_command, parsed.lantern_id, bytes(message.payload), own)

    def _on_group_command(self, audience: str, payload: bytes) -> None:
        """A group copy: every lantern of this gateway in that group takes it (event loop)."""
        for lantern_id in sorted(self._members.get(audience, ())):
            self._on_command(lantern_id, payload, audience)

    def _membership(self, lantern_id: str, payload: bytes, retained: bool = False) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            membership = Membership.from_bytes(payload)
        except ValueError as exc:
            log.warning("gateway %s: refused membership for %s: %s", self.id, lantern_id, exc)
            return
        if membership.lantern != lantern_id:
            log.warning("gateway %s: membership on %s names %s", self.id, lantern_id, membership)
            return
        groups = tuple(membership.groups)
        if self._on_membership is not None:
            self._on_membership(lantern_id, groups)
        if retained and groups == self.lantern_groups.get(lantern_id):
            # The replay that follows every (re)subscription, naming the groups the availability
            # sent on connecting named already: announcing again would only make the service
            # re-send what it sent the lantern (a gateway moving node did it for all its lanterns).
            return
        self.set_groups(lantern_id, groups)

    def _subscribe(self, client: mqtt.Client, lantern_ids: Sequence[str]) -> list[int]:
        """Subscribe to the cmd topics of ``lantern_ids`` in batches; the packet ids."""
        mids = []
        for start in range(0, len(lantern_ids), SUBSCRIBE_BATCH):
            batch = tuple(lantern_ids[start : start + SUBSCRIBE_BATCH])
            filters = [(self.topics.cmd(lantern_id), self.qos) for lantern_id in batch]
            with self._subscribing_lock:
                _, mid = client.subscribe(filters)
                if mid is not None:
                    self._subscribing[mid] = batch
                    mids.append(mid)
        return mids

    def _publish_availability(
        self, client: mqtt.Client, online: bool, only: Sequence[str] | None = None
    ) -> list[mqtt.MQTTMessageInfo]:
        payload = Availability(online=online, boot=self.boot, gateway=self.id).to_bytes()
        infos = []
        for lantern_id in self.lantern_ids if only is None else only:
            own = self.lantern_status.get(lantern_id)
            body = payload
            if own is not None or self.protocol_version >= 2 or lantern_id in self.unsubscribed:
                # A lantern without its cmd subscription cannot take commands: offline.
                up, boot = own if own is not None else (True, self.boot)
                up = online and up and lantern_id not in self.unsubscribed
                body = self._availability(lantern_id, up, boot).to_bytes()
            topic = self.topics.availability(lantern_id)
            infos.append(client.publish(topic, body, qos=self.qos, retain=True))
        if only is None:
            topic = self.topics.gateway_availability(self.id)
            infos.append(client.publish(topic, payload, qos=self.qos, retain=True))
        return infos

    def _publish(self, topic: str, payload: bytes, *, retain: bool) -> mqtt.MQTTMessageInfo:
        if self._client is None:
            raise RuntimeError(f"gateway {self.id} is not started")
        # paho queues QoS 1 messages while disconnected and sends them after the reconnect.
        return self._client.publish(topic, payload, qos=self.qos, retain=retain)

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the event loop shut down while paho was still delivering

    # ---- event loop side ----------------------------------------------------------------------

    def _mark_connected(self) -> None:
        self.connects += 1
        self._connected.set()
        if self._on_connected is not None:
            self._on_connected(self)

    def _watch_connack(self, socket_number: int, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        if self._may_downgrade():
            loop.call_later(CONNACK_TIMEOUT_S, self._connack_overdue, socket_number, sock)
        else:
            loop.call_later(CONNACK_GIVE_UP_S, self._connack_overdue, socket_number, sock)

    def _connack_overdue(self, socket_number: int, sock: Any) -> None:
        if socket_number != self._sockets_opened or self._connack_seen or self._closing:
            return
        if self._may_downgrade():
            log.info("gateway %s: no CONNACK to MQTT 5, trying MQTT 3.1.1", self.id)
            self._downgrade()
            return
        # Cut the socket: paho reports the loss and ``_on_disconnect`` moves to the next node.
        log.warning("gateway %s: no CONNACK from %s:%s, trying the next node", self.id, *self.node)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: paho has seen the loss itself

    def _schedule_resubscribe(self, client: mqtt.Client) -> None:
        delay = self._resubscribe_s
        self._resubscribe_s = min(RESUBSCRIBE_MAX_S, delay * 2)
        asyncio.get_running_loop().call_later(delay, self._resubscribe, client)

    def _resubscribe(self, client: mqtt.Client) -> None:
        """Ask again for the cmd subscriptions the broker refused, on the same connection."""
        if client is not self._client or not self.connected or self._closing:
            return
        with self._subscribing_lock:
            waiting = {lid for batch in self._subscribing.values() for lid in batch}
        again = [lid for lid in self.lantern_ids if lid in self.unsubscribed - waiting]
        if again:
            self._subscribe(client, again)

    def _downgrade(self) -> None:
        self._downgrading = True  # the old client's hang-up is not a dead node
        task = asyncio.get_running_loop().create_task(self._restart_as_v311())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart_as_v311(self) -> None:
        old = self._client
        if old is None or self._closing or self._protocol != MQTTProtocolVersion.MQTTv5:
            return  # already switched: a refusal may be reported twice (CONNACK, then close)
        self._protocol = MQTTProtocolVersion.MQTTv311
        old.disconnect()
        await asyncio.to_thread(old.loop_stop)
        self._downgrading = False  # the old client is done; losses from now on are real
        if self._closing:
            return
        self._client = self._new_client()
        self._client.loop_start()


def _all_published(infos: list[mqtt.MQTTMessageInfo]) -> bool:
    """True once the broker took every message; also when the connection is gone, since paho
    raises then and nothing more can be published (the last will says offline instead)."""
    try:
        return all(i.is_published() for i in infos)
    except RuntimeError:
        return True
