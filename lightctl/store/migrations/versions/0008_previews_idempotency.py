"""Confirmed previews and Idempotency-Keys of alert requests

Revision ID: 0008_previews_idempotency
Revises: 0007_delivery_ack_kid
Created: 2026-12-03 06:58:42.041533
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_previews_idempotency"
down_revision = "0007_delivery_ack_kid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "key"),
    )
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_key_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "target_preview",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("lantern_ids_json", sa.String(), nullable=False),
        sa.Column("lantern_count", sa.Integer(), nullable=False),
        sa.Column("streets_json", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("target_preview", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_target_preview_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("target_preview", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_preview_expires_at"))

    op.drop_table("target_preview")
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_key_created_at"))

    op.drop_table("idempotency_key")
