"""HTTP request and response schemas (never table objects, never wire models)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    model_validator,
)

from lightctl.api.coverage_schemas import CoverageOut
from lightctl.api.input_values import check_values
from lightctl.domain.guidance import (
    DEFAULT_BUFFER_M,
    DEFAULT_CHASE_SPEED_MPS,
    EvacuationSpec,
    MeetingPoint,
)
from lightctl.domain.targets import Circle, Route, TargetSpec
from lightctl.services.alerts.previews import PREVIEW_ID_PATTERN

# Set while a request body's outermost model validates: its nested models skip the walk.
_CHECKING: ContextVar[bool] = ContextVar("checking_request_values", default=False)


class StrictIn(BaseModel):
    """Base of every request body: unknown fields refused, and no lone surrogate, NaN, infinity,
    out-of-range number or invisible-only text anywhere (422 naming where: ``input_values``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _plain_values(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if _CHECKING.get():
            return handler(data)
        token = _CHECKING.set(True)
        try:
            check_values(data)
            return handler(data)
        finally:
            _CHECKING.reset(token)


class CircleIn(StrictIn):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(gt=0, le=50_000, description="geodesic distance from the centre")


class RouteIn(StrictIn):
    line: dict[str, Any] = Field(description="GeoJSON LineString, [lon, lat] positions")
    width_m: float = Field(
        gt=0, le=50_000, description="reach on each side of the line (the corridor is 2 x width_m)"
    )


class TargetIn(StrictIn):
    """Union of the selectors given, minus ``exclude``."""

    lanterns: list[str] = Field(default_factory=list, max_length=100_000)
    groups: list[str] = Field(default_factory=list, max_length=1000)
    streets: list[str] = Field(default_factory=list, max_length=1000)
    area: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Polygon or MultiPolygon (or a Feature of one), lon/lat"
    )
    circle: CircleIn | None = None
    route: RouteIn | None = None
    exclude: TargetIn | None = Field(default=None, description="any Target, subtracted")
    repair: bool = Field(default=False, description="repair invalid polygons instead of refusing")
    allow_empty: bool = Field(default=False, description="accept a target reaching no lantern")
    confirm_large: bool = Field(
        default=False, description="accept more lanterns than the configured ceiling"
    )

    def to_spec(self) -> TargetSpec:
        return TargetSpec(
            lanterns=tuple(self.lanterns),
            groups=tuple(self.groups),
            streets=tuple(self.streets),
            area=self.area,
            circle=Circle(self.circle.lon, self.circle.lat, self.circle.radius_m)
            if self.circle
            else None,
            route=Route(self.route.line, self.route.width_m) if self.route else None,
            exclude=self.exclude.to_spec() if self.exclude else None,
            repair=self.repair,
            allow_empty=self.allow_empty,
            confirm_large=self.confirm_large,
        )


class MeetingPointIn(StrictIn):
    name: str = Field(min_length=1, max_length=100, description="as people say it: spoken too")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class EvacuationIn(StrictIn):
    """Where the danger is and where people should go (no meeting points: leave the area)."""

    hazard: TargetIn | None = Field(
        default=None, description="any Target; on an alert, default: the alert's own target"
    )
    core: TargetIn | None = Field(
        default=None, description="the worst of it: walked through only when nothing else is left"
    )
    meeting_points: list[MeetingPointIn] = Field(default_factory=list, max_length=20)
    buffer_m: float = Field(
        default=DEFAULT_BUFFER_M, ge=0, le=5000, description="leave the area: safe this far out"
    )
    holes_safe: bool = Field(default=False, description="holes of the hazard polygon are safe")
    chase_speed_mps: float = Field(default=DEFAULT_CHASE_SPEED_MPS, ge=0.5, le=30)

    def to_spec(self) -> EvacuationSpec:
        return EvacuationSpec(
            hazard=self.hazard.to_spec() if self.hazard is not None else None,
            core=self.core.to_spec() if self.core is not None else None,
            meeting_points=tuple(MeetingPoint(m.name, m.lon, m.lat) for m in self.meeting_points),
            buffer_m=self.buffer_m,
            holes_safe=self.holes_safe,
            chase_speed_mps=self.chase_speed_mps,
        )


class AlertCreate(StrictIn):
    target: TargetIn
    messages: dict[str, str] = Field(default_factory=dict, max_length=16)
    template: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=list, max_length=16)
    priority: int = Field(default=1, ge=1, le=16)
    expires_at: AwareDatetime | None = None
    expires_in_s: int | None = Field(default=None, ge=10)
    signal: Literal["warning", "all_clear", "none"] | None = Field(
        default=None, description="default: the template's signal, else warning"
    )
    repeat: int = Field(default=1, ge=1, le=5)
    interval_s: float = Field(default=5.0, ge=0, le=30)
    volume: int = Field(default=80, ge=0, le=100)
    exercise: bool = False
    severity: Literal["extreme", "severe", "moderate", "minor"] | None = Field(
        default=None, description="warning colour; default: the template's, else severe"
    )
    light: bool = Field(default=True, description="warning colour and slow blink")
    projection: bool = Field(default=True, description="warning pictogram on projectors")
    evacuation: EvacuationIn | None = Field(
        default=None,
        description="lead people out: arrows and running lights along the streets, away from "
        "the hazard (default: the target) to meeting points or out of the area; the spoken "
        "text says to follow the arrows, naming the meeting points",
    )
    preview_id: str | None = Field(
        default=None,
        pattern=PREVIEW_ID_PATTERN,
        description="the preview the dispatcher confirmed: refused (409 target_changed) unless "
        "the target reaches exactly its lanterns now",
    )


