"""Reads acks, availability and state from lanterns off the link; never crashes on junk.

It only moves bytes: topic dispatch, size limits, the wire models. What a batch means for the
store (which deliveries move, which lanterns came back) is the ack ledger's
(``services/delivery/acks.py``), which applies the delivery rules of ``domain/delivery``.

Anything unusable (a foreign topic, an oversized or non-JSON payload, an ack that fails the wire
model, names another lantern than its topic, or acks a command we never sent it) is logged with
its topic, counted in ``stats`` (``GET /api/v1/metrics``) and ignored. A batch the database
refuses is retried one message at a time, so one poisonous message cannot take 499 good ones
with it.

An ack for a command we did send that lantern is still refused (``ack_refused_<why>``, logged)
when it is not the lantern's own word: unsigned or wrongly signed from a lantern with an ack key
(``services/access/ack_trust.py``), or out of order for the command
(``domain/delivery.judge_ack``: a delivery held for approval, a status that kind of command
never gets, a `done` without exactly the clips sent).

Availability also drives re-sending: a lantern that comes back (announces itself live after a
reconnect, changes its boot number, or was offline) gets its live commands again (``on_return``).

Protocol v2: a lantern's availability lists the fan-out groups it listens to (``GroupBook``); a
name that does not parse as ``groups/<kind>/<key>`` is skipped and counted
(``dropped_bad_group``), and a lantern that holds other groups than its inventory gives it is
provisioned again (``on_provision``). A gateway's ``AckBatch`` is taken ack by ack as if each
came on its lantern's own topic; an ack for a lantern the inventory does not know is skipped and
counted (``ack_unknown_lantern``, logged with the gateway's topic).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime

from pydantic import ValidationError

from lightctl.domain.fanout import GroupBook
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import (
    Ack,
    AckBatch,
    Availability,
    LanternState,
    TopicKind,
    Topics,
    parse_group_audience,
)
from lightctl.services.access.ack_trust import AckTrust
from lightctl.services.delivery.acks import AckLedger, Seen
from lightctl.services.delivery.outbox import Return
from lightctl.store import Database

log = logging.getLogger(__name__)

# Acks are ~150 bytes; anything far larger is not an ack and is dropped unparsed.
MAX_PAYLOAD_BYTES = 16384
# A gateway's batch holds up to 500 acks of ~200-400 bytes (signed ones are longer).
MAX_BATCH_BYTES = 262144
# The retained reports of a whole fleet arrive in the first seconds after connecting; groups are
# used once the queue has run dry this long after the consumer started (GroupBook.ready).
GROUPS_WARM_S = 2.0
# Apply up to this many messages per transaction: one commit per ack would cap SQLite near 500/s.
BATCH = 500
# A flood of junk must not flood the log: one warning per kind of problem per 10 s, the rest
# counted (and logged at DEBUG).
LOG_EVERY_S = 10.0
# Reported states kept in memory: one per lantern, capped so junk lantern ids cannot grow it.
REPORTED_CAP = 200_000
# What a replica without the ack lease keeps: longer than the lease takes to pass on (LEASE).
HOLD_S = 30.0
HOLD_CAP = 200_000


class Consumer:
    def __init__(
        self,
        db: Database,
        queue: asyncio.Queue[IncomingMessage],
        topics: Topics,
        clock: Callable[[], datetime],
        on_change: Callable[[set[str]], None] = lambda _ids: None,
        on_return: Callable[[dict[str, Return]], None] = lambda _ids: None,
        trust: AckTrust | None = None,
        groups: GroupBook | None = None,
        memberships: Callable[[], Mapping[str, tuple[str, ...]]] = dict,
        on_provision: Callable[[list[str]], None] = lambda _ids: None,
        ack_timeout_s: float = 10.0,
    ) -> None:
        self._db = db
        self.groups = groups if groups is not None else GroupBook()
        self._memberships = memberships
        self._on_provision = on_provision
        self._started = time.monotonic()
        self._queue = queue
        self._topics = topics
        self._clock = clock
        self._on_change = on_change
        self._on_return = on_return
        self.stats: Counter[str] = Counter()
        # What the acks and availability mean for the store is the ledger's (services/delivery).
        self._ledger = AckLedger(
            db, clock, topics, trust or AckTrust(), self.stats, self._warn, ack_timeout_s
        )
        self.reported: dict[str, LanternState] = {}
        self._gateway_online: dict[str, bool] = {}
        self._last_warning: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._stopping = False
        # Replicas on one database: only the holder of the ack lease writes what lanterns report
        # (see Runtime); the others keep the last HOLD_S seconds of it to take over without loss.
        self.leading = True
        self._held: deque[tuple[float, Ack | Seen | str]] = deque()

    async def run(self) -> None:
        self._started = time.monotonic()
        while not self._stopping:
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=GROUPS_WARM_S)
            except TimeoutError:
                self._warm()
                continue
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            changed = await self._apply_safely(batch)
            if changed:
                self._on_change(changed)
            if self._queue.empty():
                self._warm()

    def _warm(self) -> None:
        """The retained reports have been read: fan-out groups may be used from now on."""
        if not self.groups.ready and time.monotonic() - self._started >= GROUPS_WARM_S:
            self.groups.ready = True
            log.info("fan-out groups in use: %d v2 lanterns report theirs", len(self.groups))

    def stop(self) -> None:
        self._stopping = True

    async def _apply_safely(self, batch: list[IncomingMessage]) -> set[str]:
        try:
            return await asyncio.to_thread(self.apply, batch)
        except Exception:
            log.exception("could not apply %d messages; applying them one by one", len(batch))
            self.stats["batch_failed"] += 1
        changed: set[str] = set()
        for msg in batch:
            try:
                changed |= await asyncio.to_thread(self.apply, [msg])
            # BLE001: whatever this one message breaks, it is counted and consuming goes on.
            except Exception as exc:  # noqa: BLE001
                self._drop(msg, "unprocessable", f"{type(exc).__name__}: {exc}"[:200])
        return changed

    def apply(self, batch: list[IncomingMessage]) -> set[str]:
        """Apply one batch in one transaction; returns the alert ids whose counts changed."""
        acks: list[Ack] = []
        availability: list[Seen] = []
        gateways_down: list[str] = []
        reported_groups: list[tuple[str, list[str]]] = []
        for msg in batch:
            self.stats["messages"] += 1
            parsed = self._topics.parse(msg.topic)
            if parsed is None:
                self._drop(msg, "foreign_topic")
                continue
            limit = MAX_BATCH_BYTES if parsed.kind is TopicKind.ACKS else MAX_PAYLOAD_BYTES
            if len(msg.payload) > limit:
                self._drop(msg, "oversized", f"{len(msg.payload)} bytes")
                continue
            if not msg.payload:
                continue  # a cleared retained message
            try:
                if parsed.kind is TopicKind.ACKS and parsed.gateway_id is not None:
                    acks += self._batch(msg, parsed.gateway_id)
                elif parsed.gateway_id is not None:
                    gateway = Availability.from_bytes(msg.payload)
                    self._gateway_online[parsed.gateway_id] = gateway.online
                    if not gateway.online:
                        gateways_down.append(parsed.gateway_id)
                elif parsed.kind is TopicKind.ACK and parsed.lantern_id:
                    ack = Ack.from_bytes(msg.payload)
                    if ack.lantern != parsed.lantern_id:
                        self._drop(msg, "lantern_mismatch", f"ack names {ack.lantern!r}")
                        continue
                    acks.append(ack)
                elif parsed.kind is TopicKind.AVAILABILITY and parsed.lantern_id:
                    status = Availability.from_bytes(msg.payload)
                    groups, regrouped = self._groups_of(msg, parsed.lantern_id, status)
                    availability.append(Seen(parsed.lantern_id, status, msg.retain, regrouped))
                    if groups is not None:
                        reported_groups.append((parsed.lantern_id, groups))
                elif parsed.kind is TopicKind.STATE and parsed.lantern_id:
                    state = LanternState.from_bytes(msg.payload)
                    if state.lantern != parsed.lantern_id:
                        self._drop(msg, "lantern_mismatch", f"state names {state.lantern!r}")
                        continue
                    self._report(parsed.lantern_id, state)
                else:
                    self._drop(msg, "unexpected_topic")
            except (ValidationError, ValueError, UnicodeDecodeError) as exc:
                self._drop(msg, "malformed", str(exc).splitlines()[0][:200])
        if reported_groups and self.leading:
            self._provision_differing(reported_groups)
        if not self.leading:
            # Another replica ingests (it holds the ack lease); keep what arrived for a while so
            # that, should it die, this one takes over without a gap.
            self._hold(acks, availability, gateways_down)
            return set()
        if self._held:
            acks, availability, gateways_down = self._with_held(acks, availability, gateways_down)
        if not (acks or availability or gateways_down):
            return set()
        return self._write(acks, availability, gateways_down)

    def _batch(self, msg: IncomingMessage, gateway_id: str) -> list[Ack]:
        """The acks of a gateway's batch (protocol v2); the batch must name its topic's gateway."""
        batch = AckBatch.from_bytes(msg.payload)
        if batch.gateway != gateway_id:
            self._drop(msg, "gateway_mismatch", f"batch names {batch.gateway!r}")
            return []
        self.stats["ack_batches"] += 1
        return list(batch.acks)

    def _groups_of(
        self, msg: IncomingMessage, lantern_id: str, status: Availability
    ) -> tuple[list[str] | None, bool]:
        """Record the groups a v2 lantern listens to: them (None for a v1 lantern), and True
        when it reports other groups than before (its answer to a membership we sent)."""
        if status.groups is None:
            self.groups.report(lantern_id, None)
            return None, False
        valid: list[str] = []
        for name in status.groups:
            if parse_group_audience(name) is None:
                # It may listen there, but no fan-out of ours will ever use that name.
                self._drop(msg, "bad_group", f"group {name[:80]!r} does not parse")
                continue
            valid.append(name)
        regrouped = self.groups.report(lantern_id, valid)
        return valid, regrouped

    def _provision_differing(self, reported: list[tuple[str, list[str]]]) -> None:
        """Ask for their own groups for the lanterns that hold others. The inventory's groups
        are looked up once per batch: once per message cost ~1-2 ms each (an inventory version
        query), which at 100,000 lanterns kept the consumer busy for minutes (issue 14)."""
        expected = self._memberships()
        differing: dict[str, None] = {}  # in order, once per lantern
        for lantern_id, valid in reported:
            wanted = expected.get(lantern_id)
            if wanted is not None and set(wanted) != set(valid):
                differing[lantern_id] = None
        if differing:
            self.stats["groups_provisioned"] += len(differing)
            self._on_provision(list(differing))

    def _hold(self, acks: list[Ack], seen: list[Seen], gateways_down: list[str]) -> None:
        now = time.monotonic()
        items: list[Ack | Seen | str] = [*acks, *seen, *gateways_down]
        self._held.extend((now, item) for item in items)
        while self._held and (self._held[0][0] < now - HOLD_S or len(self._held) > HOLD_CAP):
            self._held.popleft()
        self.stats["held_for_leader"] += len(acks) + len(seen) + len(gateways_down)

    def _with_held(
        self, acks: list[Ack], seen: list[Seen], gateways_down: list[str]
    ) -> tuple[list[Ack], list[Seen], list[str]]:
        """This replica just took the lease over: what it kept comes first (applying an ack
        twice changes nothing, the delivery rules keep states moving forward)."""
        held = [item for _at, item in self._held]
        self._held.clear()
        self.stats["taken_over"] += len(held)
        return (
            [i for i in held if isinstance(i, Ack)] + acks,
            [i for i in held if isinstance(i, Seen)] + seen,
            [i for i in held if isinstance(i, str)] + gateways_down,
        )

    def _write(
        self,
        acks: list[Ack],
        availability: list[Seen],
        gateways_down: list[str],
    ) -> set[str]:
        changed, returned = self._ledger.write(
            acks, availability, gateways_down, self._gateway_online
        )
        if returned:
            self._on_return(returned)
        return changed

    def _report(self, lantern_id: str, state: LanternState) -> None:
        if lantern_id not in self.reported and len(self.reported) >= REPORTED_CAP:
            self.stats["state_dropped_cap"] += 1
            return
        self.reported[lantern_id] = state

    def _drop(self, msg: IncomingMessage, why: str, detail: str = "") -> None:
        self.stats[f"dropped_{why}"] += 1
        self._warn(why, "ignored message on %s: %s %s", msg.topic[:200], why, detail)

    def _warn(self, kind: str, text: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(kind, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_warning[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
            if suppressed:
                text += f" ({suppressed} more like it not logged)"
            log.warning(text, *args)
        else:
            self._suppressed[kind] += 1
            log.debug(text, *args)
