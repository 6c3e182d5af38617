"""Upgrades keep the data: the database of release 78b0477 (made by that release's own code,
see scripts/release_fixture.py) upgrades on SQLite and PostgreSQL with every alert, lantern,
token, audit record and schedule still there; an older, newer or half-migrated schema is refused
with the command that fixes it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, func, inspect, select, text
from sqlmodel import SQLModel

from lightctl.cli import app
from lightctl.errors import MigrationFailed, SchemaMismatch
from lightctl.runtime import Runtime
from lightctl.services.audit import AuditTrail
from lightctl.store import Database
from lightctl.store.schema import Migrator, SchemaState
from tests.integration.conftest import LiveService, make_settings
from tests.support import FIXTURES, MosquittoProcess, cli_runner, flat

RELEASE = FIXTURES / "releases" / "78b0477"
ROWS: dict[str, list[dict[str, Any]]] = json.loads((RELEASE / "rows.json").read_text())
SECRETS: dict[str, str] = json.loads((RELEASE / "secrets.json").read_text())


def _value(raw: Any) -> Any:
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, text_),) = raw.items()
        if kind == "datetime":
            moment = datetime.fromisoformat(text_)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if kind == "date":
            return date.fromisoformat(text_)
        if kind == "bytes":
            return base64.b64decode(text_)
    return raw


def load_release(db: Database) -> None:
    """The release's schema, as its code created it on this dialect, and its rows."""
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    ddl = (RELEASE / f"schema_{dialect}.sql").read_text()
    with db.engine.begin() as conn:
        for statement in ddl.split(";\n"):
            if statement.strip():
                conn.execute(text(statement))
        meta = MetaData()
        meta.reflect(conn)
        for table in meta.sorted_tables:
            rows = [{k: _value(v) for k, v in row.items()} for row in ROWS.get(table.name, [])]
            if rows:
                conn.execute(table.insert(), rows)


def _counts(db: Database) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(db.engine)
    with db.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(meta.tables[name])).scalar_one()
            for name in ROWS
        }


def _schema_differences(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))


def _url(db: Database) -> str:
    """The database's URL for the CLI, with the test's own PostgreSQL schema in it."""
    if db.schema is None:
        return db.url
    return f"{db.url}?options=-csearch_path%3D{db.schema}"


def _cli(*args: str) -> Any:
    return cli_runner().invoke(app, list(args))


def test_the_migrations_give_exactly_the_schema_of_the_models(database: Database) -> None:
    applied = Migrator(database).upgrade()
    assert applied[0] == "0001_baseline"
    assert _schema_differences(database) == []
    assert Migrator(database).status().state is SchemaState.CURRENT


def test_a_fresh_database_is_created_current_and_matches_the_migrations(
    database: Database,
) -> None:
    database.create_all()
    assert Migrator(database).status().state is SchemaState.CURRENT
    assert _schema_differences(database) == []


