"""HTTP schemas of CAP intake, suggestions and previews (issue 16)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lightctl.api.schemas import StreetOut, StrictIn, TargetIn


class CapPlanOut(BaseModel):
    """What the message does (or would do) here."""

    headline: str = ""
    messages: dict[str, str] = Field(default_factory=dict, description="text per voice, in order")
    languages: list[str] = Field(default_factory=list, description="playback order")
    skipped_languages: list[str] = Field(
        default_factory=list, description="the message's languages no engine speaks"
    )
    severity: str = "severe"
    signal: str = "warning"
    exercise: bool = False
    expires_at: datetime | None = None
    target: dict[str, Any] | None = None
    lantern_count: int = 0
    lantern_ids: list[str] = Field(default_factory=list)
    streets: list[StreetOut] = Field(default_factory=list)
    unknown_geocodes: list[str] = Field(
        default_factory=list, description="SCHEME:code no imported boundary explains"
    )
    area: dict[str, Any] | None = Field(default=None, description="the whole area, GeoJSON lon/lat")
    outside_area: dict[str, Any] | None = Field(
        default=None, description="the part of the area beyond the inventory's extent"
    )
    outside_share: float = Field(default=0.0, description="that part's share of the area, 0..1")
    notes: list[str] = Field(default_factory=list, description="warnings, each naming its element")


class CapMessageOut(BaseModel):
    id: str
    identifier: str
    sender: str
    sent: datetime | None = None
    msg_type: str = ""
    status: str = ""
    via: str = "push"
    decision: str = Field(
        description="played, updated, cancelled, all_clear, suggested, held, recorded, refused, "
        "sent, dismissed or superseded"
    )
    reason: str
    alert_ids: list[str]
    duplicate: bool = False
    plan: CapPlanOut


class CapPreviewOut(BaseModel):
    identifier: str
    sender: str
    status: str
    msg_type: str
    version: str
    info_count: int
    languages: list[str]
    polygon_count: int
    circle_count: int
    geocode_count: int
    warnings: list[str]
    plan: CapPlanOut


class CapSendIn(StrictIn):
    """Optional edits before a suggestion is sent."""

    messages: dict[str, str] | None = Field(default=None, max_length=16)
    target: TargetIn | None = None
