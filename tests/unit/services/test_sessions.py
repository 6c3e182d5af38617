"""Console sessions: short-lived when left alone, never longer than one shift."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lightctl.errors import Unauthorized
from lightctl.services.access.auth import AuthService
from lightctl.store import Database
from tests.support import FakeClock

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'auth.db'}")
    database.create_all()
    yield database
    database.dispose()


def test_an_unused_session_expires_after_the_idle_time(db: Database) -> None:
    clock = FakeClock(START)
    auth = AuthService(db, clock, session_ttl_s=12 * 3600, session_idle_s=30 * 60)
    auth.create_user("anna", "correct horse battery", "dispatcher")
    _, token = auth.login("anna", "correct horse battery")
    clock.now += timedelta(minutes=29)
    assert auth.authenticate(token).subject == "anna"
    clock.now += timedelta(minutes=31)  # 31 min since that last use
    with pytest.raises(Unauthorized, match="30 min without use"):
        auth.authenticate(token)


def test_a_session_in_use_lives_until_the_end_of_the_shift_and_no_longer(db: Database) -> None:
    clock = FakeClock(START)
    auth = AuthService(db, clock, session_ttl_s=12 * 3600, session_idle_s=30 * 60)
    auth.create_user("ben", "correct horse battery", "operator")
    _, token = auth.login("ben", "correct horse battery")
    uses = 0
    while clock.now + timedelta(minutes=20) < START + timedelta(hours=12):
        clock.now += timedelta(minutes=20)  # the console polls; 20 min gaps stay inside 30
        assert auth.authenticate(token).subject == "ben"
        uses += 1
    assert uses == 35  # 11 h 40 min of use
    clock.now = START + timedelta(hours=12, minutes=1)
    with pytest.raises(Unauthorized, match="sign in again"):
        auth.authenticate(token)


def test_machine_tokens_do_not_idle_out(db: Database) -> None:
    clock = FakeClock(START)
    auth = AuthService(db, clock, session_idle_s=30 * 60)
    _, secret = auth.create_token("tourism-app", "city_app")
    clock.now += timedelta(days=3)
    assert auth.authenticate(secret).kind == "token"
