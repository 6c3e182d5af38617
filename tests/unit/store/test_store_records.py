"""The store hands out domain records, not table rows: an alert, its deliveries and a steering
come back frozen, with their JSON documents decoded exactly as written and datetimes aware in UTC; a
revision writes the alert's words and target but never its lifecycle."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from lightctl.domain.records import Alert, Command, Delivery, Steering
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import steering as steering_store

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'records.db'}")
    database.create_all()
    yield database
    database.dispose()


def _alert() -> Alert:
    return Alert(
        id="al-r",
        created_at=T0,
        updated_at=T0,
        status="active",
        priority=1,
        exercise=False,
        signal="warning",
        template=None,
        target={"streets": ["Müllerstraße"], "lanterns": ["L1"]},
        messages={"en": "Leave the area.", "de": "Verlassen Sie das Gebiet."},  # en first
        languages=("en", "de"),
        clips=[{"lang": "en", "sha256": "a" * 64}],
        params={"street": "Müllerstraße"},
        repeat=2,
        volume=80,
        expires_at=T0 + timedelta(minutes=30),
        lantern_count=1,
        severity="severe",
        primary_command_id="cmd-r",
    )


def _command() -> Command:
    return Command(
        id="cmd-r",
        alert_id="al-r",
        channel="audio",
        op="set",
        priority=1,
        seq=1,
        issued_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        envelope="{}",
    )


def test_an_alert_and_its_deliveries_come_back_as_the_records_stored(db: Database) -> None:
    with db.session() as session:
        alert_store.save_alert(session, _alert(), [(_command(), ["L1", "L2"])], now=T0)
    with db.session() as session:
        alert = alert_store.get_alert(session, "al-r")
        deliveries = alert_store.deliveries(session, "cmd-r")
        raw = session.execute(text("SELECT messages_json FROM alert")).scalar_one()
    assert alert == _alert()
    assert list(alert.messages) == ["en", "de"]  # the order it was written in
    assert "Müllerstraße" in alert.target["streets"]
    assert "Verlassen Sie das Gebiet." in raw  # stored as JSON text, UTF-8 kept
    assert all(isinstance(d, Delivery) for d in deliveries)
    assert [(d.lantern_id, d.state, d.next_attempt_at, d.played) for d in deliveries] == [
        ("L1", "planned", T0, None),
        ("L2", "planned", T0, None),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        alert.status = "cancelled"  # type: ignore[misc]


def test_a_revision_writes_words_and_target_but_not_the_lifecycle(db: Database) -> None:
    with db.session() as session:
        alert_store.save_alert(session, _alert(), [(_command(), ["L1"])], now=T0)
    later = T0 + timedelta(minutes=1)
    with db.session() as session:
        moved = alert_store.transition(
            session, "al-r", from_status=("active",), to_status="cancelled", now=later, ended=True
        )
        # A stale record (read before the cancel) carries status "active" and revision 0.
        stale = dataclasses.replace(
            _alert(), messages={"de": "Entwarnung."}, languages=("de",), updated_at=later
        )
        assert alert_store.revise_alert(session, stale)
    with db.session() as session:
        alert = alert_store.get_alert(session, "al-r")
        gone = alert_store.revise_alert(session, dataclasses.replace(stale, id="al-none"))
    assert (moved, gone) == (True, False)
    assert alert is not None
    assert (alert.messages, alert.languages) == ({"de": "Entwarnung."}, ("de",))
    assert (alert.status, alert.ended_at, alert.revision) == ("cancelled", later, 1)


def test_a_steering_comes_back_as_stored_and_is_released_once(db: Database) -> None:
    steering = Steering(
        id="st-r",
        created_at=T0,
        updated_at=T0,
        status="active",
        priority=10,
        label="Marktplatz → Bahnhof",
        target={"streets": ["Müllerstraße"]},
        guidance={"direction": "forward", "destination": None, "chase_speed_mps": 1.2},
        settings={"path": {"level": 80, "mode": "chase"}},
        ends_at=T0 + timedelta(hours=2),
        lantern_count=3,
        unsupported={"projection": ["L2"]},
        owner="token:city",
    )
    later = T0 + timedelta(minutes=5)
    with db.session() as session:
        steering_store.save_steering(session, steering)
    with db.session() as session:
        assert steering_store.get_steering(session, "st-r") == steering
        first = steering_store.mark_released(session, "st-r", later)
        again = steering_store.mark_released(session, "st-r", later + timedelta(minutes=1))
    with db.session() as session:
        released = steering_store.get_steering(session, "st-r")
    assert (first, again) == (True, False)
    assert released == dataclasses.replace(
        steering, status="released", released_at=later, updated_at=later
    )
