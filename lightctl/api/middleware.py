"""One ASGI middleware for what every response shares: a body size and nesting limit, security
headers, and an audit record of every state-changing request (who, what, the outcome).

The audit trail must not be a tool against itself (issue 13): a request without credentials is
rate-limited per real address before anything is recorded; bodies are kept only for requests
that authenticated, cut in size and depth, with secret-looking fields redacted by name; a body
nested deeper than any real request is refused before any parser (ours, pydantic's) walks it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightctl.api.addresses import AddressResolver
from lightctl.api.permissions import own_body_limit_paths, route_template
from lightctl.api.problems import PROBLEM_JSON
from lightctl.api.ratelimit import RateLimiter
from lightctl.domain.roles import ANONYMOUS
from lightctl.errors import PayloadTooLarge, RateLimited
from lightctl.services.audit import AuditTrail, scrub

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What of a request and its answer the audit record keeps: enough for texts and targets (an area
# polygon of a few thousand points), not an inventory upload.
AUDIT_BODY_BYTES = 64 * 1024
# No request of the API nests deeper than ~10 levels (a Target with an area and an exclude);
# Python's parsers recurse per level and give up near 1,000, so 64 is far from both.
MAX_JSON_DEPTH = 64

# No inline script anywhere (the console loads its scripts as files); inline *styles* stay
# allowed because the map library positions its tiles and markers with style attributes.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
    "font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
# Swagger UI and ReDoc load their scripts from a CDN with an inline bootstrap script.
_NO_CSP = re.compile(r"^/(docs|redoc)(/|$)")


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        audit: AuditTrail,
        addresses: AddressResolver | None = None,
        anonymous: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.audit = audit
        self.addresses = addresses or AddressResolver(())
        self.anonymous = anonymous
        self._own_limit = own_body_limit_paths()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        limited = not any(p.match(path) for p in self._own_limit)
        if limited and _content_length(scope) > self.max_body_bytes:
            await _too_large(send, self.max_body_bytes)
            return
        audited = method not in SAFE_METHODS and path.startswith("/api/")
        address = self.addresses.resolve(scope)
        if audited and self.anonymous is not None and not _has_bearer(scope):
            try:  # before the audit trail sees it: noise from one place is not recorded
                if self.anonymous.store is None:
                    self.anonymous.take(f"address:{address}")
                else:  # a row in the database: not on the event loop
                    await asyncio.to_thread(self.anonymous.take, f"address:{address}")
            except RateLimited as exc:
                await _refuse(send, 429, "Too many requests", str(exc), "rate_limited", exc)
                return
        if limited and method not in SAFE_METHODS:
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                await _too_large(send, self.max_body_bytes)
                return
            if _json_like(scope) and _nests_deeper(body, MAX_JSON_DEPTH):
                msg = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
                await _refuse(
                    send,
                    422,
                    "Invalid request",
                    f"body: {msg}",
                    "invalid_request",
                    errors=[{"loc": ["body"], "msg": msg}],
                )
                return
            receive = _replay(body, receive)
        seen = {"in": 0}
        request_body = bytearray()
        response_body = bytearray()
        status = {"code": 0}

        async def receive_limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen["in"] += len(chunk)
                if limited and seen["in"] > self.max_body_bytes:
                    # An HTTPException passes FastAPI's body reader unchanged (others become 400).
                    raise HTTPException(413, str(PayloadTooLarge(self.max_body_bytes)))
                if audited and len(request_body) < AUDIT_BODY_BYTES:
                    request_body.extend(chunk[: AUDIT_BODY_BYTES - len(request_body)])
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not _NO_CSP.match(path):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            elif audited and message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                response_body.extend(chunk[: max(0, AUDIT_BODY_BYTES - len(response_body))])
            await send(message)

        try:
            await self.app(
                scope, receive_limited if (limited or audited) else receive, send_with_headers
            )
        finally:
            if audited:
                await self._record(scope, status["code"], bytes(request_body), bytes(response_body))

    async def _record(self, scope: Scope, status: int, body: bytes, answer: bytes) -> None:
        principal = scope.get("state", {}).get("principal")
        signed_in = principal is not None and principal is not ANONYMOUS
        if not signed_in and status == 429:
            return  # a refused flood: its first attempts are on record, the rest is noise
        template = route_template(scope)
        detail: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"][:500],
            "route": template,
            "params": scrub(scope.get("path_params") or {}),
            "query": scope.get("query_string", b"").decode("latin-1")[:1000],
            "status": status,
            "client": self.addresses.resolve(scope),
        }
        # Only a caller who authenticated gets their body kept: anyone else could fill the
        # trail (and the disk) with whatever they like.
        detail["body"] = _redacted(body) if signed_in else None
        result = _result(answer)
        if result:
            detail["result"] = result
        actor = principal.subject if principal is not None else "anonymous"
        roles = principal.role_names if principal is not None else ()
        action = f"{scope['method']} {template or scope['path']}"
        try:
            await asyncio.to_thread(
                self.audit.append, action, actor, roles, _subject(detail, result), detail
            )
        except Exception:  # the response is out; a lost record must be loud in the log
            log.exception("could not write the audit record for %s %s", scope["method"], action)


def _content_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "/problems/payload_too_large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"the request body is larger than {limit} bytes",
            "code": "payload_too_large",
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send(
        {"type": "http.response.start", "status": 413, "headers": headers + SECURITY_HEADERS}
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(
    send: Send,
    status: int,
    title: str,
    detail: str,
    code: str,
    limited: RateLimited | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> None:
    """A problem+json answer sent before the application saw the request."""
    problem: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        problem["errors"] = errors
    body = json.dumps(problem).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if limited is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(limited.retry_after_s))).encode()))
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS}
    )
    await send({"type": "http.response.body", "body": body})


# Bodies that are not JSON (CAP XML, uploads, forms) are parsed by their own routes.
_NOT_JSON = (b"xml", b"multipart/", b"x-www-form-urlencoded", b"octet-stream")


def _json_like(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return not any(kind in value.lower() for kind in _NOT_JSON)
    return True


def _has_bearer(scope: Scope) -> bool:
    """The request presents a bearer credential (checked, and limited, by api/auth.py)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = value.partition(b" ")
            return scheme.lower() == b"bearer" and bool(secret.strip())
    return False


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body (None past ``limit`` bytes): small JSON bodies are read before the
    application so their nesting can be checked once, here."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)  # the client went away; the application will notice
        body.extend(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` once, then passes on (disconnects)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


def _nests_deeper(body: bytes, limit: int) -> bool:
    """True when the JSON text opens more than ``limit`` arrays or objects inside each other;
    one pass over the bytes, strings skipped, no parsing."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _redacted(body: bytes) -> Any:
    if not body:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return {"bytes": len(body), "note": "not JSON (or cut at the audit limit)"}
    return scrub(value)


def _result(answer: bytes) -> dict[str, Any] | None:
    """What the answer said, briefly: the id and status it created or changed, or the error."""
    try:
        value = json.loads(answer)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    keep = ("id", "status", "lantern_count", "code", "detail", "name", "expires_at")
    return scrub({k: value[k] for k in keep if k in value}) or None


def _subject(detail: dict[str, Any], result: dict[str, Any] | None) -> str | None:
    if result and isinstance(result.get("id"), str):
        return str(result["id"])
    params = detail.get("params") or {}
    first = next(iter(params.values()), None)
    return str(first) if first is not None else None
