"""Token buckets kept in PostgreSQL, so every replica spends from the same bucket: one guarded
upsert per request takes a token or finds none (``api/ratelimit.py`` ``BucketStore``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, text
from sqlmodel import Field, SQLModel, col

if TYPE_CHECKING:  # db.py imports this module to register its table
    from lightctl.store.db import Database

# Keys are what the limiter names (a token id, ``ip:<address>``); longer ones are cut, as in
# auth_failure, so a hostile header cannot grow the table's index entries.
_KEY_CHARS = 300


class RateBucketRow(SQLModel, table=True):
    """Tokens left in one bucket at ``at`` (wall-clock seconds since the epoch)."""

    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True, max_length=_KEY_CHARS)
    tokens: float = 0.0
    at: float = Field(default=0.0, index=True)


# The refill and the spend in one statement: the row is locked by the upsert, so two replicas
# taking from one bucket at the same moment are serialised and neither spends a token twice.
_TAKE = text(
    """
    INSERT INTO rate_bucket (key, tokens, at) VALUES (:key, :capacity - :cost, :now)
    ON CONFLICT (key) DO UPDATE SET
        tokens = LEAST(:capacity, rate_bucket.tokens + GREATEST(:now - rate_bucket.at, 0) * :per_s)
            - :cost,
        at = GREATEST(:now, rate_bucket.at)
    WHERE LEAST(:capacity, rate_bucket.tokens + GREATEST(:now - rate_bucket.at, 0) * :per_s)
        >= :cost
    RETURNING tokens
    """
)


class DatabaseBuckets:
    """Buckets shared by every replica on one PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def take(self, key: str, capacity: float, per_s: float, cost: float, now: float) -> float:
        """Spend ``cost`` tokens; returns the level left, or the (negative) shortfall when the
        bucket holds less than ``cost`` (nothing is spent then)."""
        params = {"key": key[:_KEY_CHARS], "capacity": capacity, "per_s": per_s}
        with self._db.session() as session:
            left = session.execute(_TAKE, {**params, "cost": cost, "now": now}).scalar()
            if left is not None:
                return float(left)
            row = session.get(RateBucketRow, key[:_KEY_CHARS])
        level = capacity if row is None else min(capacity, row.tokens + (now - row.at) * per_s)
        return level - cost

    def level(self, key: str, capacity: float, per_s: float, now: float) -> float:
        with self._db.session() as session:
            row = session.get(RateBucketRow, key[:_KEY_CHARS])
        if row is None:
            return capacity
        return min(capacity, row.tokens + max(now - row.at, 0.0) * per_s)

    def prune(self, before: float) -> None:
        """Forget buckets untouched since ``before`` (they have refilled completely)."""
        with self._db.session() as session:
            session.execute(delete(RateBucketRow).where(col(RateBucketRow.at) < before))
