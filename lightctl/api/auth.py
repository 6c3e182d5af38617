"""The one authorisation dependency: who is calling, may their role use this route, and within
which priority ceiling. ``create_app`` adds it to the whole application, so every route (also
those added later) passes through it without its module knowing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lightctl.api.guard import Guard
from lightctl.api.permissions import Rule, route_template, rule_for
from lightctl.api.ratelimit import RateLimiter
from lightctl.domain.roles import ANONYMOUS, Principal, issuer_role
from lightctl.errors import Forbidden, PriorityAboveCeiling, Unauthorized
from lightctl.security.secrets import token_hash
from lightctl.services.targets import TargetResolver

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `lightctl tokens create`, or from POST /api/v1/auth/login.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


def client_address(request: Request) -> str:
    """The real peer, or the client a trusted proxy names (api/addresses.py)."""
    return get_guard(request).addresses.resolve(request.scope)


async def authorize(request: Request, credentials: BearerDep) -> Principal:
    """Resolve the caller and check the permission table; the result is cached per request."""
    template = route_template(request.scope) or request.url.path
    rule = rule_for(request.method, template)
    if rule.roles is None:
        request.state.principal = ANONYMOUS
        return ANONYMOUS
    guard = get_guard(request)
    principal = await _authenticate(guard, request, credentials)
    request.state.principal = principal
    await spend(guard.request_limiter, principal.token_id or principal.subject)
    if not principal.roles & rule.roles:
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        raise Forbidden(
            f"{request.method} {template} is not allowed for role "
            f"{', '.join(principal.role_names)} (allowed: {allowed})",
            principal.role_names,
        )
    if rule.priority or rule.scoped_target:
        _check_body(rule, principal, await _json_body(request))
    return principal


async def _authenticate(
    guard: Guard, request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("sign in, or send 'Authorization: Bearer <token>'")
    secret = credentials.credentials
    # Limits count failures only, per presented credential and per address, and are consulted
    # after the credential failed: nobody's bad tokens delay or refuse a good one.
    credential = f"token:{token_hash(secret)}"
    address = f"address:{client_address(request)}"

    def known() -> Principal:  # in a thread: on PostgreSQL the failure counts are rows too
        guard.token_failures.check(credential)  # the same bad token again: refused at once
        return guard.auth.authenticate(secret)

    def failed() -> None:
        guard.token_failures.failed(credential)
        guard.address_failures.failed(address)
        guard.address_failures.check(address)  # a scan from here: 429 instead of 401

    try:
        return await asyncio.to_thread(known)
    except Unauthorized:
        await asyncio.to_thread(failed)
        raise


async def spend(limiter: RateLimiter, key: str) -> None:
    """Take one request from ``key``'s bucket; a shared bucket is a database row, so its
    statement runs in a thread rather than on the event loop."""
    if limiter.store is None:
        limiter.take(key)
    else:
        await asyncio.to_thread(limiter.take, key)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (ValueError, RecursionError):
        return None  # the route's own validation names what is wrong


def _check_body(rule: Rule, principal: Principal, body: Any) -> None:
    if not isinstance(body, dict):
        return
    priority = body.get("priority")
    # Out-of-range values (0, 17) are a validation error (422), not a ceiling question.
    if (
        rule.priority
        and isinstance(priority, int)
        and not isinstance(priority, bool)
        and 1 <= priority <= 16
    ):
        require_priority(principal, priority)
    if rule.scoped_target and principal.groups:
        target = body.get("target")
        if isinstance(target, dict):
            require_groups(principal, target)


def require_priority(principal: Principal, priority: int) -> None:
    """403 naming the ceiling when ``priority`` is above what the caller's roles may use."""
    if not principal.may_use(priority):
        raise PriorityAboveCeiling(priority, principal.ceiling, principal.role_names)


def issuing_role(principal: Principal, priority: int) -> str:
    """The role the caller's commands at ``priority`` are signed in (403 naming the ceiling when
    no role of theirs may use it): what the lantern checks the priority against once more."""
    role = issuer_role(principal.roles, priority)
    if role is None or not principal.may_use(priority):  # both views of the ceiling must agree
        raise PriorityAboveCeiling(priority, principal.ceiling, principal.role_names)
    return role


def require_groups(principal: Principal, target: dict[str, Any]) -> None:
    """A caller limited to groups may name only its own groups (checked before anything is
    resolved); where its target reaches is ``require_within_groups``' question."""
    groups = target.get("groups") or []
    foreign = sorted({g for g in groups if isinstance(g, str)} - principal.groups)
    if foreign:
        mine = ", ".join(sorted(principal.groups))
        raise Forbidden(
            f"this token may target only its own groups ({mine}); refused: {', '.join(foreign)}",
            principal.role_names,
        )


def require_within_groups(
    principal: Principal, targets: TargetResolver, lantern_ids: Iterable[str]
) -> None:
    """403 when a caller limited to groups would reach a lantern outside them: a city app steers
    any street, area or route inside its own groups (an area is a group defined by a polygon)."""
    if not principal.groups:
        return
    outside = targets.outside_groups(lantern_ids, principal.groups)
    if outside:
        mine = ", ".join(sorted(principal.groups))
        raise Forbidden(
            f"this token may reach only lanterns of its groups ({mine}); {len(outside)} "
            f"lanterns of the target lie outside them, e.g. {', '.join(outside[:5])}",
            principal.role_names,
        )


PrincipalDep = Annotated[Principal, Depends(authorize)]
GuardDep = Annotated[Guard, Depends(get_guard)]


_PROBLEM = {
    "application/problem+json": {
        "schema": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
            },
        }
    }
}
_REFUSALS = {
    "401": "no, unknown, expired or revoked token (see WWW-Authenticate)",
    "403": "the role may not do this, or the priority is above its ceiling",
    "413": "request body too large",
    "429": "too many requests; retry after Retry-After seconds",
}


def document_security(app: FastAPI) -> None:
    """OpenAPI as the permission table has it: public operations carry no security, the others
    document their refusals (so clients and schema fuzzers know every answer they may get)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        for path, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                # Every error is problem+json (api/problems.py), validation errors included;
                # "default" covers the rest (404, 409, 503) without listing each per route.
                if "422" in op["responses"]:
                    op["responses"]["422"]["content"] = _PROBLEM
                op["responses"].setdefault(
                    "default", {"description": "an error, as problem+json", "content": _PROBLEM}
                )
                if rule_for(method.upper(), path).roles is None:
                    op.pop("security", None)
                    if method.upper() not in ("GET", "HEAD"):  # sign-ins: limited per address
                        op["responses"].setdefault(
                            "429", {"description": _REFUSALS["429"], "content": _PROBLEM}
                        )
                    continue
                for code, text in _REFUSALS.items():
                    op["responses"].setdefault(code, {"description": text, "content": _PROBLEM})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
