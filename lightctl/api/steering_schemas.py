"""HTTP schemas of steering (visitor flows, emergency guidance) and the channel settings.

The bounds repeat the wire models' (lightctl.protocol.wire) so a mistake is refused at the edge
with the field named; the service checks the payloads against the wire models once more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from lightctl.api.schemas import StrictIn, TargetIn


def _color() -> Any:
    return Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$", description="#RRGGBB")


class LightIn(StrictIn):
    on: bool = True
    brightness: int | None = Field(default=None, ge=0, le=100, description="percent")
    color: str | None = _color()
    cct_k: int | None = Field(default=None, ge=1800, le=10000, description="white, in kelvin")
    effect: Literal["steady", "blink", "pulse", "chase"] = "steady"
    period_ms: int | None = Field(default=None, ge=50, le=60000)
    phase_ms: int | None = Field(default=None, ge=0, le=600000)
    transition_ms: int | None = Field(default=None, ge=0, le=60000)


class ProjectionIn(StrictIn):
    pictogram: Literal["arrow", "stop", "exit", "no_entry", "walk", "warning", "text"]
    heading_deg: float | None = Field(
        default=None, ge=0, le=360, description="degrees from north; with guidance: the route's"
    )
    text: str | None = Field(default=None, max_length=64)
    color: str | None = _color()


class PathIn(StrictIn):
    level: int = Field(ge=0, le=100, description="percent")
    mode: Literal["fixed", "motion", "chase"] = "fixed"
    hold_s: int | None = Field(default=None, ge=1, le=3600, description="motion: stay lit")
    period_ms: int | None = Field(default=None, ge=50, le=60000)
    phase_ms: int | None = Field(default=None, ge=0, le=600000)


class GuidanceIn(StrictIn):
    """Follow ``target.route``: arrows along the street, chases running toward the destination."""

    direction: Literal["forward", "backward"] | None = Field(
        default=None, description="forward: toward the line's last position"
    )
    destination: list[float] | None = Field(
        default=None, min_length=2, max_length=2, description="[lon, lat] near one end"
    )
    chase_speed_mps: float = Field(default=5.0, gt=0, le=100, description="running light pace")


class SteeringCreate(StrictIn):
    target: TargetIn
    light: LightIn | None = None
    projection: ProjectionIn | None = None
    path: PathIn | None = None
    guidance: GuidanceIn | None = None
    priority: int = Field(
        default=10, ge=1, le=16, description="10: visitor flows; 3: emergency guidance"
    )
    ends_at: AwareDatetime | None = None
    ends_in_s: int | None = Field(default=None, ge=10)
    label: str = Field(default="", max_length=200, description="what it is for, shown to people")


class SteeringChannelOut(BaseModel):
    lanterns: int = Field(description="lanterns sent a set on this channel")
    delivered: int = Field(description="acked applied (or done)")
    unsupported: int = Field(description="targeted lanterns without the hardware: sent nothing")
    counts: dict[str, int] = Field(description="delivery states of the sets")
    release_counts: dict[str, int] = Field(description="delivery states of the releases")


class SteeringLanternOut(BaseModel):
    lantern: str
    channel: str
    op: str
    command_id: str | None
    state: str
    reason: str | None = None


class SteeringOut(BaseModel):
    id: str
    status: Literal["active", "released", "ended"]
    purpose: str = Field(description="emergency_guidance, operator_override, visitor_steering")
    label: str
    priority: int
    created_at: datetime
    ends_at: datetime
    released_at: datetime | None
    owner: str | None = Field(
        default=None, description="who made it: a user, or token:<name> of a machine token"
    )
    target: dict[str, Any]
    guidance: dict[str, Any] | None
    light: dict[str, Any] | None
    projection: dict[str, Any] | None
    path: dict[str, Any] | None
    lantern_count: int
    command_count: int = Field(description="envelopes sent (one per distinct payload)")
    channels: dict[str, SteeringChannelOut]
    lanterns: list[SteeringLanternOut] | None = None
