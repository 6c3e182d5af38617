"""The database's schema version: what it is, what this code needs, and the upgrade between.

Revisions live in ``lightctl/store/migrations/versions`` (Alembic). A database made by a release
before migrations (78b0477 and earlier) has our tables but no ``alembic_version``: the baseline
revision recognises it and only adds what such a database may lack, so ``lightctl db upgrade``
takes it from there like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel, create_engine

from lightctl.errors import MigrationFailed, SchemaMismatch
from lightctl.store.db import Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_COMMAND = "run `lightctl db upgrade`"
# Tables every lightctl database has had since the first release: their presence without an
# ``alembic_version`` marks a database made before migrations.
_RELEASE_TABLES = frozenset({"lantern", "alert", "command", "delivery"})
# Two replicas starting on an empty or old PostgreSQL database at once: one upgrades, the other
# waits on this lock and then finds the schema current (any constant both agree on).
_PG_LOCK_KEY = 0x6C696768


class SchemaState(StrEnum):
    EMPTY = "empty"  # no tables at all: a new installation
    LEGACY = "legacy"  # tables of a release before migrations, no version recorded
    BEHIND = "behind"  # an older revision of ours: needs `lightctl db upgrade`
    CURRENT = "current"
    AHEAD = "ahead"  # a revision this code does not know: a newer lightctl wrote it


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    state: SchemaState
    current: str | None
    head: str
    pending: tuple[str, ...] = ()  # revisions an upgrade would apply, oldest first

    def describe(self) -> str:
        match self.state:
            case SchemaState.EMPTY:
                return f"empty database (this lightctl needs revision {self.head})"
            case SchemaState.LEGACY:
                return (
                    "database made by a lightctl release before migrations "
                    f"(this lightctl needs revision {self.head})"
                )
            case SchemaState.BEHIND:
                return (
                    f"database schema is at revision {self.current}, this lightctl needs "
                    f"{self.head} ({len(self.pending)} migration(s) to apply)"
                )
            case SchemaState.CURRENT:
                return f"database schema is current (revision {self.head})"
            case SchemaState.AHEAD:
                return (
                    f"database schema is at revision {self.current}, which this lightctl does "
                    f"not know (it knows up to {self.head}): a newer lightctl upgraded it"
                )


class Migrator:
    """Reads and upgrades one database's schema; ``locations`` adds revision directories."""

    def __init__(self, db: Database, locations: Sequence[Path] = ()) -> None:
        self._db = db
        self._locations = [MIGRATIONS / "versions", *locations]

    def _config(self) -> Config:
        cfg = Config()
        # One location per line: an install path may hold spaces (and "%", which the config
        # parser would read as interpolation), a newline it will not.
        cfg.set_main_option("script_location", _option(str(MIGRATIONS)))
        cfg.set_main_option(
            "version_locations", "\n".join(_option(str(p)) for p in self._locations)
        )
        cfg.set_main_option("path_separator", "newline")
        cfg.set_main_option("file_template", "%%(rev)s")  # versions/0002_lantern_faults.py
        return cfg

    def _script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self._config())

    def head(self) -> str:
        heads = self._script().get_heads()
        if len(heads) != 1:  # two revisions with the same parent: merge them before release
            raise RuntimeError(f"the migrations have {len(heads)} heads: {', '.join(heads)}")
        return heads[0]

    def status(self) -> SchemaStatus:
        script = self._script()
        head = self.head()
        with self._db.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            current = MigrationContext.configure(conn).get_current_revision()
        if current is None:
            if not names - {"alembic_version"}:
                return SchemaStatus(SchemaState.EMPTY, None, head, self._pending(script, None))
            if names & _RELEASE_TABLES:
                return SchemaStatus(SchemaState.LEGACY, None, head, self._pending(script, None))
            return SchemaStatus(SchemaState.EMPTY, None, head, self._pending(script, None))
        if current == head:
            return SchemaStatus(SchemaState.CURRENT, current, head)
        try:
            script.get_revision(current)
        except CommandError:  # an id this code does not know: written by a newer release
            return SchemaStatus(SchemaState.AHEAD, current, head)
        return SchemaStatus(SchemaState.BEHIND, current, head, self._pending(script, current))

    @staticmethod
    def _pending(script: ScriptDirectory, current: str | None) -> tuple[str, ...]:
        revisions = script.iterate_revisions("heads", current or "base")
        return tuple(reversed([r.revision for r in revisions]))

    def require_current(self) -> SchemaStatus:
        """Refuse, naming the fix, unless the schema is exactly what this code needs."""
        status = self.status()
        if status.state is SchemaState.CURRENT:
            return status
        if status.state is SchemaState.AHEAD:
            raise SchemaMismatch(
                status.describe(),
                status.current,
                status.head,
                "install the lightctl version that upgraded it, or restore a backup made "
                "before that upgrade",
            )
        raise SchemaMismatch(status.describe(), status.current, status.head, UPGRADE_COMMAND)

    def upgrade(
        self, target: str = "head", on_step: Callable[[str], None] | None = None
    ) -> list[str]:
        """Apply every pending revision in one transaction; returns the revisions applied.

        A failure rolls every one of them back (``MigrationFailed`` names the revision); a
        database newer than this code is refused before anything runs."""
        status = self.status()
        if status.state is SchemaState.AHEAD:
            self.require_current()
        applied: list[str] = []

        def step(revision: Any) -> None:
            applied.append(str(revision))
            if on_step is not None:
                on_step(str(revision))

        cfg = self._config()
        cfg.attributes["on_step"] = step
        try:
            with self._transaction() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, target)
        except (SQLAlchemyError, RuntimeError, ValueError, KeyError) as exc:
            failed = self._first_unapplied(status, applied)
            raise MigrationFailed(failed, _reason(exc), status.current) from exc
        if applied:
            log.info("database upgraded: %s", ", ".join(applied))
        return applied

    def _first_unapplied(self, status: SchemaStatus, applied: list[str]) -> str:
        for revision in status.pending:
            if revision not in applied:
                return revision
        return status.head

    def stamp_head(self, conn: Connection) -> None:
        cfg = self._config()
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "head")

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        engine = _transactional_engine(self._db)
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn
        finally:
            if engine is not self._db.engine:
                engine.dispose()

    def new_revision(self, message: str, rev_id: str) -> Path:
        """Write a revision with what the models have that the migrations do not (Alembic's
        autogenerate against this database, which must be at the head); returns its file."""
        self.require_current()
        cfg = self._config()
        with self._transaction() as conn:
            cfg.attributes["connection"] = conn
            script = command.revision(cfg, message, autogenerate=True, rev_id=rev_id)
        scripts = script if isinstance(script, list) else [script]
        return Path(scripts[0].path) if scripts and scripts[0] is not None else MIGRATIONS

    def create_fresh(self) -> None:
        """An empty database gets the current schema at once (tables from the models, stamped
        with the head revision: what the migrations give, checked by the schema test)."""
        with self._transaction() as conn:
            SQLModel.metadata.create_all(conn)
            self.stamp_head(conn)


