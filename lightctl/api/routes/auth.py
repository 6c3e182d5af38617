"""Signing in: a username and password buy a session token for one shift."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from lightctl.api.auth import GuardDep, PrincipalDep, client_address
from lightctl.api.auth_schemas import LoginIn, LoginOut, MeOut
from lightctl.api.capabilities import capabilities_of
from lightctl.domain.records import Token
from lightctl.domain.roles import Principal, ceiling_of, parse_roles
from lightctl.errors import Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, guard: GuardDep) -> LoginOut:
    """A session token (12 h at most, 30 min without use by default); 401 for a wrong name
    or password, 429 when guessing."""
    address = client_address(request)
    # Wrong passwords back off per (account, address) and per address, never per account alone:
    # someone guessing the dispatcher's password from one place does not lock the dispatcher
    # out everywhere else (issue 13).
    pair = f"{body.username}@{address}"

    def attempt() -> tuple[Token, str]:  # in a thread: on PostgreSQL the counts are rows
        guard.login_failures.check(pair)
        guard.login_address_failures.check(address)
        guard.login_limiter.take(f"ip:{address}")
        try:
            issued = guard.auth.login(body.username, body.password)
        except Unauthorized:
            guard.login_failures.failed(pair)
            guard.login_address_failures.failed(address)
            raise
        guard.login_failures.succeeded(pair)
        return issued

    row, secret = await asyncio.to_thread(attempt)
    roles = parse_roles(row.roles)
    request.state.principal = Principal(body.username, "session", roles, row.id)
    if row.expires_at is None:  # AuthService.login always sets one; never hand out an endless one
        raise Unauthorized("the session token has no expiry", "invalid_token")
    return LoginOut(
        token=secret,
        expires_at=row.expires_at,
        username=body.username,
        roles=sorted(roles),
        ceiling=ceiling_of(roles),
    )


@router.post("/logout", status_code=204, response_class=Response)
async def logout(principal: PrincipalDep, guard: GuardDep) -> Response:
    """End this session (or revoke this token) now."""
    if principal.token_id is not None:
        await asyncio.to_thread(guard.auth.logout, principal.token_id)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(principal: PrincipalDep) -> MeOut:
    """Who the token belongs to, its roles and its priority ceiling."""
    return MeOut(
        subject=principal.subject,
        kind=principal.kind,
        roles=list(principal.role_names),
        ceiling=principal.ceiling,
        groups=sorted(principal.groups),
        user=principal.user,
        capabilities=capabilities_of(principal),
    )
