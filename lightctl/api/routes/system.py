"""Health and audio clips (both open to lanterns without credentials)."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import FileResponse

from lightctl.api.deps import RuntimeDep
from lightctl.api.schemas import HealthOut
from lightctl.errors import InvalidRequest, NotFound

router = APIRouter()

_CLIP_NAME = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>wav|mp3)$")
_MEDIA = {"wav": "audio/wav", "mp3": "audio/mpeg"}


@router.get("/healthz", response_model=HealthOut, tags=["system"])
def healthz(runtime: RuntimeDep) -> HealthOut:
    """`degraded` while the broker or database is unreachable; the service keeps retrying."""
    return HealthOut.model_validate(runtime.health())


@router.get("/audio/{name}", tags=["audio"], response_class=FileResponse)
def audio_clip(name: str, runtime: RuntimeDep) -> FileResponse:
    """A content-addressed clip: the name is its SHA-256, so it can be cached forever."""
    match = _CLIP_NAME.match(name)
    if match is None:
        raise InvalidRequest.at(("path", "name"), "expected <sha256>.wav or <sha256>.mp3", name)
    sha, ext = match["sha"], match["ext"]
    if not runtime.clips.exists(sha, ext):
        raise NotFound("clip", name)
    return FileResponse(
        runtime.clips.path_for(sha, ext),
        media_type=_MEDIA[ext],
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
