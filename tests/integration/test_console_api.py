"""What the console's map reads: the street basemap and the fleet's live state, over real HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from firmware_sim import Fleet
from lightctl.api.live_feed import LiveFeed
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
                    "coords_json": [[8.538, 47.370], [8.539, 47.371]],
                }
            ],
        )
    second = service.http.get("/streets/geometry", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    names = {f["properties"]["name"] for f in second.json()["features"]}
    assert "Neue Gasse" in names


def _decode(feed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The feed's rows as objects, as the console's live.js reads them."""
    out: dict[str, dict[str, Any]] = {}
    for row in feed["lanterns"]:
        cells = dict(zip(feed["fields"], row, strict=False))
        pictogram = cells.get("pictogram")
        out[cells["id"]] = {
            "id": cells["id"],
            "online": None if cells.get("online") is None else cells["online"] == 1,
            "audio_playing": cells.get("audio_playing") == 1,
            "light_color": cells.get("light_color"),
            "projection": {
                "pictogram": pictogram,
                "heading_deg": cells.get("heading_deg"),
                "color": cells.get("projection_color"),
            }
            if pictogram
            else None,
        }
    return out


def _live(service: LiveService) -> dict[str, dict[str, Any]]:
    response = service.http.get("/lanterns/live")
    assert response.status_code == 200, response.text
    feed = response.json()
    assert feed["full"] is True
    assert set(feed["positions"]) == {row[0] for row in feed["lanterns"]}
    return _decode(feed)


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


def test_live_feed_sends_only_what_changed_since_the_cursor(
    service: LiveService, fleet: Fleet
) -> None:
    # Every poll reads the fleet afresh (no refresh interval), so "nothing changed" below is
    # an answer from the database, not from a snapshot that has not been refreshed yet.
    service.app.state.live_feed = LiveFeed(min_refresh_s=0)
    ids = set(fleet.lantern_ids)
    _until(
        lambda: (live := _live(service)).keys() == ids and all(r["online"] for r in live.values())
    )
    first = service.http.get("/lanterns/live").json()
    assert len(first["positions"]) == len(ids)
    lanterns = service.http.get("/lanterns", params={"limit": 500}).json()
    stored = {lantern["id"]: (lantern["lon"], lantern["lat"]) for lantern in lanterns}
    for lantern_id, (lon, lat) in first["positions"].items():
        assert abs(lon - stored[lantern_id][0]) < 1e-6
        assert abs(lat - stored[lantern_id][1]) < 1e-6

    # Nothing happens: the next poll names no lantern and keeps the cursor.
    quiet = service.http.get("/lanterns/live", params={"since": first["cursor"]})
    assert quiet.status_code == 200, quiet.text
    body = quiet.json()
    assert (body["full"], body["lanterns"], body["positions"], body["removed"]) == (
        False,
        [],
        {},
        [],
    )
    assert len(quiet.content) < 200

    # One lantern goes offline: the delta names it alone.
    gone = sorted(ids)[0]
    with service.runtime.db.session() as session:
        lantern_store.set_availability(session, gone, False, 1, None, datetime.now(UTC))
    delta = service.http.get("/lanterns/live", params={"since": body["cursor"]}).json()
    assert delta["full"] is False
    assert delta["lanterns"] == [[gone, 0]]
    assert delta["cursor"] != body["cursor"]

    # A cursor the server did not issue gets the whole fleet again; a malformed one is refused.
    stale = service.http.get("/lanterns/live", params={"since": "00000000.1"}).json()
    assert stale["full"] is True
    assert len(stale["lanterns"]) == len(ids)
    bad = service.http.get("/lanterns/live", params={"since": "<script>"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"][-1] == "since"


def test_live_feed_and_basemap_are_gzipped_for_clients_that_accept_it(
    service: LiveService,
) -> None:
    for path in ("/lanterns/live", "/streets/geometry"):
        plain = service.http.get(path, headers={"Accept-Encoding": "identity"})
        zipped = service.http.get(path, headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in plain.headers
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        if path == "/streets/geometry":
            assert zipped.json() == plain.json()
        else:  # two answers of the live feed: each a full list
            assert len(zipped.json()["lanterns"]) == len(plain.json()["lanterns"])
        assert int(zipped.headers["content-length"]) < len(plain.content) / 2


def test_lanterns_live_is_not_read_as_a_lantern_id(service: LiveService) -> None:
    # /lanterns/{id} is declared too: the live list must win, and an id still resolves.
    assert isinstance(service.http.get("/lanterns/live").json()["lanterns"], list)
    first = service.http.get("/lanterns", params={"limit": 1}).json()[0]["id"]
    assert service.http.get(f"/lanterns/{first}").json()["id"] == first


def test_alert_lantern_states_group_the_delivery_rows(service: LiveService, fleet: Fleet) -> None:
    street = max(service.http.get("/streets").json(), key=lambda s: s["lantern_count"])["name"]
    sent = service.http.post(
        "/alerts", json={"target": {"streets": [street]}, "messages": {"de": "Probe."}}
    )
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    n = alert["lantern_count"]
    _until(lambda: service.http.get(f"/alerts/{alert['id']}").json()["counts"] == {"done": n})

    response = service.http.get(f"/alerts/{alert['id']}/lantern-states")
    assert response.status_code == 200, response.text
    grouped = response.json()
    rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()["lanterns"]
    expected: dict[str, list[str]] = {}
    for row in rows:
        expected.setdefault(row["state"], []).append(row["lantern"])
    assert grouped["alert"] == alert["id"]
    assert {k: sorted(v) for k, v in grouped["states"].items()} == {
        k: sorted(v) for k, v in expected.items()
    }
    assert grouped["reasons"] == {}
    assert len(response.content) < len(json.dumps(rows)) / 5

    missing = service.http.get("/alerts/al_doesnotexist/lantern-states")
    assert missing.status_code == 404
