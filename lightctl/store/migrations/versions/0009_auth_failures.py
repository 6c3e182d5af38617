"""Sign-in failures shared by replicas

Revision ID: 0009_auth_failures
Revises: 0008_previews_idempotency
Created: 2026-12-03 07:49:33.217988
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_auth_failures"
down_revision = "0008_previews_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failure",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("until_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("auth_failure")
