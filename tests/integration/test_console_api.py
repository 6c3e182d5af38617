"""What the console's map reads: the street basemap and the fleet's live state, over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from firmware_sim import Fleet
from lightctl.store import lanterns as lantern_store
from tests.integration.conftest import STREETS, LiveService

pytestmark = [pytest.mark.broker]


def test_street_geometry_is_the_stored_segments_and_revalidates(service: LiveService) -> None:
    stored = json.loads(STREETS.read_text())["features"]
    response = service.http.get("/streets/geometry")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == len(stored)
    by_id = {f["properties"]["id"]: f for f in body["features"]}
    for feature in stored:
        got = by_id[feature["properties"]["id"]]
        assert got["geometry"]["type"] == "LineString"
        assert got["properties"]["name"] == feature["properties"]["name"]
        assert got["properties"]["class"] == feature["properties"]["class"]
        for (lon, lat), (want_lon, want_lat) in zip(
            got["geometry"]["coordinates"], feature["geometry"]["coordinates"], strict=True
        ):
            assert abs(lon - want_lon) < 1e-6
            assert abs(lat - want_lat) < 1e-6

    etag = response.headers["etag"]
    again = service.http.get("/streets/geometry", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_street_geometry_follows_a_street_import(service: LiveService) -> None:
    first = service.http.get("/streets/geometry")
    with service.runtime.db.session() as session:
        lantern_store.replace_streets(
            session,
            [
                {
                    "id": "e2e-new-segment",
                    "name": "Neue Gasse",
                    "name_key": "neue gasse",
                    "cls": "residential",
                    "coords_json": "[[8.538, 47.370], [8.539, 47.371]]",
                }
            ],
        )
    second = service.http.get("/streets/geometry", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    names = {f["properties"]["name"] for f in second.json()["features"]}
    assert "Neue Gasse" in names


def _live(service: LiveService) -> dict[str, dict[str, Any]]:
    response = service.http.get("/lanterns/live")
    assert response.status_code == 200, response.text
    return {row["id"]: row for row in response.json()}


def _until(predicate: Any, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition never held")


def test_live_state_shows_availability_playing_light_and_projection(
    service: LiveService, fleet: Fleet
) -> None:
    ids = set(fleet.lantern_ids)
    live = _until(lambda: (lv := _live(service)) and all(lv[i]["online"] for i in ids) and lv)
    assert set(live) == ids
    row = next(iter(live.values()))
    assert set(row) == {"id", "lon", "lat", "online", "audio_playing", "light_color", "projection"}
    assert not any(r["audio_playing"] or r["light_color"] or r["projection"] for r in live.values())

    # Two repeats: ~4 s of playback at the fleet's 20x speed, long enough to watch it play.
    street = max(service.http.get("/streets").json(), key=lambda s: s["lantern_count"])["name"]
    sent = service.http.post(
        "/alerts",
        json={
            "target": {"streets": [street]},
            "messages": {"de": "Brand. Fenster schliessen."},
            "repeat": 2,
            "interval_s": 20,
        },
    )
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    preview = service.http.post("/targets/preview", json={"streets": [street]}).json()
    targeted = set(preview["lantern_ids"])

    # Audio, light and projection are three commands: they arrive one after the other.
    def warning_shown() -> dict[str, dict[str, Any]] | None:
        lv = _live(service)
        shown = all(
            lv[i]["audio_playing"] and lv[i]["light_color"] and lv[i]["projection"]
            for i in targeted
        )
        return lv if shown else None

    playing = _until(warning_shown)
    for lantern_id in targeted:
        assert playing[lantern_id]["light_color"].startswith("#")
        assert playing[lantern_id]["projection"]["pictogram"] == "warning"
    assert not any(playing[i]["audio_playing"] for i in ids - targeted)

    cancelled = service.http.post(f"/alerts/{alert['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    _until(
        lambda: (
            (lv := _live(service))
            and not any(lv[i]["audio_playing"] or lv[i]["light_color"] for i in targeted)
        )
    )


def test_lanterns_live_is_not_read_as_a_lantern_id(service: LiveService) -> None:
    # /lanterns/{id} is declared too: the live list must win, and an id still resolves.
    assert isinstance(service.http.get("/lanterns/live").json(), list)
    first = service.http.get("/lanterns", params={"limit": 1}).json()[0]["id"]
    assert service.http.get(f"/lanterns/{first}").json()["id"] == first
