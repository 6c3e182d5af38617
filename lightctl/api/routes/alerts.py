"""Alerts: create, list, inspect, and follow live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from lightctl.api.deps import AlertsDep, RuntimeDep
from lightctl.api.schemas import AlertCreate, AlertOut, ClipOut, DeliveryOut
from lightctl.domain.alerts import AlertSpec
from lightctl.services.alerts import AlertReport

router = APIRouter(prefix="/alerts", tags=["alerts"])


def to_out(report: AlertReport) -> AlertOut:
    a = report.alert
    if a.status == "cancelled":
        status = "cancelled"
    else:
        status = "completed" if report.finished else "sending"
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
        status=status,
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
        lantern_count=a.lantern_count,
        counts=report.counts,
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
    )
    return to_out(alerts.create(spec))


@router.get("", response_model=list[AlertOut])
def list_alerts(
    alerts: AlertsDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[AlertOut]:
    return [to_out(r) for r in alerts.list(limit, offset)]


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
            if out.status != "sending" or await request.is_disconnected():
                return
            if events is None:
                await asyncio.sleep(1.0)
            else:
                seen = await events.wait(alert_id, seen, timeout_s=5.0)
            report = await asyncio.to_thread(alerts.get, alert_id)

    return StreamingResponse(stream(), media_type="text/event-stream")
