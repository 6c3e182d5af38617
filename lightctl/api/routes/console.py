"""What the console's map needs: street geometry for the basemap and the fleet's live state."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from fastapi import APIRouter, Request, Response

from lightctl.api.deps import RuntimeDep
from lightctl.api.schemas import LanternLiveOut, ProjectionLiveOut, StreetGeometryOut
from lightctl.protocol import ChannelState, LanternState
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store

router = APIRouter(tags=["console"])

GEOJSON = "application/geo+json"
# 6 decimals of a degree are ~0.1 m here: finer than any street drawing needs, and ~15% smaller.
_DECIMALS = 6


class StreetGeometryCache:
    """The basemap as serialised GeoJSON, rebuilt only when the stored street segments change.

    3,400 demo segments take ~60 ms to read, parse and serialise; the fingerprint query that
    decides whether to do it again is one aggregate scan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._body = b""
        self._etag = ""

    def get(self, db: Database) -> tuple[bytes, str]:
        """(body, ETag) of the current street geometry."""
        with db.session() as session:
            key = lantern_store.street_segments_fingerprint(session)
        with self._lock:
            if key != self._key:
                with db.session() as session:
                    segments = lantern_store.all_street_segments(session)
                self._body = _feature_collection(segments)
                self._etag = f'"{hashlib.sha256(self._body).hexdigest()[:32]}"'
                self._key = key
            return self._body, self._etag


def _feature_collection(segments: list[tuple[str, str | None, str, list[list[float]]]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[round(p[0], _DECIMALS), round(p[1], _DECIMALS)] for p in coords],
            },
            "properties": {"id": sid, "name": name, "class": cls},
        }
        for sid, name, cls, coords in segments
    ]
    doc = {"type": "FeatureCollection", "features": features}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _street_cache(request: Request) -> StreetGeometryCache:
    cache: StreetGeometryCache | None = getattr(request.app.state, "street_geometry", None)
    if cache is None:
        cache = StreetGeometryCache()
        request.app.state.street_geometry = cache
    return cache


@router.get(
    "/streets/geometry",
    response_model=StreetGeometryOut,
    responses={
        200: {"content": {GEOJSON: {}}},
        304: {"description": "unchanged since the ETag sent as If-None-Match"},
    },
)
def street_geometry(request: Request, runtime: RuntimeDep) -> Response:
    """Every stored street segment as a GeoJSON LineString (lon/lat) with its name and class."""
    body, etag = _street_cache(request).get(runtime.db)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}  # revalidate: a re-import may change it
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=GEOJSON, headers=headers)


@router.get("/lanterns/live", response_model=list[LanternLiveOut])
def live_lanterns(runtime: RuntimeDep) -> list[LanternLiveOut]:
    """Every lantern's position, availability and what its speaker, light and projector do now."""
    with runtime.db.session() as session:
        rows = lantern_store.live_rows(session)
    reported = runtime.consumer.reported if runtime.consumer else {}
    return [_live(lid, lon, lat, online, reported.get(lid)) for lid, lon, lat, online in rows]


def _live(
    lantern_id: str, lon: float, lat: float, online: bool | None, state: LanternState | None
) -> LanternLiveOut:
    channels = state.channels if state is not None else {}
    sound = _value(channels.get("audio"))
    light = _value(channels.get("light"))
    shown = _value(channels.get("projection"))
    color = light.get("color") if light.get("on") else None
    projection = None
    if isinstance(shown.get("pictogram"), str):
        projection = ProjectionLiveOut(
            pictogram=shown["pictogram"],
            heading_deg=shown.get("heading_deg"),
            color=shown.get("color"),
        )
    return LanternLiveOut(
        id=lantern_id,
        lon=lon,
        lat=lat,
        online=online,
        # A program holds the speaker from the command's arrival until playback ends or expires.
        audio_playing=bool(sound.get("program")),
        light_color=color if isinstance(color, str) else None,
        projection=projection,
    )


def _value(channel: ChannelState | None) -> dict[str, Any]:
    return channel.value if channel is not None and channel.value is not None else {}
