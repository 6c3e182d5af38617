"""The store's own column types: ``UtcDateTime`` for every datetime column, ``JsonText`` for the
JSON documents of the tables the store maps onto domain records.

So no caller above ``store/`` repairs a naive datetime or parses JSON it read back. Ours, not
SQLModel's: SQLModel before 0.0.45 maps ``datetime`` to a naive ``DateTime`` (SQLite and a
``timestamp`` column then hand back naive values), and pyproject allows those versions.
"""

from __future__ import annotations

import json
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


def json_text(value: Any) -> str:
    """The one spelling of a stored JSON document: UTF-8 kept (street names), default spacing."""
    return json.dumps(value, ensure_ascii=False)


class JsonText(types.TypeDecorator[Any]):
    """A JSON document (object, list, string, number) kept as text; ``None`` stays SQL NULL.

    Text, not the databases' JSON types: these columns have always been text (no migration),
    and PostgreSQL's ``jsonb`` would reorder an object's keys, which a record must keep."""

    impl = types.String
    cache_ok = True

    def __repr__(self) -> str:
        return "JsonText()"

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
