"""Health and audio clips (both open to lanterns without credentials)."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lightctl.api.deps import RuntimeDep
from lightctl.api.schemas import HealthOut
from lightctl.errors import InvalidRequest, NotFound
from lightctl.protocol.asyncapi import asyncapi_document

router = APIRouter()

_CLIP_NAME = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>wav|mp3)$")
_MEDIA = {"wav": "audio/wav", "mp3": "audio/mpeg"}


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
async def audio_clip(name: str, runtime: RuntimeDep) -> Response:
    """A content-addressed clip: the name is its SHA-256, so it can be cached forever."""
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
    return Response(
        data,
        media_type=_MEDIA[ext],
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
