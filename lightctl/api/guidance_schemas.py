"""HTTP schemas of evacuation guidance: the request (hazard, meeting points) and the preview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from lightctl.api.schemas import EvacuationIn, TargetIn
from lightctl.services.guidance_commands import flash_for
from lightctl.services.guidance_plan import GuidancePlan


class GuidancePreviewIn(EvacuationIn):
    hazard: TargetIn | None = Field(description="any Target: area, circle, route, streets, ...")
    lanterns: TargetIn | None = Field(
        default=None, description="which lanterns to guide; default: those in and near the hazard"
    )


class FlashOut(BaseModel):
    period_ms: int = Field(description="one flash cycle (at most 2 Hz)")
    on_ms: int = Field(description="shown at the start of each cycle, on the wall clock")
    phase_ms: int = Field(description="cycles start when epoch ms minus this is a multiple")


class GuidanceLanternOut(BaseModel):
    id: str
    lon: float
    lat: float
    kind: str = Field(description="arrow | neutral | shelter | no_entry | exit | safe | no_street")
    pictogram: str | None = Field(description="what the projector shows; null: no guidance")
    heading_deg: float | None = Field(description="true north, clockwise; arrows and no entry")
    exit: str | None = Field(description="the meeting point or exit the arrow leads to")
    metres: float | None = Field(description="walking metres to safety along the arrows")
    reason: str | None
    flash: FlashOut | None = Field(
        default=None,
        description="how the pictogram flashes (arrows, on lanterns whose firmware reported "
        "it can); null: steady",
    )


class ExitOut(BaseModel):
    name: str
    lon: float
    lat: float
    lanterns: int = Field(description="lanterns leading there: a proxy for people")


class GuidancePreviewOut(BaseModel):
    mode: str = Field(description="meeting_points | leave_area")
    lantern_count: int
    counts: dict[str, int]
    no_safe_place: bool
    shelter_in_place: list[str]
    without_street: list[str] = Field(description="no walkable street within 30 m: no arrow")
    exits: list[ExitOut]
    warnings: list[str]
    lanterns: list[GuidanceLanternOut]
    hazard: dict[str, Any] = Field(description="the hazard as solved (GeoJSON, holes filled)")
    timings_ms: dict[str, float]

    @classmethod
    def of(
        cls,
        plan: GuidancePlan,
        features: Callable[[str], frozenset[str]] = lambda _id: frozenset(),
    ) -> GuidancePreviewOut:
        """The preview of ``plan``; ``features`` says per lantern what its firmware reported
        it understands, so each row flashes exactly as the alert would send it."""

        def flash(kind: str, lantern_id: str) -> FlashOut | None:
            pattern = flash_for(kind, features(lantern_id))
            if pattern is None:
                return None
            return FlashOut(
                period_ms=pattern.period_ms, on_ms=pattern.on_ms, phase_ms=pattern.phase_ms
            )

        return cls(
            mode=plan.mode,
            lantern_count=len(plan.lanterns),
            counts=plan.counts(),
            no_safe_place=plan.no_safe_place,
            shelter_in_place=[r.id for r in plan.lanterns if r.kind == "shelter"],
            without_street=[r.id for r in plan.lanterns if r.kind == "no_street"],
            exits=[
                ExitOut(name=e.name, lon=e.lon, lat=e.lat, lanterns=e.lanterns) for e in plan.exits
            ],
            warnings=plan.warnings,
            lanterns=[
                GuidanceLanternOut(
                    id=r.id,
                    lon=r.lon,
                    lat=r.lat,
                    kind=r.kind,
                    pictogram=r.pictogram,
                    heading_deg=r.heading_deg,
                    exit=r.exit,
                    metres=r.metres,
                    reason=r.reason,
                    flash=flash(r.kind, r.id),
                )
                for r in plan.lanterns
            ],
            hazard=plan.hazard_lonlat,
            timings_ms={k: round(v, 2) for k, v in plan.timings_ms.items()},
        )
