"""Pre-approved warning templates."""

from __future__ import annotations

from fastapi import APIRouter

from lightctl.api.deps import AlertsDep
from lightctl.api.schemas import TemplateOut, TemplateRenderIn, TemplateTextOut

router = APIRouter(tags=["templates"])


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(alerts: AlertsDep) -> list[TemplateOut]:
    """Every template with its languages and the placeholders it needs."""
    return [TemplateOut.model_validate(t.summary()) for t in alerts.templates()]


@router.post("/templates/{template_id}/render", response_model=TemplateTextOut)
def render_template(template_id: str, body: TemplateRenderIn, alerts: AlertsDep) -> TemplateTextOut:
    """The exact text per language an alert with this template and details would speak, for
    the dispatcher to read before confirming (stores and sends nothing)."""
    languages, messages = alerts.texts_of(template_id, body.params, tuple(body.languages))
    return TemplateTextOut(template=template_id, languages=list(languages), messages=messages)
