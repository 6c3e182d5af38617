"""Alembic environment: always handed an open connection by ``lightctl.store.schema``.

Every revision of one upgrade runs in that connection's single transaction, so a revision
that fails halfway rolls back all of them (PostgreSQL and SQLite both have transactional DDL;
``schema`` opens SQLite connections so that DDL really is inside the transaction).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import lightctl.store.db  # noqa: F401  (imports every module that defines a table)
from lightctl.store.types import JsonText, UtcDateTime

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `lightctl db upgrade`, not the alembic command")


def _on_version_apply(
    ctx: MigrationContext,
    step: MigrationInfo,
    heads: Collection[Any],
    run_args: Mapping[str, Any],
) -> None:
    hook = config.attributes.get("on_step")
    if hook is not None:
        hook(step.up_revision_id if step.is_upgrade else step.down_revision_ids)


def _render_item(kind: str, obj: Any, _autogen: AutogenContext) -> str | Literal[False]:
    """Write SQLModel's column types as plain SQLAlchemy ones, so a revision means the same
    whatever SQLModel version later reads it."""
    if kind == "type" and isinstance(obj, (UtcDateTime, UTCDateTime)):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, JsonText):
        return "sa.String()"
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


context.configure(
    render_item=_render_item,
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transaction_per_migration=False,
    on_version_apply=_on_version_apply,
)
with context.begin_transaction():
    context.run_migrations()
