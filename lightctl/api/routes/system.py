"""Health and audio clips (both open to lanterns without credentials)."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lightctl.api.deps import RuntimeDep
from lightctl.api.problems import problem
from lightctl.api.ranges import Unsatisfiable, byte_range, etag_matches
from lightctl.api.schemas import HealthOut
from lightctl.errors import InvalidRequest, NotFound
from lightctl.protocol.asyncapi import asyncapi_document

router = APIRouter()

_CLIP_NAME = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>wav|mp3)$")
_MEDIA = {"wav": "audio/wav", "mp3": "audio/mpeg"}
# A year, and never revalidated while fresh: the name is the content's hash (RFC 8246).
CLIP_CACHE_CONTROL = "public, max-age=31536000, immutable"


@router.get("/asyncapi.json", response_model=dict[str, Any], tags=["system"])
def asyncapi(runtime: RuntimeDep) -> dict[str, Any]:
    """The MQTT protocol (v1 and v2: topics, directions, payload schemas) as AsyncAPI 2.6."""
    return asyncapi_document(runtime.settings.mqtt_root)


@router.get("/healthz", response_model=HealthOut, tags=["system"])
def healthz(runtime: RuntimeDep, request: Request) -> HealthOut:
    """`degraded` while the broker or database is unreachable, or a CAP feed keeps failing;
    the service keeps retrying."""
    from lightctl.api.routes.cap import feed_health

    health: dict[str, Any] = dict(runtime.health())
    health["feeds"] = feed_health(request.app)
    if any(line.startswith("failing") for line in health["feeds"].values()):
        health["status"] = "degraded"
    return HealthOut.model_validate(health)


# Clips are immutable and small (~100 KB); a city-wide warning has every lantern fetch the same
# few, so they are served from memory: no thread hop and no file open per request.
_CLIP_CACHE_ITEMS = 512
_clip_cache: OrderedDict[str, bytes] = OrderedDict()


@router.get(
    "/audio/{name}",
    tags=["audio"],
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}, "audio/mpeg": {}}}},
)
async def audio_clip(name: str, runtime: RuntimeDep, request: Request) -> Response:
    """A content-addressed clip: the name is its SHA-256, so any cache may keep it forever.

    Strong ``ETag`` (the digest), ``Cache-Control: public, max-age=31536000, immutable``,
    ``If-None-Match`` → 304, a single ``Range`` → 206 (``If-Range`` honoured), a range past the
    end → 416 problem+json naming ``header.Range``."""
    match = _CLIP_NAME.match(name)
    if match is None:
        raise InvalidRequest.at(("path", "name"), "expected <sha256>.wav or <sha256>.mp3", name)
    sha, ext = match["sha"], match["ext"]
    data = _clip_cache.get(name)
    if data is None:
        if not runtime.clips.exists(sha, ext):
            raise NotFound("clip", name)
        data = await asyncio.to_thread(runtime.clips.read, sha, ext)
        _clip_cache[name] = data
        while len(_clip_cache) > _CLIP_CACHE_ITEMS:
            _clip_cache.popitem(last=False)
    else:
        _clip_cache.move_to_end(name)
    etag = f'"{sha}"'
    headers = {"Cache-Control": CLIP_CACHE_CONTROL, "ETag": etag, "Accept-Ranges": "bytes"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        wanted = byte_range(
            request.headers.get("range"), len(data), request.headers.get("if-range"), etag
        )
    except Unsatisfiable:
        refused = problem(
            416,
            "Range not satisfiable",
            f"header.Range: the clip has {len(data)} bytes",
            "range_not_satisfiable",
            errors=[{"loc": ["header", "Range"], "msg": f"the clip has {len(data)} bytes"}],
        )
        refused.headers["Content-Range"] = f"bytes */{len(data)}"
        return refused
    if wanted is None:
        return Response(data, media_type=_MEDIA[ext], headers=headers)
    headers["Content-Range"] = wanted.content_range
    part = data[wanted.first : wanted.last + 1]
    return Response(part, status_code=206, media_type=_MEDIA[ext], headers=headers)