def _transactional_engine(db: Database) -> Engine:
    """PostgreSQL: the database's own engine. SQLite: one whose connections leave transaction
    control to SQLAlchemy, because pysqlite otherwise commits DDL at once and a failed
    migration could not be rolled back."""
    if not db.is_sqlite:
        return db.engine
    engine = create_engine(db.url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=OFF")  # batch mode copies tables with references
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text_ = str(orig if orig is not None else exc).strip().splitlines()
    return text_[0] if text_ else exc.__class__.__name__


def prepare(db: Database, upgrade: bool = False) -> SchemaStatus:
    """Make the database usable by this code, or refuse naming the fix.

    Empty: create the current schema. Current: nothing to do. Older (or a release before
    migrations): upgrade when ``upgrade`` is set (``lightctl demo``, which owns its database),
    otherwise refuse with ``lightctl db upgrade``. Newer: always refuse."""
    migrator = Migrator(db)
    status = migrator.status()
    if status.state is SchemaState.EMPTY:
        migrator.create_fresh()
        return migrator.status()
    if status.state in (SchemaState.LEGACY, SchemaState.BEHIND) and upgrade:
        migrator.upgrade()
        return migrator.status()
    return migrator.require_current()


def _option(value: str) -> str:
    """A value as Alembic's config parser reads it back unchanged."""
    return value.replace("%", "%%")
