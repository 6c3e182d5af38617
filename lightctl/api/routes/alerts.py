"""Alerts: create, list, inspect, and follow live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from lightctl.api.auth import GuardDep, PrincipalDep, issuing_role, require_priority
from lightctl.api.deps import MAX_OFFSET, AlertsDep, RuntimeDep
from lightctl.api.guard import Guard
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
from lightctl.domain.records import Delivery
from lightctl.domain.roles import LIFE_SAFETY_MAX, Principal
from lightctl.errors import InvalidRequest
from lightctl.services.alerts.phase import street_state
from lightctl.services.alerts.previews import KeyTaken, RequestKey
from lightctl.services.alerts.reports import AlertReport
from lightctl.services.alerts.service import AlertService

router = APIRouter(prefix="/alerts", tags=["alerts"])

BreakGlass = Annotated[
    str | None,
    Query(
        min_length=10,
        max_length=500,
        description="life safety (priority 1-2) only: send at once without the second "
        "person's approval the four-eyes rule asks for; say why (recorded)",
    ),
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="names this request: a retry with the same key and body answers the alert "
        "the first try made (200) instead of sending a second one; the same key with another "
        "body is refused (422)",
    ),
]

# The progress stream re-reads changes this far behind the newest one it saw: the ack consumer
# stamps a batch when it starts and commits it up to a few hundred ms later.
STREAM_OVERLAP = timedelta(seconds=5)


def delivery_out(row: Delivery) -> DeliveryOut:
    return DeliveryOut(
        lantern=row.lantern_id,
        state=row.state,
        reason=row.reason,
        attempts=row.attempts,
        updated_at=row.updated_at,
        played=list(row.played) if row.played is not None else None,
        signed_by=row.ack_kid,
    )


def to_out(report: AlertReport) -> AlertOut:
    a = report.alert
    lanterns = None
    if report.lanterns is not None:
        lanterns = [delivery_out(d) for d in report.lanterns]
    street = street_state(report)
    return AlertOut(
        id=a.id,
        status=report.status,
        created_at=a.created_at,
        expires_at=a.expires_at,
        ended_at=a.ended_at,
        priority=a.priority,
        exercise=a.exercise,
        signal=a.signal,
        template=a.template,
        target=a.target,
        languages=list(a.languages),
        messages=dict(a.messages),
        clips=[ClipOut(**c) for c in a.clips],
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
        phase=street.phase,
        running=street.running,
        holding_until=street.until,
        holding=list(street.holding),
        releases=street.releases,
        released=report.released,
        guidance=a.guidance["summary"] if a.guidance else None,
    )


def _within_ceiling(alerts: AlertService, alert_id: str, principal: Principal) -> AlertReport:
    """A caller may change only alerts at or below their ceiling (a feed never cancels slot 1)."""
    report = alerts.get(alert_id)
    require_priority(principal, report.alert.priority)
    return report


@router.post("", status_code=201, response_model=AlertOut)
def create_alert(
    body: AlertCreate,
    alerts: AlertsDep,
    principal: PrincipalDep,
    guard: GuardDep,
    response: Response,
    break_glass: BreakGlass = None,
    idempotency_key: IdempotencyKey = None,
) -> AlertOut:
    """Send a warning: stored with one delivery row per lantern, then published (or held for a
    second person's approval when the four-eyes rule covers the caller's role).

    With ``preview_id`` it is refused (409 ``target_changed``, naming the lanterns and streets
    that changed) unless the target reaches exactly the confirmed lanterns; with an
    ``Idempotency-Key`` a retried request answers the alert already made (200)."""
    request_key = None
    if idempotency_key is not None:
        request = {"body": body.model_dump(mode="json"), "break_glass": break_glass}
        request_key = RequestKey.of(principal.subject, idempotency_key, request)
        replay = _replay(alerts, request_key, principal, response)
        if replay is not None:
            return replay
    # Without a priority, a caller sends at their own ceiling (a CAP feed at 2, a dispatcher at 1).
    priority = body.priority
    if "priority" not in body.model_fields_set and principal.ceiling is not None:
        priority = principal.ceiling
    role = issuing_role(principal, priority)
    four_eyes = guard.four_eyes(principal)
    _life_safety_only(break_glass, priority)
    spec = AlertSpec(
        target=body.target.to_spec(),
        messages=body.messages,
        languages=tuple(body.languages),
        priority=priority,
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
        evacuation=body.evacuation.to_spec() if body.evacuation is not None else None,
    )
    hold = four_eyes and break_glass is None
    try:
        report = alerts.create(
            spec, hold=hold, role=role, preview_id=body.preview_id, request_key=request_key
        )
    except KeyTaken:  # a racing retry of the same request stored it first
        replay = _replay(alerts, request_key, principal, response) if request_key else None
        if replay is None:
            raise
        return replay
    if hold:
        guard.approvals.requested(report.alert.id, principal)
    elif four_eyes and break_glass is not None:
        guard.approvals.bypassed(report.alert.id, principal, break_glass)
        _record_break_glass(guard, principal, report.alert.id, break_glass, priority, ())
    return to_out(report)


def _replay(
    alerts: AlertService, key: RequestKey, principal: Principal, response: Response
) -> AlertOut | None:
    """The alert a request with this Idempotency-Key already made (200), else None."""
    alert_id = alerts.keys.replayed(key)
    if alert_id is None:
        return None
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    return to_out(_within_ceiling(alerts, alert_id, principal))


def _life_safety_only(break_glass: str | None, priority: int) -> None:
    if break_glass is not None and priority > LIFE_SAFETY_MAX:
        raise InvalidRequest.at(
            ("query", "break_glass"),
            f"break-glass is for life safety warnings (priority 1-{LIFE_SAFETY_MAX}), "
            f"not priority {priority}",
        )


def _record_break_glass(
    guard: Guard,
    principal: Principal,
    alert_id: str,
    reason: str,
    priority: int,
    changed: tuple[str, ...],
) -> None:
    detail: dict[str, object] = {"reason": reason, "priority": priority, "user": principal.user}
    if changed:
        detail["changed"] = list(changed)
    guard.audit.append(
        "alert.break_glass", principal.subject, principal.role_names, alert_id, detail
    )


def _second_person_for(
    guard: Guard,
    principal: Principal,
    report: AlertReport,
    changed: tuple[str, ...],
    break_glass: str | None,
) -> Callable[[], None]:
    """A change of what was approved goes out only with a new approval, or by break-glass
    (life safety; see ``ApprovalService.require_for_change``). Returns what to call once the
    change is made: it records a break-glass that was needed, with its reason."""
    alert = report.alert
    if not changed:
        return lambda: None
    if break_glass is not None:
        _life_safety_only(break_glass, alert.priority)
    held = guard.four_eyes(principal)
    guard.approvals.require_for_change(alert.id, changed, held, break_glass is not None)
    if break_glass is None or not (held or guard.approvals.get(alert.id) is not None):
        return lambda: None
    reason = break_glass
    return lambda: _record_break_glass(guard, principal, alert.id, reason, alert.priority, changed)


@router.post("/{alert_id}/approve", response_model=AlertOut)
def approve_alert(
    alert_id: str, alerts: AlertsDep, principal: PrincipalDep, guard: GuardDep
) -> AlertOut:
    """Four-eyes rule: a second person releases a held alert (403 for the one who asked)."""
    _within_ceiling(alerts, alert_id, principal)
    guard.approvals.approve(alert_id, principal)
    return to_out(alerts.get(alert_id))


@router.post("/{alert_id}/update", response_model=AlertOut)
def update_alert(
    alert_id: str,
    body: AlertUpdateIn,
    alerts: AlertsDep,
    principal: PrincipalDep,
    guard: GuardDep,
    break_glass: BreakGlass = None,
) -> AlertOut:
    """Change text, languages, target or expiry of a running alert (409 once it has ended).
    Under the four-eyes rule a change of target, text or languages is refused (409
    ``approval_required``) unless break-glass is given; a new expiry needs no approval."""
    report = _within_ceiling(alerts, alert_id, principal)
    changed = tuple(
        name
        for name in ("target", "messages", "template", "params", "languages", "evacuation")
        if getattr(body, name) is not None
    )
    recorded = _second_person_for(guard, principal, report, changed, break_glass)
    change = AlertUpdate(
        target=body.target.to_spec() if body.target else None,
        messages=body.messages,
        template=body.template,
        params=body.params,
        languages=tuple(body.languages) if body.languages is not None else None,
        expires_at=body.expires_at,
        expires_in_s=body.expires_in_s,
        evacuation=body.evacuation.to_spec() if body.evacuation is not None else None,
    )
    role = issuing_role(principal, report.alert.priority)
    updated = alerts.update(alert_id, change, role=role)
    recorded()
    return to_out(updated)


@router.post("/{alert_id}/cancel", response_model=AlertOut)
def cancel_alert(
    alert_id: str, alerts: AlertsDep, principal: PrincipalDep, guard: GuardDep
) -> AlertOut:
    """Stop playback, warning light and projection now (409 once it has ended); an alert still
    awaiting approval is dropped without anything ever having been sent."""
    report = _within_ceiling(alerts, alert_id, principal)
    if report.alert.status == "awaiting_approval":
        guard.approvals.reject(alert_id, principal)
        return to_out(alerts.get(alert_id))
    return to_out(alerts.cancel(alert_id, role=issuing_role(principal, report.alert.priority)))


@router.post("/{alert_id}/all-clear", response_model=AlertOut)
def all_clear(
    alert_id: str,
    alerts: AlertsDep,
    principal: PrincipalDep,
    guard: GuardDep,
    body: AllClearIn | None = None,
    break_glass: BreakGlass = None,
) -> AlertOut:
    """Play the all-clear on the alert's lanterns, then release them; under the four-eyes rule
    only with the all-clear template's own text (free ``messages`` or ``params`` are a change
    of text: 409 ``approval_required`` unless break-glass is given)."""
    report = _within_ceiling(alerts, alert_id, principal)
    body = body or AllClearIn()
    changed = tuple(n for n in ("messages", "params") if getattr(body, n))
    recorded = _second_person_for(guard, principal, report, changed, break_glass)
    role = issuing_role(principal, report.alert.priority)
    cleared = alerts.all_clear(alert_id, params=body.params, messages=body.messages, role=role)
    recorded()
    return to_out(cleared)


@router.get("", response_model=list[AlertOut])
def list_alerts(
    alerts: AlertsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    running: Annotated[
        bool,
        Query(
            description="only, and every one of, the warnings still on the street (a command "
            "not expired or not yet released), however old; limit and offset then do not apply"
        ),
    ] = False,
) -> list[AlertOut]:
    if running:
        return [to_out(r) for r in alerts.running() if street_state(r).running]
    return [to_out(r) for r in alerts.recent(limit, offset)]


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(
    alert_id: str,
    alerts: AlertsDep,
    lanterns: Annotated[bool, Query(description="include the per-lantern delivery rows")] = False,
) -> AlertOut:
    return to_out(alerts.get(alert_id, with_lanterns=lanterns))


@router.get("/{alert_id}/events")
async def alert_events(
    alert_id: str, alerts: AlertsDep, runtime: RuntimeDep, request: Request
) -> StreamingResponse:
    """Server-sent events until the alert completes (a cancelled or cleared one: until every
    lantern confirmed the release): a ``progress`` event with the counts and,
    in ``lanterns``, every lantern whose delivery changed since the previous event (all of them
    in the first)."""
    first = await asyncio.to_thread(alerts.get, alert_id)

    async def stream() -> AsyncIterator[bytes]:
        events = runtime.events
        report, seen = first, -1
        sent: dict[str, tuple[str, str | None]] = {}
        since: datetime | None = None
        while True:
            rows = await asyncio.to_thread(alerts.delivery_changes, alert_id, since)
            fresh = [r for r in rows if sent.get(r.lantern_id) != (r.state, r.reason)]
            for row in fresh:
                sent[row.lantern_id] = (row.state, row.reason)
            if rows:
                # Re-read a margin behind the newest change: a batch stamped earlier may
                # commit later; rows already sent unchanged are filtered out above.
                since = max(r.updated_at for r in rows) - STREAM_OVERLAP
            out = to_out(report).model_copy(update={"lanterns": [delivery_out(r) for r in fresh]})
            yield f"event: progress\ndata: {out.model_dump_json()}\n\n".encode()
            # A cancelled or cleared warning streams on until every release is confirmed.
            over = report.finished and street_state(report).phase != "ending"
            if over or await request.is_disconnected():
                return
            if events is None:
                await asyncio.sleep(1.0)
            else:
                refresh_s = runtime.settings.progress_refresh_s
                seen = await events.wait(alert_id, seen, timeout_s=refresh_s)
                if events.closed:  # shutting down: the client's EventSource reconnects
                    return
            report = await asyncio.to_thread(alerts.get, alert_id)

    return StreamingResponse(stream(), media_type="text/event-stream")
