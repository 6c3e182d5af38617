"""CAP 1.2 and NINA in (push, suggestions, preview); CAP 1.2 and Atom out."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import StringConstraints

from lightctl.api.auth import PrincipalDep, issuing_role
from lightctl.api.cap_schemas import CapMessageOut, CapPlanOut, CapPreviewOut, CapSendIn
from lightctl.api.deps import AlertsDep, RuntimeDep
from lightctl.api.schemas import StreetOut
from lightctl.cap.export import ExportedAlert, atom_feed, to_cap
from lightctl.cap.feeds import FeedPoller, FeedRunner
from lightctl.cap.intake import CapIntake
from lightctl.cap.outcomes import Caller, Outcome
from lightctl.cap.plan import Plan, with_edits
from lightctl.domain import priorities as slot
from lightctl.domain.roles import Principal
from lightctl.domain.targets import TargetSpec
from lightctl.errors import ServiceUnavailable
from lightctl.runtime import Runtime
from lightctl.services.alerts.reports import AlertReport
from lightctl.services.alerts.service import AlertService

router = APIRouter(tags=["cap"])

CAP_MEDIA = "application/cap+xml"
# The lease of the one replica that polls the feeds.
FEEDS_LEASE = "cap-feeds"


def intake_of(app: FastAPI) -> CapIntake:
    """One intake per app (its lock orders push and poll), built on first use."""
    intake: CapIntake | None = getattr(app.state, "cap_intake", None)
    if intake is None:
        runtime: Runtime = app.state.runtime

        def alerts() -> AlertService:
            if runtime.alerts is None:
                raise ServiceUnavailable("the service is still starting")
            return runtime.alerts

        intake = CapIntake(
            runtime.db,
            runtime.settings,
            alerts,
            runtime.targets,
            app.state.guard.audit,
            runtime.clock,
        )
        app.state.cap_intake = intake
    return intake


def get_intake(request: Request) -> CapIntake:
    return intake_of(request.app)


async def start_feeds(app: FastAPI) -> None:
    """Poll the configured CAP/NINA feeds (on the replica holding the feeds lease)."""
    runtime: Runtime = app.state.runtime

    poller = FeedPoller(runtime.db, lambda: intake_of(app), runtime.clock)

    def may_run() -> bool:
        # Without feeds or held messages nothing is polled and no lease is written.
        if runtime.alerts is None or not poller.has_work():
            return False
        replicas = runtime.replicas
        return replicas is None or replicas.hold(FEEDS_LEASE, 3 * runtime.settings.cap_feed_tick_s)

    runner = FeedRunner(poller, may_run, runtime.settings.cap_feed_tick_s)
    app.state.cap_feeds = runner
    await runner.start()


async def stop_feeds(app: FastAPI) -> None:
    runner: FeedRunner | None = getattr(app.state, "cap_feeds", None)
    if runner is not None:
        await runner.stop()


def feed_health(app: FastAPI) -> dict[str, str]:
    runner: FeedRunner | None = getattr(app.state, "cap_feeds", None)
    return {} if runner is None else runner.poller.health()


IntakeDep = Annotated[CapIntake, Depends(get_intake)]


def caller_of(principal: Principal) -> Caller:
    return Caller(
        principal.subject,
        principal.role_names,
        issuing_role(principal, slot.LIFE_SAFETY_AUTOMATIC),
    )


def plan_out(plan: dict[str, Any]) -> CapPlanOut:
    data = dict(plan)
    ids = data.get("lantern_ids", [])
    data["lantern_count"] = len(ids)
    data["streets"] = [StreetOut(name=n, lantern_count=c) for n, c in data.get("streets", [])]
    return CapPlanOut.model_validate(data)


def message_out(outcome: Outcome) -> CapMessageOut:
    return CapMessageOut(
        id=outcome.message_id,
        identifier=outcome.identifier,
        sender=outcome.sender,
        sent=outcome.sent,
        msg_type=outcome.msg_type,
        status=outcome.status,
        via=outcome.via,
        decision=outcome.decision,
        reason=outcome.reason,
        alert_ids=list(outcome.alert_ids),
        duplicate=outcome.duplicate,
        plan=plan_out(outcome.plan),
    )


@router.post(
    "/cap",
    response_model=CapMessageOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/xml": {}, "application/cap+xml": {}, "application/json": {}},
        }
    },
)
async def receive_cap(
    request: Request, intake: IntakeDep, principal: PrincipalDep
) -> CapMessageOut | JSONResponse:
    """A CAP 1.2 XML message or a NINA ``/warnings/{id}.json`` warning: played at slot 2, made
    a suggestion, or recorded, as the sender's policy says (200 for a duplicate)."""
    body = await request.body()
    caller = caller_of(principal)
    kind = request.headers.get("content-type", "")
    outcome = await asyncio.to_thread(intake.receive, body, kind, caller)
    out = message_out(outcome)
    if outcome.duplicate:
        return JSONResponse(out.model_dump(mode="json"), status_code=200)
    return out


