"""Replicas' outboxes on one database share the due commands: each delivery is published once,
whichever replica's pump gets to it, even when the pumps run at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from lightctl.protocol import Topics
from lightctl.services.delivery.outbox import BATCH, Outbox
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store
from tests.integration.conftest import _postgres_database
from tests.support import FakeClock, RecordingLink, red_light

REPLICAS = 3
LANTERNS = [f"L{i:04d}" for i in range(REPLICAS * BATCH)]


class HeldLink(RecordingLink):
    """A link whose first publish waits for the other replicas' pumps to reach theirs."""

    def __init__(self, started: threading.Barrier) -> None:
        super().__init__()
        self._started = started
        self._first = True

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        expiry_s: int | None = None,
        retain: bool = False,
    ) -> None:
        if self._first:  # every replica has read its due rows before anyone publishes
            self._first = False
            self._started.wait(timeout=10)
        super().publish(topic, payload, qos, expiry_s, retain)


@pytest.fixture
def database() -> Iterator[Database]:
    """PostgreSQL only: replicas need it (SQLite is served by one process, see serving.py)."""
    yield from _postgres_database()


@pytest.mark.postgres
def test_each_due_delivery_is_published_by_one_replica(database: Database) -> None:
    database.create_all()
    with database.session() as session:
        lantern_store.upsert_lanterns(
            session, [{"id": lid, "lon": 8.5, "lat": 47.3} for lid in LANTERNS]
        )
    clock = FakeClock()
    with database.session() as session:
        alert_store.save_commands(
            session,
            "al-claims",
            [(red_light("cmd-claims", "al-claims", clock.now), LANTERNS)],
            now=clock.now,
        )

    # Every replica's first pump holds its first publish until all of them have read their due
    # rows: without claims they all read the same first batch; with claims, three batches.
    started = threading.Barrier(REPLICAS)
    links = [HeldLink(started) for _ in range(REPLICAS)]
    outboxes = [
        Outbox(database, link, Topics("t"), 10.0, clock)  # type: ignore[arg-type]
        for link in links
    ]
    go = threading.Barrier(REPLICAS)
    errors: list[Exception] = []

    def pump(outbox: Outbox) -> None:
        go.wait(timeout=10)
        try:
            while outbox.pump() > 0:
                pass
        except Exception as exc:  # noqa: BLE001 - re-raised by the assert below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=pump, args=(o,)) for o in outboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    published = [topic for link in links for topic, _payload, _expiry in link.sent]
    per_lantern = {topic.split("/")[-2] for topic in published}
    assert per_lantern == set(LANTERNS)  # nobody was left out
    assert len(published) == len(LANTERNS), (
        f"{len(published) - len(LANTERNS)} duplicate publishes over {REPLICAS} replicas "
        f"(per replica: {[len(link.sent) for link in links]})"
    )
    with database.session() as session:
        rows = alert_store.deliveries(session, "cmd-claims")
    assert {row.state for row in rows} == {"published"}
    assert {row.attempts for row in rows} == {1}
