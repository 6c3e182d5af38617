"""Maps the error hierarchy and request validation onto RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lightctl.api.input_values import printable
from lightctl.errors import (
    ApprovalRequired,
    Conflict,
    Forbidden,
    ImportFailed,
    InvalidRequest,
    LightctlError,
    NotFound,
    PayloadTooLarge,
    PriorityAboveCeiling,
    RateLimited,
    ServiceUnavailable,
    SynthesisFailed,
    TargetChanged,
    Unauthorized,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[LightctlError], int, str]] = [
    (InvalidRequest, 422, "Invalid request"),
    (ImportFailed, 422, "Inventory file cannot be read"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict with the current state"),
    (SynthesisFailed, 503, "Speech synthesis failed"),
    (ServiceUnavailable, 503, "Service unavailable"),
    (Unauthorized, 401, "Not signed in"),
    (PriorityAboveCeiling, 403, "Priority above your ceiling"),
    (Forbidden, 403, "Not allowed for your role"),
    (RateLimited, 429, "Too many requests"),
    (PayloadTooLarge, 413, "Request body too large"),
]


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(_json_safe(body), status_code=status, media_type=PROBLEM_JSON)


def _lightctl_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, LightctlError):  # registered for LightctlError; anything else is a 500
        return _unexpected(request, exc)
    status, title = next(
        ((s, t) for kind, s, t in _STATUS if isinstance(exc, kind)), (400, "Bad request")
    )
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidRequest):
        extra["errors"] = [_json_safe(p.as_dict()) for p in exc.problems]
    if isinstance(exc, ImportFailed) and exc.rows:
        extra["rows"] = exc.rows
    if isinstance(exc, Conflict):
        extra["state"] = exc.state
    if isinstance(exc, ApprovalRequired):
        extra["changed"] = list(exc.changed)
    if isinstance(exc, TargetChanged):
        extra.update(exc.fields())
    if isinstance(exc, SynthesisFailed):
        extra["lang"] = exc.lang
    if isinstance(exc, Forbidden):
        extra["roles"] = list(exc.roles) or None
    if isinstance(exc, PriorityAboveCeiling):
        extra.update(priority=exc.priority, ceiling=exc.ceiling)
    response = problem(status, title, exc.message, exc.code, **extra)
    if isinstance(exc, Unauthorized):
        challenge = 'Bearer realm="lightctl"'
        if exc.error:
            challenge += f', error="{exc.error}"'
        response.headers["WWW-Authenticate"] = challenge
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return response


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for it; anything else is a 500
        return _unexpected(request, exc)
    errors = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p != "body"]
        item: dict[str, Any] = {"loc": loc, "msg": err.get("msg", "invalid")}
        if err.get("type") == "json_invalid":  # loc is then a character offset in the body
            item = {
                "loc": ["body"],
                "msg": f"malformed JSON at character {loc[0] if loc else '?'}: "
                f"{err.get('ctx', {}).get('error', 'cannot parse')}",
            }
        if err.get("type") != "missing" and "input" in err and _small(err["input"]):
            item["value"] = _json_safe(err["input"])
        errors.append(item)
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors)
    return problem(422, "Invalid request", detail, "invalid_request", errors=errors)


def _json_safe(value: Any) -> Any:
    """NaN and infinities (Python's JSON parser accepts them) as text, lone surrogates escaped:
    JSON cannot carry them, and an answer that cannot be encoded would be a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _small(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 200


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # registered for it; anything else is a 500
        return _unexpected(request, exc)
    return problem(exc.status_code, str(exc.detail), str(exc.detail), f"http_{exc.status_code}")


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # Starlette calls this outside the ``except`` block, so the traceback is passed explicitly.
    log.error("unexpected error", exc_info=exc)
    return problem(500, "Internal error", "an unexpected error occurred; it was logged", "internal")


def install(app: FastAPI) -> None:
    app.add_exception_handler(LightctlError, _lightctl_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
