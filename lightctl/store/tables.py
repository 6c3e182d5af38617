"""Tables. Routes never return these: ``api`` maps them onto its own schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from lightctl.store.types import JsonText, UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class LanternRow(SQLModel, table=True):
    __tablename__ = "lantern"

    id: str = Field(primary_key=True, max_length=64)
    lon: float
    lat: float
    orientation_deg: float | None = None
    street: str | None = Field(default=None, index=True, max_length=200)
    street_key: str | None = Field(default=None, index=True, max_length=200)
    street_distance_m: float | None = None
    cap_speaker: bool = True
    cap_rgb: bool = True
    cap_projector: bool = True
    cap_path_light: bool = True
    source: str = Field(default="", max_length=300)
    online: bool | None = None
    boot: int | None = None
    gateway: str | None = Field(default=None, index=True, max_length=64)
    last_seen: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class InventoryVersionRow(SQLModel, table=True):
    """One row whose version rises with every change to lantern positions, streets or
    capabilities (not availability): every service replica rebuilds its lantern index when it
    moves, whichever process imported."""

    __tablename__ = "inventory_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class StreetSegmentRow(SQLModel, table=True):
    __tablename__ = "street_segment"

    id: str = Field(primary_key=True, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    name_key: str | None = Field(default=None, index=True, max_length=200)
    cls: str = Field(default="", max_length=50)
    coords_json: list[list[float]] = Field(sa_type=JsonText)  # [[lon, lat], ...] in WGS 84


class GroupRow(SQLModel, table=True):
    """A named set of lanterns: a static list, or a stored Target re-resolved on every use."""

    __tablename__ = "lantern_group"

    name: str = Field(primary_key=True, max_length=100)
    description: str = Field(default="", max_length=500)
    lanterns_json: list[str] | None = Field(default=None, sa_type=JsonText)  # a static group
    # the Target, as lightctl.domain.targets.target_to_json
    target_json: dict[str, Any] | None = Field(default=None, sa_type=JsonText)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AlertRow(SQLModel, table=True):
    __tablename__ = "alert"

    id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    status: str = Field(default="active", max_length=20, index=True)
    priority: int
    exercise: bool = False
    signal: str = Field(default="warning", max_length=20)
    template: str | None = Field(default=None, max_length=64)
    # JSON documents (store.records maps them onto domain.records.Alert).
    target_json: dict[str, Any] = Field(sa_type=JsonText)
    messages_json: dict[str, str] = Field(sa_type=JsonText)  # {"de": "...", "en": "..."} as played
    languages_json: list[str] = Field(sa_type=JsonText)  # ["de", "en"]: playback order
    clips_json: list[dict[str, Any]] = Field(sa_type=JsonText)  # per language: sha256, url, ...
    repeat: int = 1
    volume: int = 80
    expires_at: datetime = Field(sa_type=UtcDateTime)
    lantern_count: int
    severity: str = Field(default="severe", max_length=20)
    # Template parameters, reused by the all-clear.
    params_json: dict[str, Any] = Field(default_factory=dict, sa_type=JsonText)
    # The audio command whose deliveries the alert's counts report (changes on update/all-clear).
    primary_command_id: str | None = Field(default=None, max_length=64)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Raised by every lifecycle change in the same guarded statement that checks the status, so
    # a change computed from an older reading is refused on whichever replica it lands.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Evacuation guidance (issue 18): its request, what each lantern shows and since when (the
    # hysteresis of the next recompute), and the summary the API answers.
    guidance_json: dict[str, Any] | None = Field(default=None, sa_type=JsonText)


class CommandRow(SQLModel, table=True):
    __tablename__ = "command"

    id: str = Field(primary_key=True, max_length=64)
    alert_id: str | None = Field(default=None, index=True, max_length=64)
    channel: str = Field(max_length=20)
    op: str = Field(max_length=10)
    priority: int
    # Microseconds since the epoch: past 2**31, so a 64-bit column.
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    issued_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    envelope: str  # the exact JSON published, signature included


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "delivery"

    command_id: str = Field(primary_key=True, foreign_key="command.id", max_length=64)
    # Indexed for "what did the service send this lantern" (GET /lanterns/{id}, slot ownership).
    lantern_id: str = Field(primary_key=True, index=True, max_length=64)
    alert_id: str | None = Field(default=None, index=True, max_length=64)
    state: str = Field(default="planned", index=True, max_length=20)
    reason: str | None = Field(default=None, max_length=200)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, index=True, sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # The sha256 list from the lantern's `done` ack.
    played_json: list[str] | None = Field(default=None, sa_type=JsonText)
    # The lantern's ack key whose verified signature the latest believed ack carried: None for
    # an unsigned (protocol v1) or unverifiable one. What makes "done" proof, not hearsay.
    ack_kid: str | None = Field(default=None, max_length=64)


class DeliveryPlanRow(SQLModel, table=True):
    """The frozen lanterns of a command whose delivery rows are not all written yet (issue 14).

    ``POST /alerts`` stores this one row per command instead of 100,000 delivery rows; the
    outbox writes the rows after the answer, ``written`` at a time in the same transaction as
    the rows, so a restart resumes at ``written`` and no lantern is lost or written twice. The
    row goes once every lantern has its delivery row."""

    __tablename__ = "delivery_plan"

    command_id: str = Field(primary_key=True, foreign_key="command.id", max_length=64)
    alert_id: str | None = Field(default=None, index=True, max_length=64)
    # The command's seq: the outbox writes plans in the order their commands were built
    # (audio first), so the warning sound goes out before light and projection.
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    lanterns: str  # lantern ids, one per line, in the order rows are written
    total: int
    written: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SteeringRow(SQLModel, table=True):
    """A visitor-flow steering or emergency guidance: its request, lanterns and end (issue 5)."""

    __tablename__ = "steering"

    id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    status: str = Field(default="active", max_length=20)  # active | released
    priority: int
    label: str = Field(default="", max_length=200)
    # JSON documents (store.steering maps them onto domain.records.Steering).
    target_json: dict[str, Any] = Field(sa_type=JsonText)
    # Direction, destination, chase speed.
    guidance_json: dict[str, Any] | None = Field(default=None, sa_type=JsonText)
    # {"light": {...}, "projection": {...}, "path": {...}} as requested.
    settings_json: dict[str, Any] = Field(sa_type=JsonText)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    lantern_count: int
    # {channel: [lantern ids]}: targeted lanterns the inventory says lack the hardware.
    unsupported_json: dict[str, list[str]] = Field(default_factory=dict, sa_type=JsonText)
    released_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Who made it (Principal.owner: the user, or "token:<name>" of a machine token): a city app
    # sees and ends only its own. None: made before owners were kept, so no city app's.
    owner: str | None = Field(default=None, index=True, max_length=100)


class ScheduleRow(SQLModel, table=True):
    """A lighting schedule for one group, or the default for lanterns in no scheduled group."""

    __tablename__ = "schedule"

    name: str = Field(primary_key=True, max_length=100)
    group_name: str | None = Field(default=None, unique=True, max_length=100)
    # lightctl.domain.schedules.schedule_to_json
    definition_json: dict[str, Any] = Field(sa_type=JsonText)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ScheduleCommandRow(SQLModel, table=True):
    """One switching command a schedule sent, by what it switches, so nothing is sent twice."""

    __tablename__ = "schedule_command"

    schedule: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)  # channel|step start|end|payload hash
    command_id: str = Field(max_length=64)
    ends_at: datetime = Field(index=True, sa_type=UtcDateTime)
