"""Alert changes told to every replica: PostgreSQL ``LISTEN``/``NOTIFY``.

A replica that ingests an ack tells its own viewers at once (``AlertEvents``); the viewers of the
other replicas hear it through one PostgreSQL channel per database schema. Each replica keeps one
listening connection; a lost connection is opened again (viewers re-read the database every few
seconds anyway, so a gap delays a progress bar, it never loses an ack). SQLite has one serving
process (see serving.py), so there is nobody else to tell.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lightctl.store.db import Database

log = logging.getLogger(__name__)

# NOTIFY payloads stop at 8,000 bytes; alert ids are ~20 characters.
_PAYLOAD_BYTES = 7000
_RECONNECT_S = 2.0


def channel_for(db: Database) -> str:
    """One channel per database schema, so replicas of another installation never wake ours."""
    digest = hashlib.sha256(f"{db.url}|{db.schema or ''}".encode()).hexdigest()[:16]
    return f"lightctl_alerts_{digest}"


class AlertNotifier:
    """``publish`` alert ids to the other replicas; ``start`` hears theirs (PostgreSQL only)."""

    def __init__(self, db: Database, replica_id: str, on_remote: Callable[[set[str]], None]):
        self._db = db
        self._replica = replica_id
        self._on_remote = on_remote
        self._channel = channel_for(db)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: set[str] = set()
        self._wanted = threading.Condition()
        self.enabled = db.engine.dialect.name == "postgresql"
        self.received_total = 0
        self.sent_total = 0

    def publish(self, alert_ids: Iterable[str]) -> None:
        """Queue ids for the other replicas (any thread, never blocks on the database)."""
        if not self.enabled:
            return
        with self._wanted:
            self._pending.update(alert_ids)
            self._wanted.notify()

    def _publisher(self) -> None:
        while not self._stopping.is_set():
            with self._wanted:
                self._wanted.wait_for(lambda: self._pending or self._stopping.is_set(), 1.0)
                ids, self._pending = self._pending, set()
            if not ids:
                continue
            try:
                self._notify(ids)
            except Exception as exc:  # noqa: BLE001 - any driver error: viewers re-read anyway
                log.warning("alert notifications not sent: %s", exc)

    def _notify(self, alert_ids: set[str]) -> None:
        batch: list[str] = []
        size = 0
        self.sent_total += 1
        with self._db.engine.connect() as conn:
            for alert_id in sorted(alert_ids):
                if batch and size + len(alert_id) + 1 > _PAYLOAD_BYTES:
                    self._send(conn, batch)
                    batch, size = [], 0
                batch.append(alert_id)
                size += len(alert_id) + 1
            if batch:
                self._send(conn, batch)
            conn.commit()

    def _send(self, conn: object, batch: list[str]) -> None:
        payload = f"{self._replica} {','.join(batch)}"
        conn.execute(  # type: ignore[attr-defined]
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": self._channel, "payload": payload},
        )

    def start(self) -> None:
        if not self.enabled:
            return
        for name, target in (("pg-listen", self._listen), ("pg-notify", self._publisher)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        with self._wanted:
            self._wanted.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def _listen(self) -> None:
        dsn = _conninfo(self._db.url)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._heard(note.payload)
            except psycopg.Error as exc:
                log.warning("alert notifications: %s; listening again in %.0f s", exc, _RECONNECT_S)
                self._stopping.wait(_RECONNECT_S)

    def _heard(self, payload: str) -> None:
        sender, _, ids = payload.partition(" ")
        if sender == self._replica or not ids:
            return  # our own, already told to our viewers
        self.received_total += 1
        self._on_remote(set(ids.split(",")))


def _conninfo(sqlalchemy_url: str) -> str:
    """libpq's key=value form of a SQLAlchemy PostgreSQL URL (query options such as
    ``options=-c search_path=...`` kept as they are, decoded)."""
    url = make_url(sqlalchemy_url)
    params: dict[str, str] = {
        key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()
    }
    for key, value in (
        ("host", url.host),
        ("port", url.port),
        ("dbname", url.database),
        ("user", url.username),
        ("password", url.password),
    ):
        if value is not None:
            params[key] = str(value)
    return make_conninfo(**params)
