"""The outbox publisher: sends every stored delivery that no lantern has acknowledged yet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from lightctl.mqtt.link import MqttLink
from lightctl.protocol import Topics
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store

log = logging.getLogger(__name__)

# One pump publishes at most this many commands, then commits; keeps each transaction short.
BATCH = 1000
# A lantern that played to the end acks `done` at expiry at the latest; after this grace the
# service stops waiting and records what it knows (no silent loss).
FINAL_ACK_GRACE_S = 30
MAX_BACKOFF_S = 300.0


class Outbox:
    def __init__(
        self,
        db: Database,
        link: MqttLink,
        topics: Topics,
        ack_timeout_s: float,
        clock: Callable[[], datetime],
        on_change: Callable[[set[str]], None] = lambda _ids: None,
    ) -> None:
        self._db = db
        self._link = link
        self._topics = topics
        self._ack_timeout_s = ack_timeout_s
        self._clock = clock
        self._on_change = on_change
        self._wake = asyncio.Event()
        self._stopping = False
        self.published_total = 0

    def wake(self) -> None:
        """Called after a commit (from any thread) so new deliveries go out at once."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._wake.set)

    _loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await asyncio.to_thread(self.pump) >= BATCH:
                    pass
            except Exception:  # a database hiccup must not end the publisher
                log.exception("outbox pump failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def pump(self) -> int:
        """Publish what is due, end what expired; returns how many commands went out."""
        now = self._clock()
        changed: set[str] = set()
        self._end_overdue(now, changed)
        if not self._link.connected:
            if changed:
                self._on_change(changed)
            return 0
        with self._db.session() as session:
            due = alert_store.due_deliveries(session, now, BATCH)
        sent: list[tuple[str, str, int, datetime]] = []
        for d in due:
            remaining = (d.expires_at - now).total_seconds()
            if remaining <= 0:
                continue  # _end_overdue will record it on the next pass
            self._link.publish(
                self._topics.cmd(d.lantern_id), d.envelope.encode(), qos=1, expiry_s=int(remaining)
            )
            backoff = min(self._ack_timeout_s * (2**d.attempts), MAX_BACKOFF_S)
            sent.append(
                (d.command_id, d.lantern_id, d.attempts + 1, now + timedelta(seconds=backoff))
            )
        if sent:
            with self._db.session() as session:
                alert_store.mark_published_many(session, sent, now)
                ids = alert_store.alert_ids_for_commands(session, list({s[0] for s in sent}))
            changed.update(a for a in ids.values() if a)
            self.published_total += len(sent)
            log.debug("published %d commands", len(sent))
        if changed:
            self._on_change(changed)
        return len(due)

    def _end_overdue(self, now: datetime, changed: set[str]) -> None:
        """Unacknowledged past expiry: `unreachable` if the lantern is offline, else `expired`."""
        with self._db.session() as session:
            overdue = alert_store.overdue_deliveries(session, now, BATCH * 10)
            never_received = [(c, lid) for c, lid, s in overdue if s in ("planned", "published")]
            # A lantern that said `received` but never `done` gets a grace period for its last ack.
            grace = now - timedelta(seconds=FINAL_ACK_GRACE_S)
            silent = [
                (c, lid)
                for c, lid, s in alert_store.overdue_deliveries(session, grace, BATCH * 10)
                if s in ("received", "playing")
            ]
            if not never_received and not silent:
                return
            offline = lantern_store.offline_ids(session, [lid for _c, lid in never_received])
            unreachable = [k for k in never_received if k[1] in offline]
            expired = [k for k in never_received if k[1] not in offline]
            alert_store.force_state(
                session, unreachable, "unreachable", "offline until expiry", now
            )
            alert_store.force_state(session, expired, "expired", "no ack before expiry", now)
            alert_store.force_state(session, silent, "expired", "no final ack after expiry", now)
            ids = alert_store.alert_ids_for_commands(
                session, list({c for c, _ in never_received + silent})
            )
        changed.update(a for a in ids.values() if a)
