"""Delivery plans: the frozen lanterns of a command whose delivery rows are written later

Revision ID: 0012_delivery_plan
Revises: 0011_alert_guidance
Created: 2026-12-03 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_delivery_plan"
down_revision = "0011_alert_guidance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_plan",
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("lanterns", sa.String(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["command_id"], ["command.id"]),
        sa.PrimaryKeyConstraint("command_id"),
    )
    op.create_index(op.f("ix_delivery_plan_alert_id"), "delivery_plan", ["alert_id"], unique=False)
    op.create_index(op.f("ix_delivery_plan_seq"), "delivery_plan", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_plan_seq"), table_name="delivery_plan")
    op.drop_index(op.f("ix_delivery_plan_alert_id"), table_name="delivery_plan")
    op.drop_table("delivery_plan")
