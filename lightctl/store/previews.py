"""Frozen lantern sets a dispatcher previewed, and the Idempotency-Keys of alert requests.

Both are rows in the shared database, so any replica can check a preview another replica made
and answer a retried request that first reached another replica.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.domain.records import IdempotencyKey, TargetPreview
from lightctl.store.mapping import record_of
from lightctl.store.tables import LanternRow
from lightctl.store.types import UtcDateTime


class TargetPreviewRow(SQLModel, table=True):
    """One frozen lantern set, named by the digest of its sorted ids (``preview_id``)."""

    __tablename__ = "target_preview"

    id: str = Field(primary_key=True, max_length=64)
    lantern_ids_json: str  # ["id", ...] sorted
    lantern_count: int
    streets_json: str  # [["Talstrasse", 50], ...] as the preview showed them
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(index=True, sa_type=UtcDateTime)


class IdempotencyRow(SQLModel, table=True):
    """An alert request's Idempotency-Key: its caller, what was asked and the alert it made."""

    __tablename__ = "idempotency_key"

    caller: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=200)
    request_sha256: str = Field(max_length=64)
    alert_id: str = Field(max_length=64)
    created_at: datetime = Field(index=True, sa_type=UtcDateTime)


def _preview(row: TargetPreviewRow) -> TargetPreview:
    return TargetPreview(
        id=row.id,
        lantern_ids=tuple(json.loads(row.lantern_ids_json)),
        lantern_count=row.lantern_count,
        streets=tuple((str(name), int(count)) for name, count in json.loads(row.streets_json)),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def remember_preview(session: Session, preview: TargetPreview) -> None:
    """Store the set (or move its expiry on when the same set was previewed before), and drop
    sets whose time is over."""
    values = {
        "id": preview.id,
        "lantern_ids_json": json.dumps(list(preview.lantern_ids), ensure_ascii=False),
        "lantern_count": preview.lantern_count,
        "streets_json": json.dumps([list(s) for s in preview.streets], ensure_ascii=False),
        "created_at": preview.created_at,
        "expires_at": preview.expires_at,
    }
    if session.get_bind().dialect.name == "postgresql":
        pg = pg_insert(TargetPreviewRow).values(values)
        session.execute(
            pg.on_conflict_do_update(
                index_elements=["id"], set_={"expires_at": pg.excluded.expires_at}
            )
        )
    else:
        lite = sqlite_insert(TargetPreviewRow).values(values)
        session.execute(
            lite.on_conflict_do_update(
                index_elements=["id"], set_={"expires_at": lite.excluded.expires_at}
            )
        )
    session.execute(
        delete(TargetPreviewRow).where(col(TargetPreviewRow.expires_at) < preview.created_at)
    )


def get_preview(session: Session, preview_id: str) -> TargetPreview | None:
    row = session.get(TargetPreviewRow, preview_id)
    return _preview(row) if row is not None else None


def streets_of(session: Session, lantern_ids: Sequence[str]) -> dict[str, str | None]:
    """The street each of these lanterns stands on (None: none); unknown ids are left out."""
    out: dict[str, str | None] = {}
    ids = sorted(set(lantern_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(LanternRow.id, LanternRow.street).where(col(LanternRow.id).in_(chunk))
        out.update({lid: street for lid, street in session.exec(query)})
    return out


def get_key(session: Session, caller: str, key: str) -> IdempotencyKey | None:
    row = session.get(IdempotencyRow, (caller, key))
    return record_of(IdempotencyKey, row) if row is not None else None


def claim_key(session: Session, claim: IdempotencyKey, forget_before: datetime) -> None:
    """Record the key in the alert's own transaction (a second claim of the same key fails on
    the primary key, so two racing retries store one alert), and forget keys older than
    ``forget_before``."""
    session.execute(delete(IdempotencyRow).where(col(IdempotencyRow.created_at) < forget_before))
    session.add(
        IdempotencyRow(
            caller=claim.caller,
            key=claim.key,
            request_sha256=claim.request_sha256,
            alert_id=claim.alert_id,
            created_at=claim.created_at,
        )
    )
    session.flush()
