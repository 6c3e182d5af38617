"""Alert revision: every lifecycle change is one guarded statement

Revision ID: 0003_alert_revision
Revises: 0002_replicas
Created: 2026-12-03 06:23:34.355275
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_alert_revision"
down_revision = "0002_replicas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("revision")
