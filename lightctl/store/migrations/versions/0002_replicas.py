"""Replicas and leases: who serves this database, and which replica runs a singleton job

Revision ID: 0002_replicas
Revises: 0001_baseline
Created: 2026-12-02 22:38:49.915229
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_replicas"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "replica",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schema_revision", sa.String(length=64), nullable=False),
        sa.Column("signing_kids", sa.String(length=500), nullable=False),
        sa.Column("templates_digest", sa.String(length=64), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("replica", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replica_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replica", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replica_seen_at"))

    op.drop_table("replica")
    op.drop_table("lease")
