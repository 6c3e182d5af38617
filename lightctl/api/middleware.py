"""One ASGI middleware for what every response shares: a body size limit, security headers, and
an audit record of every state-changing request (who, what, the outcome)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightctl.api.permissions import own_body_limit_paths, route_template
from lightctl.api.problems import PROBLEM_JSON
from lightctl.errors import PayloadTooLarge
from lightctl.services.audit import AuditTrail

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What of a request and its answer the audit record keeps: enough for texts and targets (an area
# polygon of a few thousand points), not an inventory upload.
AUDIT_BODY_BYTES = 64 * 1024
# Fields never written into the audit trail.
SECRET_KEYS = frozenset({"password", "token", "secret", "access_token"})

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
    def __init__(self, app: ASGIApp, max_body_bytes: int, audit: AuditTrail) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.audit = audit
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
        template = route_template(scope)
        detail: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "route": template,
            "params": scope.get("path_params") or {},
            "query": scope.get("query_string", b"").decode("latin-1")[:1000],
            "status": status,
            "client": (scope.get("client") or ("?", 0))[0],
            "body": _redacted(body),
        }
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


def _redacted(body: bytes) -> Any:
    if not body:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return {"bytes": len(body), "note": "not JSON (or cut at the audit limit)"}
    return _strip(value)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_KEYS else _strip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _result(answer: bytes) -> dict[str, Any] | None:
    """What the answer said, briefly: the id and status it created or changed, or the error."""
    try:
        value = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    keep = ("id", "status", "lantern_count", "code", "detail", "name", "expires_at")
    return {k: _strip(value[k]) for k in keep if k in value and k != "token"} or None


def _subject(detail: dict[str, Any], result: dict[str, Any] | None) -> str | None:
    if result and isinstance(result.get("id"), str):
        return str(result["id"])
    params = detail.get("params") or {}
    first = next(iter(params.values()), None)
    return str(first) if first is not None else None
