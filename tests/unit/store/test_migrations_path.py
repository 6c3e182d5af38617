"""The migrations are found wherever lightctl is installed: a checkout or a virtualenv under a
path with spaces (or a "%") upgrades a database exactly as one under /opt does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lightctl.store import Database, schema


def test_migrations_under_a_path_with_spaces_and_a_percent_sign_upgrade_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = schema.Migrator(Database(f"sqlite:///{tmp_path / 'ref.db'}")).head()
    odd = tmp_path / "Program Files" / "lightctl 100% city" / "migrations"
    shutil.copytree(schema.MIGRATIONS, odd, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(schema, "MIGRATIONS", odd)
    db = Database(f"sqlite:///{tmp_path / 'l.db'}")
    migrator = schema.Migrator(db)
    assert migrator.head() == expected
    migrator.upgrade()
    assert migrator.status().state is schema.SchemaState.CURRENT
    db.dispose()
