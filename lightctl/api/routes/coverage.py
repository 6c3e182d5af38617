"""Acoustic coverage: the whole inventory for planning, and what an alert actually reached."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lightctl.api.coverage_schemas import CityCoverageOut, CoverageOut
from lightctl.api.deps import AlertsDep, RuntimeDep

router = APIRouter(tags=["coverage"])

# What counts as a lantern that confirmed: it acked playing, or finished playing.
CONFIRMED = ("playing", "done")


@router.get("/coverage", response_model=CityCoverageOut)
def city_coverage(
    runtime: RuntimeDep,
    suggestions: Annotated[int, Query(ge=0, le=50, description="next-speaker positions")] = 5,
    geojson: Annotated[bool, Query(description="include the rated street segments")] = True,
    level_db: Annotated[
        float | None, Query(ge=60, le=130, description="play every speaker at this dB(A) at 1 m")
    ] = None,
) -> CityCoverageOut:
    """Every street, by the working speakers of the whole inventory, day and night."""
    report = runtime.coverage.citywide(suggestions=suggestions, level_db=level_db)
    return CityCoverageOut.city(report, geojson)


@router.get("/alerts/{alert_id}/coverage", response_model=CoverageOut)
def alert_coverage(alert_id: str, runtime: RuntimeDep, alerts: AlertsDep) -> CoverageOut:
    """The alert's streets, by the lanterns that confirmed playing (a failed speaker is a gap)."""
    report = alerts.get(alert_id, with_lanterns=True)
    rows = report.lanterns or []
    targeted = [r.lantern_id for r in rows]
    confirmed = {r.lantern_id for r in rows if r.state in CONFIRMED}
    coverage = runtime.coverage.for_lanterns(targeted, only=confirmed)
    return CoverageOut.of(coverage)
