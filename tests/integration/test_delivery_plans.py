"""Large alerts answer before their delivery rows exist (issue 14): the outbox writes them after
the answer, and nothing is lost or sent twice when the service dies before or while it writes,
when replicas write at once, or when the dispatcher cancels first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from firmware_sim import Fleet
from lightctl.protocol import Topics
from lightctl.services.delivery.outbox import BATCH, Outbox
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import plans as plan_store
from lightctl.store.tables import DeliveryPlanRow, DeliveryRow
from tests.integration.conftest import LiveService, _postgres_database, make_settings
from tests.support import FakeClock, MosquittoProcess, RecordingLink, red_light

pytestmark = [pytest.mark.broker]

GERMAN = "Brand in der Bahnhofstrasse. Schliessen Sie Fenster und Türen."
# Every alert of these tests goes the deferred way, 40 rows per outbox transaction: the fixture's
# 148 lanterns x 3 channels are 12 chunks.
DEFERRED = {"delivery_rows_inline": 0, "delivery_rows_chunk": 40}


def _rows(db: Database, alert_id: str) -> int:
    with db.session() as session:
        query = select(func.count()).where(DeliveryRow.alert_id == alert_id)
        return int(session.exec(query).one())


def _plans(db: Database, alert_id: str) -> list[tuple[int, int]]:
    with db.session() as session:
        query = select(DeliveryPlanRow.written, DeliveryPlanRow.total).where(
            DeliveryPlanRow.alert_id == alert_id
        )
        return [(int(w), int(t)) for w, t in session.exec(query)]


def _stalled_service(db: Database, settings: Any, monkeypatch: pytest.MonkeyPatch) -> LiveService:
    """A service whose outbox never writes a delivery row: it stands for one that answered the
    POST and died before writing (the rows are the outbox's job after the answer)."""
    monkeypatch.setattr(plan_store, "write_planned", lambda *_args: (0, set()))
    live = LiveService(settings, db)
    live.start()
    return live


def test_a_restart_between_the_answer_and_the_rows_still_ends_every_lantern_done(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    fleet: Fleet,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same settings (port included) both times: the clip URLs in the commands stay valid.
    settings = make_settings(tmp_path, mosquitto.url, topic_root, **DEFERRED)
    first = _stalled_service(inventory, settings, monkeypatch)
    try:
        response = first.http.post(
            "/alerts",
            json={
                "target": {"circle": {"lon": 8.54, "lat": 47.372, "radius_m": 3000}},
                "messages": {"de": GERMAN},
            },
        )
        assert response.status_code == 201, response.text
        alert = response.json()
        total = alert["lantern_count"]
        assert total == 148
        # Answered with no delivery row written: every lantern counts as planned.
        assert _rows(inventory, alert["id"]) == 0
        body = first.http.get(f"/alerts/{alert['id']}", params={"lanterns": "true"}).json()
        assert body["counts"] == {"planned": total}
        assert all(c["counts"] == {"planned": total} for c in body["commands"])
        assert len(body["lanterns"]) == total
        assert {row["state"] for row in body["lanterns"]} == {"planned"}
    finally:
        first.stop()
        monkeypatch.undo()

    # The next process got as far as one chunk before it died too.
    with inventory.session() as session:
        written, _alerts = plan_store.write_planned(session, FakeClock().now, 40)
    assert written == 40
    assert _rows(inventory, alert["id"]) == 40

    second = LiveService(settings, inventory)
    second.start()
    try:
        done = second.wait_for(alert["id"], lambda b: b["status"] != "sending", 90)
    finally:
        second.stop()
    assert done["status"] == "completed"
    assert done["counts"] == {"done": total}
    for command in done["commands"]:
        expected = "done" if command["channel"] == "audio" else "applied"
        assert command["counts"] == {expected: total}, command
    assert _plans(inventory, alert["id"]) == []  # every row written, the plans are gone
    assert _rows(inventory, alert["id"]) == 3 * total
    audio = next(c["id"] for c in done["commands"] if c["channel"] == "audio")
    plays = {
        lid: sum(1 for cmd, _clips in fleet.record(lid).played if cmd == audio)
        for lid in fleet.lantern_ids
    }
    assert set(plays.values()) == {1}, plays


def test_a_cancel_before_the_rows_are_written_cancels_every_lantern(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = _stalled_service(
        inventory, make_settings(tmp_path, mosquitto.url, topic_root, **DEFERRED), monkeypatch
    )
    try:
        alert = live.http.post(
            "/alerts", json={"target": {"streets": ["Bahnhofstrasse"]}, "messages": {"de": GERMAN}}
        ).json()
        assert _rows(inventory, alert["id"]) == 0
        cancelled = live.http.post(f"/alerts/{alert['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
    finally:
        live.stop()
    assert body["status"] == "cancelled"
    assert body["counts"] == {"cancelled": alert["lantern_count"]}
    assert _plans(inventory, alert["id"]) == []


@pytest.fixture
def postgres() -> Iterator[Database]:
    yield from _postgres_database()


@pytest.mark.postgres
def test_replicas_writing_one_plan_write_and_publish_each_lantern_once(postgres: Database) -> None:
    postgres.create_all()
    lanterns = [f"L{i:04d}" for i in range(3 * BATCH)]
    clock = FakeClock()
    with postgres.session() as session:
        plan_store.save_plans(
            session, "al-plan", [(red_light("cmd-plan", "al-plan", clock.now), lanterns)], clock.now
        )
    clock.now += timedelta(seconds=1)
    links = [RecordingLink() for _ in range(3)]
    outboxes = [
        Outbox(postgres, link, Topics("t"), 10.0, clock, rows_chunk=250)  # type: ignore[arg-type]
        for link in links
    ]
    go = threading.Barrier(len(outboxes))
    errors: list[Exception] = []

    def pump(outbox: Outbox) -> None:
        go.wait(timeout=10)
        try:
            while outbox.pump() > 0:
                pass
        except Exception as exc:  # noqa: BLE001 - re-raised by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=pump, args=(o,)) for o in outboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    published = [topic.split("/")[-2] for link in links for topic, _p, _e in link.sent]
    assert sorted(published) == lanterns  # each lantern once, none left out
    with postgres.session() as session:
        rows = alert_store.deliveries(session, "cmd-plan")
        assert plan_store.pending(session) == 0
    assert sorted(r.lantern_id for r in rows) == lanterns
    assert {r.state for r in rows} == {"published"}
