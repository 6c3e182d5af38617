"""Preview a target: exactly which lanterns a warning would reach, before it is sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lightctl.api.coverage_schemas import CoverageOut
from lightctl.api.deps import RuntimeDep, TargetsDep
from lightctl.api.schemas import StreetOut, TargetIn, TargetPreviewOut

router = APIRouter(tags=["targets"])


@router.post("/targets/preview", response_model=TargetPreviewOut)
def preview_target(
    body: TargetIn,
    targets: TargetsDep,
    runtime: RuntimeDep,
    geojson: Annotated[bool, Query(description="include the GeoJSON FeatureCollection")] = True,
    coverage: Annotated[bool, Query(description="include the acoustic coverage")] = True,
) -> TargetPreviewOut:
    """Resolve a Target as an alert would (same refusals); the answer's ``preview_id`` names
    the frozen set (kept two hours), for the alert to send back."""
    preview = targets.preview(body.to_spec(), with_features=geojson)
    preview_id = runtime.previews.remember(preview.lantern_ids, preview.streets)
    return TargetPreviewOut(
        lantern_count=len(preview.lantern_ids),
        lantern_ids=list(preview.lantern_ids),
        capabilities=preview.capabilities,
        offline_count=preview.offline,
        availability_unknown_count=preview.availability_unknown,
        streets=[StreetOut(name=n, lantern_count=c) for n, c in preview.streets],
        without_street_count=preview.without_street,
        geojson=preview.features,
        preview_id=preview_id,
        coverage=CoverageOut.of(runtime.coverage.for_lanterns(preview.lantern_ids))
        if coverage
        else None,
    )
