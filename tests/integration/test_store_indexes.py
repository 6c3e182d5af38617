"""Start-up brings a database made before an index was declared up to date, on SQLite and
PostgreSQL, and doing it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, text

from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store.tables import CommandRow


def _indexes(db: Database, table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {str(ix["name"]) for ix in inspect(conn).get_indexes(table)}


def test_an_index_missing_from_an_older_database_is_created_at_start_up(
    database: Database,
) -> None:
    database.create_all()
    with database.session() as session:  # an older database holds deliveries already
        now = datetime.now(UTC)
        row = CommandRow(
            id="c1",
            alert_id="al_1",
            channel="light",
            op="set",
            priority=10,
            seq=1,
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
            envelope="{}",
        )
        alert_store.save_commands(session, "al_1", [(row, ["L1", "L2"])])
    with database.engine.begin() as conn:  # as created before the index was declared
        conn.execute(text("DROP INDEX ix_delivery_lantern_id"))
    assert "ix_delivery_lantern_id" not in _indexes(database, "delivery")

    database.create_all()  # what `lightctl serve` does at start-up
    assert "ix_delivery_lantern_id" in _indexes(database, "delivery")
    with database.session() as session:
        assert alert_store.lanterns_of(session, "c1") == ["L1", "L2"]  # the rows are untouched

    assert database.ensure_indexes() == []  # a second start-up has nothing to do
    database.create_all()
