"""What the console's map needs: street geometry for the basemap and the fleet's live state."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response

from lightctl.api.deps import AlertsDep, RuntimeDep
from lightctl.api.live_feed import COORD_DECIMALS, LiveFeed, LiveRow
from lightctl.api.schemas import (
    AlertLanternStatesOut,
    ConsoleSettingsOut,
    LiveFeedOut,
    StreetGeometryOut,
)
from lightctl.protocol import LanternState
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store

router = APIRouter(tags=["console"])

GEOJSON = "application/geo+json"
# Below one TCP segment compression saves nothing; level 5 is ~4x smaller at a few ms for 400 KB.
_GZIP_MIN_BYTES = 1400
_GZIP_LEVEL = 5


class StreetGeometryCache:
    """The basemap as serialised GeoJSON, rebuilt only when the stored street segments change.

    3,400 demo segments take ~60 ms to read, parse and serialise; the fingerprint query that
    decides whether to do it again is one aggregate scan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._body = b""
        self._gzipped = b""
        self._etag = ""

    def get(self, db: Database, gzipped: bool = False) -> tuple[bytes, str]:
        """(body, ETag) of the current street geometry, gzip-compressed if asked."""
        with db.session() as session:
            key = lantern_store.street_segments_fingerprint(session)
        with self._lock:
            if key != self._key:
                with db.session() as session:
                    segments = lantern_store.all_street_segments(session)
                self._body = _feature_collection(segments)
                self._gzipped = b""
                self._etag = f'"{hashlib.sha256(self._body).hexdigest()[:32]}"'
                self._key = key
            if gzipped:
                if not self._gzipped:  # 930 KB of demo streets: ~150 KB, once per import
                    self._gzipped = gzip.compress(self._body, compresslevel=_GZIP_LEVEL)
                return self._gzipped, self._etag
            return self._body, self._etag


def _feature_collection(segments: list[tuple[str, str | None, str, list[list[float]]]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[round(x, COORD_DECIMALS) for x in p[:2]] for p in coords],
            },
            "properties": {"id": sid, "name": name, "class": cls},
        }
        for sid, name, cls, coords in segments
    ]
    doc = {"type": "FeatureCollection", "features": features}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def install(app: FastAPI) -> None:
    """The map's caches live as long as the app: made once here, not on a first request."""
    app.state.street_geometry = StreetGeometryCache()
    app.state.live_feed = LiveFeed()


@router.get("/console/settings", response_model=ConsoleSettingsOut)
def console_settings(runtime: RuntimeDep) -> ConsoleSettingsOut:
    """What the console starts from: the city's languages in playback order."""
    return ConsoleSettingsOut(city_languages=list(runtime.settings.city_languages))


def _street_cache(request: Request) -> StreetGeometryCache:
    cache: StreetGeometryCache = request.app.state.street_geometry
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
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    body, etag = _street_cache(request).get(runtime.db, gzipped)
    # Revalidate: a re-import may change it.
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=GEOJSON, headers=headers)


def _live_feed(request: Request) -> LiveFeed:
    feed: LiveFeed = request.app.state.live_feed
    return feed


@router.get(
    "/lanterns/live",
    response_model=LiveFeedOut,
    responses={200: {"description": "gzip-encoded when the client accepts it"}},
)
def live_lanterns(
    request: Request,
    runtime: RuntimeDep,
    since: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{8}\.[0-9]{1,18}$",
            description="the cursor of the previous answer: list only what changed since",
        ),
    ] = None,
) -> Response:
    """Every lantern's availability and what its speaker, light and projector do now; with
    ``since``, only the lanterns that changed (positions only for new or moved lanterns)."""

    def load() -> tuple[list[LiveRow], Mapping[str, LanternState]]:
        with runtime.db.session() as session:
            rows = lantern_store.live_rows(session)
        return rows, runtime.consumer.reported if runtime.consumer else {}

    feed = _live_feed(request)
    feed.refresh_if_due(load)
    body = json.dumps(feed.changes(since).as_json(), separators=(",", ":")).encode()
    return _compressed(request, body, "application/json", {"Cache-Control": "no-store"})


@router.get(
    "/alerts/{alert_id}/lantern-states",
    response_model=AlertLanternStatesOut,
    responses={200: {"description": "gzip-encoded when the client accepts it"}},
)
def alert_lantern_states(alert_id: str, alerts: AlertsDep, request: Request) -> Response:
    """Each lantern's delivery state in one alert, grouped by state (the map's colours while
    the alert's events stream in; the full rows are ``GET /alerts/{id}?lanterns=true``)."""
    report = alerts.get(alert_id, with_lanterns=True)
    states: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for row in report.lanterns or []:
        states.setdefault(row.state, []).append(row.lantern_id)
        if row.reason and row.state in ("failed", "rejected"):
            reasons[row.lantern_id] = row.reason
    out = {"alert": alert_id, "states": states, "reasons": reasons}
    body = json.dumps(out, separators=(",", ":")).encode()
    return _compressed(request, body, "application/json", {"Cache-Control": "no-store"})


def _compressed(
    request: Request, body: bytes, media_type: str, headers: dict[str, str]
) -> Response:
    """gzip a large body for a client that accepts it: JSON coordinates shrink ~4x."""
    headers = {**headers, "Vary": "Accept-Encoding"}
    if len(body) >= _GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=_GZIP_LEVEL)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)