class AlertUpdateIn(StrictIn):
    """Only what changes; everything else stays as the alert has it."""

    target: TargetIn | None = None
    messages: dict[str, str] | None = Field(default=None, max_length=16)
    template: str | None = None
    params: dict[str, str] | None = None
    languages: list[str] | None = Field(default=None, max_length=16)
    expires_at: AwareDatetime | None = None
    expires_in_s: int | None = Field(default=None, ge=10)
    evacuation: EvacuationIn | None = Field(
        default=None,
        description="new evacuation guidance (hazard, meeting points) in place of the alert's; "
        "arrows are recomputed and only those whose way became worse or much better turn",
    )


class AllClearIn(StrictIn):
    """Parameters of the all-clear template (default: the alert's streets) or free messages."""

    params: dict[str, str] | None = None
    messages: dict[str, str] | None = Field(default=None, max_length=16)


class CommandOut(BaseModel):
    id: str
    channel: str
    op: str
    expires_at: datetime
    counts: dict[str, int]


class ClipOut(BaseModel):
    lang: str
    sha256: str
    url: str
    duration_s: float
    engine: str
    fallback_reason: str | None = None


class DeliveryOut(BaseModel):
    lantern: str
    state: str
    reason: str | None = None
    attempts: int
    updated_at: datetime
    played: list[str] | None = None
    # kid of the lantern's ack key that signed the ack behind ``state`` (None: unsigned).
    signed_by: str | None = None


class AlertOut(BaseModel):
    id: str
    status: Literal[
        "sending", "completed", "cancelled", "all_clear", "expired", "awaiting_approval"
    ]
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = Field(
        default=None, description="when it was cancelled, cleared or expired; null while running"
    )
    priority: int
    exercise: bool
    signal: str
    template: str | None
    target: dict[str, Any]
    languages: list[str]
    messages: dict[str, str]
    clips: list[ClipOut]
    severity: str
    lantern_count: int
    counts: dict[str, int] = Field(description="delivery states of the current audio command")
    commands: list[CommandOut]
    lanterns: list[DeliveryOut] | None = None
    phase: Literal["held", "sending", "playing", "holding", "ending", "ended"] = Field(
        default="ended",
        description="what the lanterns do about it: ending (cancelled or all clear, releases "
        "not yet confirmed by every lantern), holding (light, pictogram or slot kept until "
        "holding_until), ended (nothing of it left on the street)",
    )
    running: bool = Field(default=False, description="phase is not ended")
    holding_until: datetime | None = None
    holding: list[str] = Field(default_factory=list, description="channels still held")
    releases: dict[str, int] = Field(
        default_factory=dict, description="delivery states of the releases it sent"
    )
    released: dict[str, int] | None = Field(
        default=None,
        description="cancelled or cleared: lanterns whose releases are all confirmed, still "
        "open, or never confirmed (those let go by themselves at the command's expiry)",
    )
    guidance: dict[str, Any] | None = Field(
        default=None,
        description="evacuation guidance sent: mode, meeting points, lanterns per kind, exits "
        "and their load, warnings",
    )


