"""The store's own column types: every table's datetime column is ``UtcDateTime``.

So no caller above ``store/`` repairs a naive datetime it read back. Ours, not SQLModel's:
SQLModel before 0.0.45 maps ``datetime`` to a naive ``DateTime`` (SQLite and a ``timestamp``
column then hand back naive values), and pyproject allows those versions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import types
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.operators import OperatorType


class NaiveDatetime(ValueError):
    """A datetime without an offset reached a UTC column: its meaning is a guess, so refuse it."""


class UtcDateTime(types.TypeDecorator[datetime]):
    """A moment: stored as UTC (``timestamp with time zone`` on PostgreSQL, ISO text on SQLite),
    returned aware in UTC; a naive value is refused, never guessed."""

    impl = types.DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "UtcDateTime()"

    def coerce_compared_value(self, op: OperatorType | None, value: Any) -> types.TypeEngine[Any]:
        # ``column - timedelta`` compares with an interval, not with a moment.
        if isinstance(value, timedelta):
            return types.Interval()
        return self

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise NaiveDatetime(
                f"datetime {value.isoformat()} has no offset; pass an aware UTC one"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:  # SQLite keeps the UTC wall time without an offset
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
