"""Persistence: SQLModel tables on SQLite (default) or PostgreSQL; the only package issuing SQL."""

from lightctl.store.db import Database

__all__ = ["Database"]
