"""Consumes acks, availability and state from lanterns; moves deliveries; never crashes on junk."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from lightctl.domain.delivery import DeliveryState, next_state
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import Ack, Availability, LanternState, TopicKind, Topics
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store

log = logging.getLogger(__name__)

# Acks are ~150 bytes; anything far larger is not an ack and is dropped unparsed.
MAX_PAYLOAD_BYTES = 16384
# Apply up to this many messages per transaction: one commit per ack would cap SQLite near 500/s.
BATCH = 500


class Consumer:
    def __init__(
        self,
        db: Database,
        queue: asyncio.Queue[IncomingMessage],
        topics: Topics,
        clock: Callable[[], datetime],
        on_change: Callable[[set[str]], None] = lambda _ids: None,
    ) -> None:
        self._db = db
        self._queue = queue
        self._topics = topics
        self._clock = clock
        self._on_change = on_change
        self.stats: Counter[str] = Counter()
        self.reported: dict[str, LanternState] = {}
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                changed = await asyncio.to_thread(self.apply, batch)
            except Exception:  # keep consuming; the batch is logged and counted
                log.exception("could not apply %d messages", len(batch))
                self.stats["batch_failed"] += 1
                continue
            if changed:
                self._on_change(changed)

    def stop(self) -> None:
        self._stopping = True

    def apply(self, batch: list[IncomingMessage]) -> set[str]:
        """Apply one batch in one transaction; returns the alert ids whose counts changed."""
        acks: list[Ack] = []
        availability: list[tuple[str, Availability]] = []
        gateways_down: list[str] = []
        for msg in batch:
            parsed = self._topics.parse(msg.topic)
            if parsed is None:
                self._drop(msg, "foreign_topic")
                continue
            if len(msg.payload) > MAX_PAYLOAD_BYTES:
                self._drop(msg, "oversized")
                continue
            if not msg.payload:
                continue  # a cleared retained message
            try:
                if parsed.gateway_id is not None:
                    if not Availability.from_bytes(msg.payload).online:
                        gateways_down.append(parsed.gateway_id)
                elif parsed.kind is TopicKind.ACK and parsed.lantern_id:
                    ack = Ack.from_bytes(msg.payload)
                    if ack.lantern != parsed.lantern_id:
                        self._drop(msg, "lantern_mismatch")
                        continue
                    acks.append(ack)
                elif parsed.kind is TopicKind.AVAILABILITY and parsed.lantern_id:
                    availability.append((parsed.lantern_id, Availability.from_bytes(msg.payload)))
                elif parsed.kind is TopicKind.STATE and parsed.lantern_id:
                    state = LanternState.from_bytes(msg.payload)
                    if state.lantern != parsed.lantern_id:
                        self._drop(msg, "lantern_mismatch")
                        continue
                    self.reported[parsed.lantern_id] = state
            except (ValidationError, ValueError, UnicodeDecodeError) as exc:
                self._drop(msg, "malformed", str(exc).splitlines()[0])
        if not (acks or availability or gateways_down):
            return set()
        return self._write(acks, availability, gateways_down)

    def _write(
        self,
        acks: list[Ack],
        availability: list[tuple[str, Availability]],
        gateways_down: list[str],
    ) -> set[str]:
        changed: set[str] = set()
        now = self._clock()
        with self._db.session() as session:
            for lantern_id, avail in availability:
                lantern_store.set_availability(
                    session, lantern_id, avail.online, avail.boot, avail.gateway, now
                )
            for gateway in gateways_down:
                lantern_store.set_gateway_offline(session, gateway)
            for ack in acks:
                row = alert_store.get_delivery(session, ack.cmd_id, ack.lantern)
                if row is None:
                    self.stats["ack_unknown_command"] += 1
                    log.info("ack for unknown command %s from %s", ack.cmd_id, ack.lantern)
                    continue
                target = next_state(DeliveryState(row.state), ack.status.value)
                if target is None:
                    self.stats["ack_duplicate"] += 1
                    continue
                row.state = target.value
                row.reason = ack.reason
                row.updated_at = now
                if ack.played is not None:
                    row.played_json = json.dumps(ack.played)
                session.add(row)
                self.stats["ack_applied"] += 1
                if row.alert_id:
                    changed.add(row.alert_id)
        return changed

    def _drop(self, msg: IncomingMessage, why: str, detail: str = "") -> None:
        self.stats[f"dropped_{why}"] += 1
        log.warning("ignored message on %s: %s %s", msg.topic, why, detail)
