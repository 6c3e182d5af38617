"""Pre-approved warning templates."""

from __future__ import annotations

from fastapi import APIRouter

from lightctl.api.deps import AlertsDep
from lightctl.api.schemas import TemplateOut

router = APIRouter(tags=["templates"])


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(alerts: AlertsDep) -> list[TemplateOut]:
    """Every template with its languages and the placeholders it needs."""
    return [TemplateOut.model_validate(t.summary()) for t in alerts.templates()]