class SlotOut(BaseModel):
    """One side of a channel: the slot, the command in it, and who sent that command."""

    priority: int | None = Field(description="1..16; 16 with no cmd_id: the lantern default")
    cmd_id: str | None
    holder_kind: str | None = Field(description="alert, steering, schedule or default")
    holder_id: str | None
    value: dict[str, Any] | None
    delivery: str | None = Field(default=None, description="desired: the delivery's state")
    lit: bool | None = Field(default=None, description="reported path: the light is on now")


class LanternChannelOut(BaseModel):
    desired: SlotOut | None = Field(description="what the service sent; null: the default")
    reported: SlotOut | None = Field(description="what the lantern says; null: no report")
    mismatch: bool | None = Field(description="they differ; null: nothing reported yet")


class LanternOut(BaseModel):
    id: str
    lon: float
    lat: float
    street: str | None
    street_distance_m: float | None
    orientation_deg: float | None
    capabilities: list[str]
    online: bool | None
    last_seen: datetime | None
    reported: dict[str, Any] | None = None
    channels: dict[str, LanternChannelOut] | None = Field(
        default=None, description="per channel: desired vs reported (GET /lanterns/{id} only)"
    )


class StreetOut(BaseModel):
    name: str
    lantern_count: int


class PlaceholderOut(BaseModel):
    name: str
    description: dict[str, str]
    example: str


class TemplateOut(BaseModel):
    id: str
    title: dict[str, str]
    severity: str
    signal: str
    languages: list[str]
    default_languages: list[str]
    placeholders: list[PlaceholderOut]


class ConsoleSettingsOut(BaseModel):
    city_languages: list[str] = Field(description="ticked for every hazard, in playback order")


class TemplateRenderIn(StrictIn):
    params: dict[str, str] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=list, max_length=16)


class TemplateTextOut(BaseModel):
    template: str
    languages: list[str] = Field(description="playback order")
    messages: dict[str, str] = Field(description="per language, exactly what is spoken")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    mqtt: str
    db: str
    replicas: str = Field(
        default="consistent",
        description="`consistent`, or how another live replica on this database differs",
    )
    feeds: dict[str, str] = Field(
        default_factory=dict, description="per CAP/NINA feed: ok, or failing and why (issue 16)"
    )


class TargetPreviewOut(BaseModel):
    lantern_count: int
    lantern_ids: list[str]
    capabilities: dict[str, int] = Field(description="lanterns per capability")
    offline_count: int = Field(description="lanterns that reported offline")
    availability_unknown_count: int = Field(description="lanterns that never reported")
    broken_speaker_count: int = Field(
        default=0, description="lanterns whose reported state names their speaker broken"
    )
    broken_speaker_ids: list[str] = Field(
        default_factory=list, description="those lanterns: they would stay silent"
    )
    streets: list[StreetOut] = Field(description="streets touched, most lanterns first")
    without_street_count: int
    geojson: dict[str, Any] | None = Field(description="FeatureCollection of the lanterns")
    preview_id: str | None = Field(
        default=None, description="names this frozen lantern set; send it back with the alert"
    )
    coverage: CoverageOut | None = Field(
        default=None, description="acoustic coverage of the targeted streets (working speakers)"
    )


class GroupIn(StrictIn):
    """Either ``lanterns`` (a static list) or ``target`` (re-resolved on every use)."""

    description: str = Field(default="", max_length=500)
    lanterns: list[str] = Field(default_factory=list, max_length=100_000)
    target: TargetIn | None = None


class GroupCreate(GroupIn):
    name: str = Field(min_length=1, max_length=100)


class GroupOut(BaseModel):
    name: str
    description: str
    kind: Literal["static", "target"]
    lanterns: list[str] | None = Field(description="the static list (static groups)")
    target: dict[str, Any] | None = Field(description="the stored target (target groups)")
    groups: list[str] = Field(description="groups this group's target names")
    lantern_count: int | None = Field(description="lanterns reached today; null if unresolvable")
    lantern_ids: list[str] | None = None
    problem: str | None = Field(default=None, description="why it cannot be resolved today")
    created_at: datetime
    updated_at: datetime


class SkippedOut(BaseModel):
    row: int
    reason: str
    id: str | None = None


class DuplicateOut(BaseModel):
    lon: float
    lat: float
    ids: list[str]
    rows: list[int]


class OutlierOut(BaseModel):
    id: str
    row: int
    lon: float
    lat: float
    nearest_m: float = Field(description="metres to the nearest other lantern")


