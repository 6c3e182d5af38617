"""Alerts: create, list, inspect, and follow live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from lightctl.api.deps import AlertsDep, RuntimeDep
from lightctl.api.schemas import (
    AlertCreate,
    AlertOut,
    AlertUpdateIn,
    AllClearIn,
    ClipOut,
    CommandOut,
    DeliveryOut,
)
from lightctl.domain.alerts import AlertSpec, AlertUpdate
from lightctl.services.alerts import AlertReport

router = APIRouter(prefix="/alerts", tags=["alerts"])


def to_out(report: AlertReport) -> AlertOut:
    a = report.alert
    lanterns = None
    if report.lanterns is not None:
        lanterns = [
            DeliveryOut(
                lantern=d.lantern_id,
                state=d.state,
                reason=d.reason,
                attempts=d.attempts,
                updated_at=d.updated_at,
                played=json.loads(d.played_json) if d.played_json else None,
            )
            for d in report.lanterns
        ]
    return AlertOut(
        id=a.id,
        status=report.status,
        created_at=a.created_at,
        expires_at=a.expires_at,
        priority=a.priority,
        exercise=a.exercise,
        signal=a.signal,
        template=a.template,
        target=json.loads(a.target_json),
        languages=json.loads(a.languages_json),
        messages=json.loads(a.messages_json),
        clips=[ClipOut(**c) for c in json.loads(a.clips_json)],
        severity=a.severity,
        lantern_count=a.lantern_count,
        counts=report.counts,
        commands=[
            CommandOut(
                id=c.id, channel=c.channel, op=c.op, expires_at=c.expires_at, counts=c.counts
            )
            for c in report.commands
        ],
        lanterns=lanterns,
    )


@router.post("", status_code=201, response_model=AlertOut)
def create_alert(body: AlertCreate, alerts: AlertsDep) -> AlertOut:
    """Send a warning: stored with one delivery row per lantern, then published."""
    spec = AlertSpec(
        target=body.target.to_spec(),
        messages=body.messages,
        languages=tuple(body.languages),
        priority=body.priority,
        expires_at=body.expires_at,
        expires_in_s=body.expires_in_s,
        signal=body.signal,
        repeat=body.repeat,
        interval_s=body.interval_s,
        volume=body.volume,
        exercise=body.exercise,
        template=body.template,
        params=body.params,
        severity=body.severity,
        light=body.light,
        projection=body.projection,
    )
    return to_out(alerts.create(spec))


@router.post("/{alert_id}/update", response_model=AlertOut)
def update_alert(alert_id: str, body: AlertUpdateIn, alerts: AlertsDep) -> AlertOut:
    """Change text, languages, target or expiry of a running alert (409 once it has ended)."""
    change = AlertUpdate(
        target=body.target.to_spec() if body.target else None,
        messages=body.messages,
        template=body.template,
        params=body.params,
        languages=tuple(body.languages) if body.languages is not None else None,
        expires_at=body.expires_at,
        expires_in_s=body.expires_in_s,
    )
    return to_out(alerts.update(alert_id, change))


@router.post("/{alert_id}/cancel", response_model=AlertOut)
def cancel_alert(alert_id: str, alerts: AlertsDep) -> AlertOut:
    """Stop playback, warning light and projection now (409 once it has ended)."""
    return to_out(alerts.cancel(alert_id))


@router.post("/{alert_id}/all-clear", response_model=AlertOut)
def all_clear(alert_id: str, alerts: AlertsDep, body: AllClearIn | None = None) -> AlertOut:
    """Play the all-clear on the alert's lanterns, then release them."""
    body = body or AllClearIn()
    return to_out(alerts.all_clear(alert_id, params=body.params, messages=body.messages))


@router.get("", response_model=list[AlertOut])
def list_alerts(
    alerts: AlertsDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[AlertOut]:
    return [to_out(r) for r in alerts.recent(limit, offset)]


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(
    alert_id: str,
    alerts: AlertsDep,
    lanterns: bool = Query(False, description="include the per-lantern delivery rows"),
) -> AlertOut:
    return to_out(alerts.get(alert_id, with_lanterns=lanterns))


@router.get("/{alert_id}/events")
async def alert_events(
    alert_id: str, alerts: AlertsDep, runtime: RuntimeDep, request: Request
) -> StreamingResponse:
    """Server-sent events: the alert's counts whenever they change, until it completes."""
    first = await asyncio.to_thread(alerts.get, alert_id)

    async def stream() -> AsyncIterator[bytes]:
        events = runtime.events
        report, seen = first, -1
        while True:
            out = to_out(report)
            yield f"event: progress\ndata: {out.model_dump_json()}\n\n".encode()
            if report.finished or await request.is_disconnected():
                return
            if events is None:
                await asyncio.sleep(1.0)
            else:
                seen = await events.wait(alert_id, seen, timeout_s=5.0)
            report = await asyncio.to_thread(alerts.get, alert_id)

    return StreamingResponse(stream(), media_type="text/event-stream")
