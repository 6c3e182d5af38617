"""Preview a target: exactly which lanterns a warning would reach, before it is sent."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query

from lightctl.api.coverage_schemas import CoverageOut
from lightctl.api.deps import RuntimeDep, TargetsDep
from lightctl.api.schemas import StreetOut, TargetIn, TargetPreviewOut
from lightctl.runtime import Runtime

log = logging.getLogger(__name__)
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
        broken_speaker_count=len(preview.broken_speakers),
        broken_speaker_ids=list(preview.broken_speakers),
        streets=[StreetOut(name=n, lantern_count=c) for n, c in preview.streets],
        without_street_count=preview.without_street,
        geojson=preview.features,
        preview_id=preview_id,
        coverage=_coverage(runtime, preview.lantern_ids) if coverage else None,
    )


def _coverage(runtime: Runtime, lantern_ids: tuple[str, ...]) -> CoverageOut | None:
    """The targeted streets' coverage; a fault in the acoustic model must never cost the
    dispatcher the preview itself, so it is logged and the field left empty."""
    try:
        return CoverageOut.of(runtime.coverage.for_lanterns(lantern_ids))
    except Exception:
        log.exception("coverage of a preview failed")
        return None
