"""A SQLite database with a few lanterns and one audio command sent to all (consumer tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lightctl.domain.records import Command
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def database_with_command(tmp_path: Path, lanterns: int, envelope: str = "{}") -> Database:
    """Lanterns L0.. and command ``cmd-1`` of alert ``al-1``, issued T0, expiring an hour later."""
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    database.create_all()
    ids = [f"L{i}" for i in range(lanterns)]
    with database.session() as session:
        lantern_store.upsert_lanterns(session, [{"id": i, "lon": 8.5, "lat": 47.3} for i in ids])
        command = Command(
            id="cmd-1",
            alert_id="al-1",
            channel="audio",
            op="set",
            priority=1,
            seq=1,
            issued_at=T0,
            expires_at=T0 + timedelta(hours=1),
            envelope=envelope,
        )
        alert_store.save_commands(session, "al-1", [(command, ids)], now=T0)
    return database
