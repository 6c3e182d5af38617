"""What the store keeps, as the rest of the code sees it: frozen records, never table rows.

``store/`` maps its tables onto these at its boundary (JSON columns decoded, datetimes aware in
UTC), so services and ``api/`` cannot write a row by accident, and a change to a table stays
inside ``store/``. A change to an alert is a new record (``dataclasses.replace``) handed back to
the store, which writes it in a guarded statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored alert: what was confirmed and sent, and where its lifecycle stands."""

    id: str
    created_at: datetime
    updated_at: datetime
    status: str  # active | awaiting_approval | cancelled | all_clear
    priority: int
    exercise: bool
    signal: str
    template: str | None
    target: dict[str, Any]  # the Target as ``domain.targets.target_to_json`` wrote it
    messages: dict[str, str]  # {"de": "...", "en": "..."} exactly as played
    languages: tuple[str, ...]  # playback order
    clips: list[dict[str, Any]]  # per language: sha256, url, duration, engine, fallback reason
    params: dict[str, Any]  # template parameters, reused by the all-clear
    repeat: int
    volume: int
    expires_at: datetime
    lantern_count: int
    severity: str
    # The audio command whose deliveries the alert's counts report (changes on update/all-clear).
    primary_command_id: str | None
    ended_at: datetime | None = None
    # Raised by every lifecycle change; a change computed from an older revision is refused.
    revision: int = 0
    # Evacuation guidance (issue 18): the spec, what each lantern shows since when, the summary.
    guidance: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Lantern:
    """One lantern of the inventory: where it stands, its street, what it can do, and what the
    service last heard of it."""

    id: str
    lon: float
    lat: float
    orientation_deg: float | None
    street: str | None
    street_key: str | None
    street_distance_m: float | None  # None: the inventory file named the street
    capabilities: tuple[str, ...]  # of speaker, rgb, projector, path_light, in that order
    source: str
    online: bool | None
    boot: int | None
    gateway: str | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class LanternPresence:
    """What the service last heard of a lantern: online or not, since which boot, via which
    gateway, and when."""

    online: bool | None
    boot: int | None
    gateway: str | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A lighting schedule as stored: its group (None: the default) and its definition as
    ``domain.schedules.schedule_to_json`` wrote it."""

    name: str
    group_name: str | None
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Command:
    """One signed command as stored: the exact envelope published (signature included) and what
    it is found by (its alert or steering, channel, op, priority, seq and lifetime)."""

    id: str
    alert_id: str | None
    channel: str
    op: str
    priority: int
    seq: int  # microseconds since the epoch
    issued_at: datetime
    expires_at: datetime
    envelope: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One command to one lantern: where it stands and what the lantern confirmed."""

    command_id: str
    lantern_id: str
    alert_id: str | None
    state: str
    reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    published_at: datetime | None
    updated_at: datetime
    played: tuple[str, ...] | None  # sha256 list from the lantern's ``done`` ack
    # The lantern's ack key whose verified signature the latest believed ack carried (None: an
    # unsigned v1 ack, or one the service could not verify). What makes ``done`` proof.
    ack_kid: str | None = None


@dataclass(frozen=True, slots=True)
class Steering:
    """A stored visitor-flow steering or emergency guidance: its request, lanterns and end."""

    id: str
    created_at: datetime
    updated_at: datetime
    status: str  # active | released
    priority: int
    label: str
    target: dict[str, Any]  # the Target as ``domain.targets.target_to_json`` wrote it
    guidance: dict[str, Any] | None  # direction, destination, chase speed
    settings: dict[str, Any]  # {"light": {...}, "projection": {...}, "path": {...}} as requested
    ends_at: datetime
    lantern_count: int
    unsupported: dict[str, list[str]]  # {channel: [lantern ids]} lacking the hardware
    released_at: datetime | None = None
    # Who made it (the user, or "token:<name>"); None: made before owners were kept.
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A person who can sign in: their password hash, roles and groups, and whether revoked."""

    username: str
    password_hash: str  # scrypt$n$r$p$salt$hash
    roles: str  # comma-separated Role values
    groups: str  # comma-separated; empty: no limit
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Token:
    """An API token (kind ``api``) or a login session (kind ``session``), by its secret's hash."""

    id: str
    token_hash: str  # sha256 hex of the secret
    kind: str  # api | session
    name: str
    username: str | None  # the person behind it (None: a machine's API token)
    roles: str  # comma-separated Role values
    groups: str  # comma-separated; empty: no limit
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TargetPreview:
    """A lantern set a dispatcher previewed, frozen under its ``preview_id`` until it expires."""

    id: str  # the digest of the sorted lantern ids
    lantern_ids: tuple[str, ...]  # sorted
    lantern_count: int
    streets: tuple[tuple[str, int], ...]  # (street, lanterns) as the preview showed them
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An alert request's Idempotency-Key: its caller, what was asked and the alert it made."""

    caller: str
    key: str
    request_sha256: str
    alert_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Approval:
    """Who asked for an alert under the four-eyes rule and who approved it (or why bypassed)."""

    alert_id: str
    requested_by: str
    requested_roles: str  # comma-separated Role values
    requested_at: datetime
    decision: str  # pending | approved | rejected | bypassed
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None  # break-glass justification


@dataclass(frozen=True, slots=True)
class Replica:
    """One running service process on the database: its heartbeat and what it must share."""

    id: str
    host: str
    started_at: datetime
    seen_at: datetime  # moves with its heartbeat
    schema_revision: str
    signing_kids: str
    templates_digest: str
    stopped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One record of the audit trail as stored, chained to the one before by its hash."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    body: str  # the canonical JSON the hash covers, kept as text: verification hashes it as is
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The audit chain's last sequence number and hash."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class StoredCapMessage:
    """A CAP message as received (sender + identifier name it), and what was decided about it."""

    id: str
    identifier: str
    sender: str
    sent: datetime
    received_at: datetime
    msg_type: str
    status: str
    form: str  # xml | json
    via: str  # push, or feed:<name>
    # received | played | updated | cancelled | all_clear | suggested | held | recorded |
    # refused | failed | dismissed | sent | superseded
    decision: str
    reason: str
    alert_id: str | None
    hold_until: datetime | None
    references: tuple[tuple[str, str, str], ...]  # (sender, identifier, sent)
    plan: dict[str, Any]  # the suggestion or what played, as ``cap.plan.Plan.as_json`` wrote it
    body: bytes  # the message exactly as received
    content_type: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CapFeed:
    """A feed the service polls (a NINA dashboard for ARS keys, or a CAP/Atom URL) and how its
    polls went."""

    name: str
    kind: str  # nina | cap
    url: str  # NINA: the API base; cap: the feed or message URL
    ars: tuple[str, ...]  # NINA: the ARS keys whose dashboards are polled
    interval_s: int
    enabled: bool
    created_at: datetime
    validators: dict[str, Any]  # per polled URL its [ETag, Last-Modified]; "seen": Atom entries
    last_polled_at: datetime | None = None
    last_ok_at: datetime | None = None
    failures: int = 0  # consecutive
    next_poll_at: datetime | None = None
    last_error: str = ""
    accepted: int = 0
    refused: int = 0
    not_modified: int = 0


@dataclass(frozen=True, slots=True)
class GeocodeArea:
    """An imported boundary: the area one geocode (ARS, WARNCELLID, SAME, EMMA_ID …) names."""

    scheme: str
    code: str
    name: str
    geometry: dict[str, Any]  # GeoJSON, lon/lat
    source: str
    imported_at: datetime
