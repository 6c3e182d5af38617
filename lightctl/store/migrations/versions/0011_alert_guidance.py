"""Alert guidance: an evacuation's request, what each lantern shows and since when

Revision ID: 0011_alert_guidance
Revises: 0010_rate_buckets
Created: 2026-12-03 11:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_alert_guidance"
down_revision = "0010_rate_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guidance_json", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("guidance_json")