class ImportOut(BaseModel):
    taken: int
    inserted: int
    updated: int
    unchanged: int
    with_street: int = Field(description="lanterns within the street distance of a named street")
    skipped_count: int
    skipped: list[SkippedOut] = Field(description="the first 100 rows skipped, with why")
    ids_from_position: int = Field(0, description="rows without an id that got pos-<geohash>")
    street_field: str | None = Field(None, description="the file's field streets came from")
    duplicate_count: int = 0
    duplicates: list[DuplicateOut] = Field(
        default_factory=list, description="the first 100 groups of rows sharing a coordinate"
    )
    outlier_distance_m: float | None = None
    outliers_skipped: bool = False
    outliers: list[OutlierOut] = Field(
        default_factory=list, description="the first 100 lanterns far from any other"
    )


class StreetFeatureProperties(BaseModel):
    id: str
    name: str | None
    class_: str = Field(alias="class", description="road class from the import (e.g. primary)")


class StreetFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(description="GeoJSON LineString, [lon, lat] positions")
    properties: StreetFeatureProperties


class StreetGeometryOut(BaseModel):
    """The stored street segments as a GeoJSON FeatureCollection (the console's basemap)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[StreetFeature]


class LiveFeedOut(BaseModel):
    """The fleet's live state: everything without ``since``, else only what changed since it.

    Each entry of ``lanterns`` is a row in ``fields`` order with trailing defaults left off:
    ``[id, online (1, 0 or null: never reported), audio_playing (1/0), light_color, pictogram,
    heading_deg, projection_color, broken (comma-separated parts reported broken)]``."""

    cursor: str = Field(description="pass as ?since= on the next poll")
    full: bool = Field(description="every lantern is listed: drop any lantern not in it")
    fields: list[str]
    positions: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        description="[lon, lat] of lanterns that are new or moved since the cursor"
    )
    lanterns: list[list[str | int | float | None]]
    removed: list[str] = Field(description="lanterns deleted since the cursor")


class AlertLanternStatesOut(BaseModel):
    """Which lanterns of an alert are in which delivery state: the console's map colours,
    ~12 bytes per lantern instead of ~250 for the full delivery rows."""

    alert: str
    states: dict[str, list[str]] = Field(description="delivery state -> lantern ids")
    reasons: dict[str, str] = Field(description="why, for lanterns that failed or were refused")


class SimulatorOut(BaseModel):
    configured: bool = Field(description="a simulator control API URL is set")
    reachable: bool
    lanterns: int | None = Field(default=None, description="lanterns the simulator runs")


class SimulatorFaultIn(StrictIn):
    """One fault for some simulated lanterns (rehearsals; real lanterns have no such API)."""

    lanterns: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]] = Field(
        min_length=1, max_length=1000
    )
    fault: Literal[
        "offline",
        "speaker_broken",
        "lamp_broken",
        "projector_broken",
        "drop_acks",
        "reboot",
        "clear",
    ]
    seconds: float | None = Field(
        default=None, gt=0, le=86400, description="offline: back after this long"
    )


class SimulatorFaultOut(BaseModel):
    applied: dict[str, list[str]] = Field(description="lantern ids each fault reached")


class ClipManifestOut(BaseModel):
    key: str = Field(description="`common` (fixed sentences) or `street.<hash>` (one street)")
    digest: str = Field(description="SHA-256 of the manifest's entries: its version")
    clips: int
    bytes: int
    lanterns: int | None = Field(description="lanterns it is for; null: every lantern")
    complete: int = Field(description="lanterns that report holding this version completely")


class LanternClipsOut(BaseModel):
    lantern: str
    missing: int
    problem: str | None
    reasons: list[str]


class ClipLibraryOut(BaseModel):
    enabled: bool
    published: bool = Field(
        default=False, description="every manifest is built and published (the library is out)"
    )
    manifests: list[ClipManifestOut]
    lanterns_reporting: int
    incomplete: list[LanternClipsOut] = Field(description="the first 200 lanterns lacking clips")
    incomplete_count: int
    missing_reasons: dict[str, int] = Field(
        description="reasons lanterns gave for clips they lack (first 32 per lantern): "
        "pending, bad_clip_hash, clip_unavailable, cache_full, cache_unwritable"
    )
    problems: dict[str, int] = Field(description="lanterns whose clip cache takes no clips")
