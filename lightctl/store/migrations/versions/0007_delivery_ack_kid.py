"""Deliveries name the lantern ack key behind their state

Revision ID: 0007_delivery_ack_kid
Revises: 0006_cap
Created: 2026-12-03 06:53:32.180758
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_delivery_ack_kid"
down_revision = "0006_cap"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ack_kid", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("ack_kid")
