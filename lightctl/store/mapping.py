"""Rows to records at the store's boundary, where a record's fields are its table's columns."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

R = TypeVar("R")


def record_of(record: type[R], row: Any) -> R:
    """The frozen record of a row whose columns carry the record's field names (nothing to
    decode): one mapping instead of a field-by-field copy per table."""
    return record(**{f.name: getattr(row, f.name) for f in fields(record)})  # type: ignore[arg-type]


def row_of(table: type[R], record: Any) -> R:
    """The row for a record with the same field names (the other way)."""
    return table(**{f.name: getattr(record, f.name) for f in fields(record)})
