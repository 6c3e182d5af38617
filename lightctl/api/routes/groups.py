"""Named groups of lanterns: a static list or a stored Target, usable in every Target."""

from __future__ import annotations

from fastapi import APIRouter, Response

from lightctl.api.deps import GroupsDep
from lightctl.api.schemas import GroupCreate, GroupIn, GroupOut
from lightctl.domain.targets import GroupDefinition, target_to_json
from lightctl.services.groups import GroupReport

router = APIRouter(prefix="/groups", tags=["groups"])


def _definition(name: str, body: GroupIn) -> GroupDefinition:
    target = body.target.to_spec() if body.target is not None else None
    return GroupDefinition(name, tuple(body.lanterns), target, body.description)


def _out(report: GroupReport, with_ids: bool) -> GroupOut:
    g = report.group
    ids = report.lantern_ids
    return GroupOut(
        name=g.name,
        description=g.description,
        kind="static" if g.target is None else "target",
        lanterns=list(g.lanterns) if g.target is None else None,
        target=target_to_json(g.target) if g.target is not None else None,
        groups=sorted(g.target.group_names()) if g.target is not None else [],
        lantern_count=None if ids is None else len(ids),
        lantern_ids=list(ids) if with_ids and ids is not None else None,
        problem=report.problem,
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


@router.get("", response_model=list[GroupOut])
def list_groups(groups: GroupsDep) -> list[GroupOut]:
    """Every group with the number of lanterns it reaches with today's inventory."""
    return [_out(r, with_ids=False) for r in groups.list()]


@router.post("", status_code=201, response_model=GroupOut)
def create_group(body: GroupCreate, groups: GroupsDep) -> GroupOut:
    """Create a group (409 if the name is taken; PUT replaces). A cycle of groups is refused."""
    return _out(groups.create(_definition(body.name, body)), with_ids=True)


@router.get("/{name}", response_model=GroupOut)
def get_group(name: str, groups: GroupsDep) -> GroupOut:
    return _out(groups.get(name), with_ids=True)


@router.put("/{name}", response_model=GroupOut)
def replace_group(name: str, body: GroupIn, groups: GroupsDep) -> GroupOut:
    """Create or replace a group; alerts already sent keep the lanterns they were sent to."""
    return _out(groups.replace(_definition(name, body)), with_ids=True)


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_group(name: str, groups: GroupsDep) -> Response:
    """Delete a group (409 while another group's target names it)."""
    groups.delete(name)
    return Response(status_code=204)
