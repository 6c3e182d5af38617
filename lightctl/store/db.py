"""Engine and sessions for SQLite or PostgreSQL, chosen by the database URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, create_engine

from lightctl.store import (  # noqa: F401  (registers tables)
    approvals,
    audit,
    auth,
    cap,
    coordination,
    lantern_keys,
    previews,
    ratelimits,
    tables,
)

log = logging.getLogger(__name__)


def _normalise_url(url: str) -> str:
    # Users write postgresql://; SQLAlchemy would pick psycopg2, which we do not ship.
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """Owns the engine; ``session()`` yields a session that commits on success."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = _normalise_url(url)
        self.schema = schema
        self.is_sqlite = self.url.startswith("sqlite")
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            connect_args["check_same_thread"] = False
            path = self.url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        elif schema:
            connect_args["options"] = f"-c search_path={schema}"
        self.engine: Engine = create_engine(
            self.url,
            connect_args=connect_args,
            pool_pre_ping=not self.is_sqlite,
            # Error messages must not dump thousands of bound rows (or texts) into the log.
            hide_parameters=True,
        )
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def create_all(self, upgrade: bool = False) -> None:
        """Make the schema usable: create it on an empty database, accept a current one, and
        refuse an older or newer one with ``SchemaMismatch`` naming the fix (``upgrade``:
        apply pending migrations instead, for a database the caller owns, like the demo's)."""
        from lightctl.store.schema import prepare  # schema builds on this module

        prepare(self, upgrade=upgrade)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, OSError) as exc:  # any driver error: "not reachable" for /healthz
            log.warning("database ping failed: %s", exc)
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the API read while the ack consumer writes; 10 s covers a large fan-out commit.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


T = TypeVar("T")
_RETRYABLE_SQLSTATES = {"40P01", "40001"}  # PostgreSQL deadlock, serialization failure


def is_retryable(exc: BaseException) -> bool:
    """A transaction the database aborted for concurrency (deadlock, busy SQLite), safe to redo."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc)


def retrying(work: Callable[[], T], attempts: int = 4) -> T:
    """Run ``work`` (one whole transaction) again when the database aborted it for concurrency.

    The ack consumer and a dispatcher's cancel update the same delivery rows in different orders;
    PostgreSQL then aborts one of them with a deadlock. Redoing it is correct because each
    attempt is a fresh transaction.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            log.warning("transaction aborted (%s); retry %d", exc.__class__.__name__, attempt)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")
