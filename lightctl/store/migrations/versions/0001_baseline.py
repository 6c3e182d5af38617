"""Baseline: the schema of release 78b0477, the last one before migrations.

On an empty database it creates every table. On a database that release (or an earlier one)
made, the tables exist and are kept as they are; only indexes an older release never created
(``ix_delivery_lantern_id`` came with issue 5) are added.

Revision ID: 0001_baseline
Revises:
Created: 2026-12-02 21:53:21.797376
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("signal", sa.String(length=20), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("target_json", sa.String(), nullable=False),
        sa.Column("messages_json", sa.String(), nullable=False),
        sa.Column("languages_json", sa.String(), nullable=False),
        sa.Column("clips_json", sa.String(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lantern_count", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("params_json", sa.String(), nullable=False),
        sa.Column("primary_command_id", sa.String(length=64), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_alert_created_at", "alert", ["created_at"], unique=False, if_not_exists=True
    )
    op.create_index("ix_alert_status", "alert", ["status"], unique=False, if_not_exists=True)

    op.create_table(
        "alert_approval",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_roles", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("alert_id"),
        if_not_exists=True,
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_table(
        "audit_record",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_audit_record_action", "audit_record", ["action"], unique=False, if_not_exists=True
    )
    op.create_index(
        "ix_audit_record_actor", "audit_record", ["actor"], unique=False, if_not_exists=True
    )
    op.create_index("ix_audit_record_at", "audit_record", ["at"], unique=False, if_not_exists=True)
    op.create_index(
        "ix_audit_record_subject", "audit_record", ["subject"], unique=False, if_not_exists=True
    )

    op.create_table(
        "auth_token",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("groups", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_auth_token_token_hash", "auth_token", ["token_hash"], unique=True, if_not_exists=True
    )
    op.create_index(
        "ix_auth_token_username", "auth_token", ["username"], unique=False, if_not_exists=True
    )

    op.create_table(
        "auth_user",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("groups", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username"),
        if_not_exists=True,
    )
    op.create_table(
        "command",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("op", sa.String(length=10), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_command_alert_id", "command", ["alert_id"], unique=False, if_not_exists=True
    )
    op.create_index("ix_command_seq", "command", ["seq"], unique=False, if_not_exists=True)

    op.create_table(
        "inventory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_table(
        "lantern",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("orientation_deg", sa.Float(), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("street_key", sa.String(length=200), nullable=True),
        sa.Column("street_distance_m", sa.Float(), nullable=True),
        sa.Column("cap_speaker", sa.Boolean(), nullable=False),
        sa.Column("cap_rgb", sa.Boolean(), nullable=False),
        sa.Column("cap_projector", sa.Boolean(), nullable=False),
        sa.Column("cap_path_light", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("boot", sa.Integer(), nullable=True),
        sa.Column("gateway", sa.String(length=64), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index("ix_lantern_gateway", "lantern", ["gateway"], unique=False, if_not_exists=True)
    op.create_index("ix_lantern_street", "lantern", ["street"], unique=False, if_not_exists=True)
    op.create_index(
        "ix_lantern_street_key", "lantern", ["street_key"], unique=False, if_not_exists=True
    )

    op.create_table(
        "lantern_group",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("lanterns_json", sa.String(), nullable=True),
        sa.Column("target_json", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    op.create_table(
        "schedule",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=True),
        sa.Column("definition_json", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("group_name"),
        if_not_exists=True,
    )
    op.create_table(
        "schedule_command",
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule", "key"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_schedule_command_ends_at",
        "schedule_command",
        ["ends_at"],
        unique=False,
        if_not_exists=True,
    )

    op.create_table(
        "steering",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("target_json", sa.String(), nullable=False),
        sa.Column("guidance_json", sa.String(), nullable=True),
        sa.Column("settings_json", sa.String(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lantern_count", sa.Integer(), nullable=False),
        sa.Column("unsupported_json", sa.String(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_steering_created_at", "steering", ["created_at"], unique=False, if_not_exists=True
    )

    op.create_table(
        "street_segment",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("name_key", sa.String(length=200), nullable=True),
        sa.Column("cls", sa.String(length=50), nullable=False),
        sa.Column("coords_json", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_street_segment_name_key",
        "street_segment",
        ["name_key"],
        unique=False,
        if_not_exists=True,
    )

    op.create_table(
        "delivery",
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("lantern_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("played_json", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["command.id"],
        ),
        sa.PrimaryKeyConstraint("command_id", "lantern_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_delivery_alert_id", "delivery", ["alert_id"], unique=False, if_not_exists=True
    )
    op.create_index(
        "ix_delivery_lantern_id", "delivery", ["lantern_id"], unique=False, if_not_exists=True
    )
    op.create_index(
        "ix_delivery_next_attempt_at",
        "delivery",
        ["next_attempt_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index("ix_delivery_state", "delivery", ["state"], unique=False, if_not_exists=True)


def downgrade() -> None:
    raise NotImplementedError("the baseline is the first schema: restore a backup instead")
