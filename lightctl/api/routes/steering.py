"""Steering of visitor flows (slot 10) and emergency guidance (slot 3): create, list, release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from lightctl.api.auth import PrincipalDep, issuing_role, require_within_groups
from lightctl.api.deps import MAX_OFFSET, SteeringDep, TargetsDep
from lightctl.api.steering_schemas import (
    SteeringChannelOut,
    SteeringCreate,
    SteeringLanternOut,
    SteeringOut,
)
from lightctl.domain.steering import DEFAULT_CEILING, Guidance, SteeringSpec, purpose
from lightctl.services.steering.service import SteeringReport

router = APIRouter(prefix="/steering", tags=["steering"])


def caller_ceiling(request: Request) -> int:
    """The highest slot (smallest number) the caller may write.

    The authorisation layer (issue 7) leaves the caller on ``request.state.principal`` with its
    role's ``ceiling``; without one, steering stays at slot 4 and below.
    """
    principal = getattr(request.state, "principal", None)
    ceiling = getattr(principal, "ceiling", None)
    return ceiling if isinstance(ceiling, int) else DEFAULT_CEILING


CeilingDep = Annotated[int, Depends(caller_ceiling)]


def to_out(report: SteeringReport) -> SteeringOut:
    row = report.row
    settings = row.settings
    unsupported = report.unsupported
    lanterns = None
    if report.lanterns is not None:
        lanterns = [
            SteeringLanternOut(
                lantern=d.lantern_id,
                channel=d.channel,
                op=d.op,
                command_id=d.command_id,
                state=d.state,
                reason=d.reason,
            )
            for d in report.lanterns
        ]
        lanterns += [
            SteeringLanternOut(
                lantern=lid,
                channel=channel,
                op="set",
                command_id=None,
                state="skipped",
                reason="unsupported",
            )
            for channel, ids in unsupported.items()
            for lid in ids
        ]
    return SteeringOut(
        id=row.id,
        status=report.status,
        purpose=purpose(row.priority),
        label=row.label,
        priority=row.priority,
        created_at=row.created_at,
        ends_at=row.ends_at,
        released_at=row.released_at,
        owner=row.owner,
        target=row.target,
        guidance=row.guidance,
        light=settings.get("light"),
        projection=settings.get("projection"),
        path=settings.get("path"),
        lantern_count=row.lantern_count,
        command_count=report.command_count,
        channels={
            channel: SteeringChannelOut(
                lanterns=c.lanterns,
                delivered=c.delivered,
                unsupported=c.unsupported,
                counts=c.counts,
                release_counts=c.release_counts,
            )
            for channel, c in report.channels.items()
        },
        lanterns=lanterns,
    )


@router.post("", status_code=201, response_model=SteeringOut)
def create_steering(
    body: SteeringCreate,
    steering: SteeringDep,
    ceiling: CeilingDep,
    principal: PrincipalDep,
    targets: TargetsDep,
) -> SteeringOut:
    """Light, projection and path settings on a target until an end time, at a priority no
    higher than the caller's ceiling; with ``guidance`` along ``target.route`` each lantern's
    arrow follows the street and chases run toward the destination."""
    guidance = None
    if body.guidance is not None:
        g = body.guidance
        guidance = Guidance(
            direction=g.direction,
            destination=(g.destination[0], g.destination[1]) if g.destination else None,
            chase_speed_mps=g.chase_speed_mps,
        )
    spec = SteeringSpec(
        target=body.target.to_spec(),
        light=body.light.model_dump(exclude_none=True) if body.light else None,
        projection=body.projection.model_dump(exclude_none=True) if body.projection else None,
        path=body.path.model_dump(exclude_none=True) if body.path else None,
        guidance=guidance,
        priority=body.priority,
        ends_at=body.ends_at,
        ends_in_s=body.ends_in_s,
        label=body.label,
    )
    role = issuing_role(principal, body.priority)
    if principal.groups:  # a city app limited to its groups steers only inside them
        reached = targets.preview(spec.target, with_features=False, loc=("target",))
        require_within_groups(principal, targets, reached.lantern_ids)
    owner = principal.owner
    return to_out(steering.create(spec, max_priority=ceiling, role=role, owner=owner))


@router.get("", response_model=list[SteeringOut])
def list_steering(
    steering: SteeringDep,
    principal: PrincipalDep,
    active: Annotated[bool, Query(description="only those still holding their slots")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[SteeringOut]:
    """Newest first: every steering for admins, dispatchers and operators; a city app's own
    (those its user or token name made) for everyone else."""
    scope = principal.steering_scope
    return [to_out(r) for r in steering.recent(limit, offset, active, scope)]


@router.get("/{steering_id}", response_model=SteeringOut)
def get_steering(
    steering_id: str,
    steering: SteeringDep,
    principal: PrincipalDep,
    lanterns: Annotated[bool, Query(description="include one row per lantern and command")] = False,
) -> SteeringOut:
    """One steering (403 for a city app asking for another's)."""
    scope = principal.steering_scope
    return to_out(steering.get(steering_id, with_lanterns=lanterns, scope=scope))


@router.delete("/{steering_id}", response_model=SteeringOut)
def release_steering(
    steering_id: str, steering: SteeringDep, principal: PrincipalDep, targets: TargetsDep
) -> SteeringOut:
    """Release exactly this steering's slots (409 once released or ended); only a caller whose
    ceiling reaches its priority may (a city app never ends a dispatcher's slot-3 guidance),
    and a city app only its own steering (403 for another's)."""
    scope = principal.steering_scope
    report = steering.get(steering_id, with_lanterns=bool(principal.groups))
    role = issuing_role(principal, report.row.priority)  # the ceiling first: it says the most
    steering.get(steering_id, scope=scope)
    if report.lanterns is not None:  # a city app limited to its groups ends only its own
        reached = {d.lantern_id for d in report.lanterns}
        require_within_groups(principal, targets, reached)
    return to_out(steering.release(steering_id, role=role, scope=scope))
