"""The store's one UTC datetime type: every datetime column uses it, moments come back aware in
UTC whatever zone they were written in, and a naive datetime is refused instead of guessed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime
from sqlalchemy.exc import StatementError
from sqlmodel import SQLModel, select

from lightctl.store import Database
from lightctl.store.tables import AlertRow, CommandRow, DeliveryRow
from lightctl.store.types import NaiveDatetime, UtcDateTime

BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'types.db'}")
    database.create_all()
    yield database
    database.dispose()


def _command(issued_at: datetime) -> CommandRow:
    return CommandRow(
        id="c1",
        alert_id="a1",
        channel="audio",
        op="set",
        priority=1,
        seq=1,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(minutes=10),
        envelope="{}",
    )


def test_every_datetime_column_of_every_table_is_the_utc_type() -> None:
    plain = [
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, DateTime)
        or isinstance(getattr(column.type, "impl", None), DateTime)
        if not isinstance(column.type, UtcDateTime)
    ]
    stamped = [
        column
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, UtcDateTime)
    ]
    assert plain == []
    assert len(stamped) > 40  # every table's stamps, not a handful


def test_a_moment_written_in_another_zone_reads_back_aware_in_utc(db: Database) -> None:
    local = datetime(2025, 7, 1, 14, 30, tzinfo=BERLIN_SUMMER)
    with db.session() as session:
        session.add(_command(local))
    with db.session() as session:
        row = session.exec(select(CommandRow)).one()
    assert row.issued_at == datetime(2025, 7, 1, 12, 30, tzinfo=UTC)
    assert row.issued_at.tzinfo is UTC
    assert row.expires_at - row.issued_at == timedelta(minutes=10)


def test_a_comparison_with_an_aware_moment_selects_by_instant(db: Database) -> None:
    with db.session() as session:
        session.add(_command(datetime(2025, 7, 1, 12, 30, tzinfo=UTC)))
        session.add(DeliveryRow(command_id="c1", lantern_id="L1", next_attempt_at=None))
    just_before = datetime(2025, 7, 1, 14, 29, tzinfo=BERLIN_SUMMER)  # 12:29 UTC
    just_after = datetime(2025, 7, 1, 14, 31, tzinfo=BERLIN_SUMMER)
    with db.session() as session:
        early = session.exec(select(CommandRow).where(CommandRow.issued_at <= just_before)).all()
        late = session.exec(select(CommandRow).where(CommandRow.issued_at <= just_after)).all()
    assert [c.id for c in early] == []
    assert [c.id for c in late] == ["c1"]


def test_a_naive_datetime_is_refused_and_nothing_is_stored(db: Database) -> None:
    with pytest.raises(StatementError) as caught, db.session() as session:
        session.add(_command(datetime(2025, 7, 1, 12, 30)))  # noqa: DTZ001  (the point)
    assert isinstance(caught.value.orig, NaiveDatetime)
    with db.session() as session:
        assert session.exec(select(CommandRow)).all() == []
        assert session.exec(select(AlertRow)).all() == []
