"""Request-rate buckets shared by replicas

Revision ID: 0010_rate_buckets
Revises: 0009_auth_failures
Created: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_rate_buckets"
down_revision = "0009_auth_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(op.f("ix_rate_bucket_at"), "rate_bucket", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_bucket_at"), table_name="rate_bucket")
    op.drop_table("rate_bucket")