def test_the_database_of_release_78b0477_upgrades_keeping_everything(
    database: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    load_release(database)
    before = _counts(database)
    assert (before["alert"], before["lantern"]) == (2, 148)
    assert before["audit_record"] > 0
    assert Migrator(database).status().state is SchemaState.LEGACY

    result = _cli("db", "upgrade", "--database-url", _url(database), "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "0001_baseline" in flat(result.output)

    assert Migrator(database).status().state is SchemaState.CURRENT
    assert _schema_differences(database) == []  # upgraded = what a fresh install has
    after = _counts(database)
    assert {k: after[k] for k in before} == before  # no row lost

    # The service runs on the upgraded database, and what users had is there and works.
    live = LiveService(make_settings(tmp_path, mosquitto.url, topic_root), database)
    live.http.headers["Authorization"] = f"Bearer {SECRETS['token']}"  # the release's token
    live.start()
    try:
        alerts = live.http.get("/alerts").json()
        assert sorted(a["id"] for a in alerts) == sorted(r["id"] for r in ROWS["alert"])
        assert {a["status"] for a in alerts} >= {"cancelled"}
        assert len(live.http.get("/lanterns").json()) == 148
        assert [s["name"] for s in live.http.get("/schedules").json()] == ["altstadt"]
        assert {g["name"] for g in live.http.get("/groups").json()} == {"post", "tal"}
        login = live.http.post(
            "/auth/login", json={"username": SECRETS["user"], "password": SECRETS["password"]}
        )
        assert login.status_code == 200, login.text
    finally:
        live.stop()
    report = AuditTrail(database, lambda: datetime.now(UTC)).verify()
    assert report.records >= len(ROWS["audit_record"])
    assert report.findings == []


def test_an_older_database_missing_an_index_gets_it_on_upgrade(database: Database) -> None:
    load_release(database)
    with database.engine.begin() as conn:  # as a release before issue 5 created it
        conn.execute(text("DROP INDEX ix_delivery_lantern_id"))
    Migrator(database).upgrade()
    with database.engine.connect() as conn:
        names = {ix["name"] for ix in inspect(conn).get_indexes("delivery")}
    assert "ix_delivery_lantern_id" in names
    assert _counts(database)["delivery"] == len(ROWS["delivery"])


def test_the_service_refuses_an_older_database_and_names_the_command(
    database: Database, tmp_path: Path
) -> None:
    load_release(database)
    result = _cli("serve", "--database-url", _url(database), "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "lightctl db upgrade" in flat(result.output)
    runtime = Runtime(make_settings(tmp_path, "mqtt://127.0.0.1:1", "unused"), database)
    with pytest.raises(SchemaMismatch) as refused:
        runtime.db.create_all()
    assert refused.value.fix == "run `lightctl db upgrade`"
    assert _counts(database)["alert"] == 2  # refusing touched nothing


def test_a_database_newer_than_the_code_is_refused_and_left_alone(
    database: Database, tmp_path: Path
) -> None:
    database.create_all()
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    for args in (("db", "upgrade"), ("db", "status"), ("serve",)):
        result = _cli(*args, "--database-url", _url(database), "--data-dir", str(tmp_path))
        assert result.exit_code == 2, (args, result.output)
        assert "ffff_from_the_future" in flat(result.output), args
    with database.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "ffff_from_the_future"


FAILING = '''
"""A migration that fails halfway: its first steps must be rolled back with it."""
import sqlalchemy as sa
from alembic import op

revision = "9999_fails"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("lantern") as batch:
        batch.add_column(sa.Column("half_column", sa.String(), nullable=True))
    op.execute("UPDATE lantern SET half_column = 'x'")
    op.execute("SELECT * FROM a_table_that_does_not_exist")


def downgrade() -> None:
    pass
'''


def test_a_migration_failing_halfway_rolls_back_and_leaves_the_old_schema_usable(
    database: Database, tmp_path: Path
) -> None:
    load_release(database)
    Migrator(database).upgrade()
    head = Migrator(database).head()
    extra = tmp_path / "versions"
    extra.mkdir()
    (extra / "9999_fails.py").write_text(FAILING.format(head=head))
    migrator = Migrator(database, locations=[extra])

    with pytest.raises(MigrationFailed) as failed:
        migrator.upgrade()
    assert failed.value.revision == "9999_fails"
    assert failed.value.current == head
    assert "a_table_that_does_not_exist" in failed.value.reason

    with database.engine.connect() as conn:
        inspector = inspect(conn)
        assert "half_done" not in inspector.get_table_names()
        assert "half_column" not in {c["name"] for c in inspector.get_columns("lantern")}
    assert Migrator(database).status().state is SchemaState.CURRENT  # still the old head
    assert _counts(database)["lantern"] == 148
    with database.session() as session:  # and the old schema is usable
        assert session.execute(text("SELECT count(*) FROM alert")).scalar_one() == 2
