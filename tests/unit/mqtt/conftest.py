"""Outbox tests share one SQLite database with three lanterns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lightctl.store import Database
from lightctl.store import lanterns as lantern_store


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
    database.create_all()
    with database.session() as session:
        lantern_store.upsert_lanterns(
            session, [{"id": f"L{i}", "lon": 8.5, "lat": 47.3} for i in range(3)]
        )
    yield database
    database.dispose()
