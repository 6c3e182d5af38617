"""Steering owner: a city app sees and ends only its own steerings

Revision ID: 0005_steering_owner
Revises: 0004_lantern_ack_keys
Created: 2026-12-03 06:30:48.239123
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_steering_owner"
down_revision = "0004_lantern_ack_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("steering", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_steering_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("steering", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steering_owner"))
        batch_op.drop_column("owner")
