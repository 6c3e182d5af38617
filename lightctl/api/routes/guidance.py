"""Evacuation guidance: the arrows a hazard gives, before anything is sent."""

from __future__ import annotations

from fastapi import APIRouter

from lightctl.api.deps import RuntimeDep, TargetsDep
from lightctl.api.guidance_schemas import GuidancePreviewIn, GuidancePreviewOut

router = APIRouter(prefix="/guidance", tags=["guidance"])


@router.post("/preview", response_model=GuidancePreviewOut)
def preview_guidance(
    body: GuidancePreviewIn, runtime: RuntimeDep, targets: TargetsDep
) -> GuidancePreviewOut:
    """Per lantern in and near the hazard: its arrow (true-north heading, flashing or steady)
    or why not, the exit it leads to, and the load on each exit. Sends nothing."""
    ids = None
    if body.lanterns is not None:
        with runtime.db.session() as session:
            ids = list(targets.resolve(session, body.lanterns.to_spec(), ("lanterns",)).lantern_ids)
    plan = runtime.guidance.plan(body.to_spec(), ids, preview=True)
    return GuidancePreviewOut.of(plan, runtime.features_of)
