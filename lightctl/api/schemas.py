"""HTTP request and response schemas (never table objects, never wire models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lightctl.domain.targets import Circle, Route, TargetSpec


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CircleIn(StrictIn):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(gt=0, le=50_000)


class RouteIn(StrictIn):
    line: dict[str, Any]
    width_m: float = Field(gt=0, le=50_000)


class TargetIn(StrictIn):
    """Union of the selectors given, minus ``exclude``."""

    lanterns: list[str] = Field(default_factory=list, max_length=100_000)
    groups: list[str] = Field(default_factory=list, max_length=1000)
    streets: list[str] = Field(default_factory=list, max_length=1000)
    area: dict[str, Any] | None = None
    circle: CircleIn | None = None
    route: RouteIn | None = None
    exclude: TargetIn | None = None
    repair: bool = False

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


class AlertOut(BaseModel):
    id: str
    status: Literal["sending", "completed", "cancelled"]
    created_at: datetime
    expires_at: datetime
    priority: int
    exercise: bool
    signal: str
    template: str | None
    target: dict[str, Any]
    languages: list[str]
    messages: dict[str, str]
    clips: list[ClipOut]
    lantern_count: int
    counts: dict[str, int]
    lanterns: list[DeliveryOut] | None = None


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


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    mqtt: str
    db: str