@router.post("/cap/preview", response_model=CapPreviewOut)
async def preview_cap(request: Request, intake: IntakeDep) -> CapPreviewOut:
    """What a CAP or NINA message would do here: lanterns, streets, languages, texts and the
    part of its area outside the inventory. Stores and plays nothing."""
    body = await request.body()
    message, plan = await asyncio.to_thread(
        intake.preview, body, request.headers.get("content-type", "")
    )
    return CapPreviewOut(
        identifier=message.identifier,
        sender=message.sender,
        status=message.status,
        msg_type=message.msg_type,
        version=message.version,
        info_count=len(message.infos),
        languages=list(message.languages),
        polygon_count=sum(len(a.polygons) for a in message.areas),
        circle_count=sum(len(a.circles) for a in message.areas),
        geocode_count=sum(len(a.geocodes) for a in message.areas),
        warnings=list(message.warnings),
        plan=plan_out(plan.as_json()),
    )


# A decision is a lower-case word; anything else (control characters, NUL) is a 422, not a query.
DecisionName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]


@router.get("/cap/messages", response_model=list[CapMessageOut])
def list_cap_messages(
    intake: IntakeDep,
    decision: Annotated[list[DecisionName], Query(description="e.g. suggested, held, played")] = [],  # noqa: B006 - FastAPI copies query defaults per request
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CapMessageOut]:
    """Messages received, newest first, with what was decided (``decision=suggested``)."""
    return [message_out(o) for o in intake.recent(decision, limit)]


@router.get("/cap/messages/{message_id}", response_model=CapMessageOut)
def get_cap_message(message_id: str, intake: IntakeDep) -> CapMessageOut:
    return message_out(intake.get(message_id))


@router.post("/cap/messages/{message_id}/send", response_model=CapMessageOut)
def send_suggestion(
    message_id: str,
    intake: IntakeDep,
    principal: PrincipalDep,
    body: CapSendIn | None = None,
) -> CapMessageOut:
    """One click: play a suggestion as shown, or with edited texts or target."""
    edits = body or CapSendIn()

    def edit(plan: Plan) -> Plan:
        target = edits.target.to_spec() if edits.target else None
        return with_edits(plan, edits.messages, target)

    return message_out(intake.send_suggestion(message_id, caller_of(principal), edit))


@router.post("/cap/messages/{message_id}/dismiss", response_model=CapMessageOut)
def dismiss_suggestion(
    message_id: str, intake: IntakeDep, principal: PrincipalDep
) -> CapMessageOut:
    caller = Caller(principal.subject, principal.role_names, "dispatcher")
    return message_out(intake.dismiss(message_id, caller))


def exported(report: AlertReport, runtime: Runtime, alerts: AlertService) -> ExportedAlert:
    a = report.alert
    target = a.target
    points: tuple[tuple[float, float], ...] = ()
    streets: tuple[str, ...] = tuple(target.get("streets", ()))
    lanterns = alerts.get(a.id, with_lanterns=True).lanterns or []
    ids = sorted({d.lantern_id for d in lanterns})
    if ids:
        spec = TargetSpec(lanterns=tuple(ids), allow_empty=True, confirm_large=True)
        preview = runtime.targets.preview(spec, with_features=True)
        features = (preview.features or {}).get("features", [])
        points = tuple(
            (f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][1]) for f in features
        )
        streets = streets or tuple(name for name, _n in preview.streets)
    return ExportedAlert(
        id=a.id,
        created_at=a.created_at,
        updated_at=a.updated_at,
        status=a.status,
        exercise=a.exercise,
        signal=a.signal,
        template=a.template,
        severity=a.severity,
        expires_at=a.expires_at,
        messages=dict(a.messages),
        languages=a.languages,
        target=target,
        streets=streets,
        lantern_points=points,
    )


@router.get(
    "/alerts/{alert_id}/cap",
    response_class=Response,
    responses={200: {"content": {CAP_MEDIA: {}}}},
)
def alert_as_cap(alert_id: str, alerts: AlertsDep, runtime: RuntimeDep) -> Response:
    """The alert as CAP 1.2: one info per spoken language, its area as lat,lon polygons (or
    circles in km), references for updates, cancels and all-clears, Exercise for exercises."""
    report = alerts.get(alert_id)
    s = runtime.settings
    body = to_cap(exported(report, runtime, alerts), s.cap_sender, s.cap_sender_name)
    return Response(body, media_type=CAP_MEDIA)


@router.get(
    "/cap/feed.atom",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def cap_feed(alerts: AlertsDep, runtime: RuntimeDep) -> Response:
    """Active alerts as an Atom feed for aggregators, each entry linking its CAP message."""
    active = [r for r in alerts.recent(500) if r.active and r.alert.status == "active"]
    s = runtime.settings
    items = [exported(r, runtime, alerts) for r in active]
    body = atom_feed(items, s.cap_sender, s.resolved_public_url, runtime.clock())
    return Response(body, media_type="application/atom+xml")
