"""Lantern ack keys: the public Ed25519 keys lanterns sign their acks with

Revision ID: 0004_lantern_ack_keys
Revises: 0003_alert_revision
Created: 2026-12-03 06:27:01.890399
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lantern_ack_keys"
down_revision = "0003_alert_revision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lantern_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("lantern_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    with op.batch_alter_table("lantern_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lantern_key_lantern_id"), ["lantern_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lantern_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lantern_key_lantern_id"))

    op.drop_table("lantern_key")
