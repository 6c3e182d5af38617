"""End to end: HTTP POST of a German + English warning → real broker → simulated lanterns → done."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

GERMAN = "Brand in der Bahnhofstrasse. Schliessen Sie Fenster und Türen."
ENGLISH = "Fire on Bahnhofstrasse. Close all windows and doors."


def all_final(body: dict[str, object]) -> bool:
    return body["status"] != "sending"


def test_every_lantern_on_the_street_plays_german_then_english(
    service: LiveService, fleet: Fleet
) -> None:
    response = service.http.post(
        "/alerts",
        json={
            "target": {"streets": ["Bahnhofstrasse"]},
            "messages": {"de": GERMAN, "en": ENGLISH},
        },
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    street_lanterns = service.http.get("/lanterns", params={"street": "Bahnhofstrasse"}).json()
    targeted = {lantern["id"] for lantern in street_lanterns}
    assert alert["lantern_count"] == len(targeted) > 20

    done = service.wait_for(alert["id"], all_final)
    assert done["status"] == "completed"
    assert done["counts"] == {"done": len(targeted)}

    commands = {c["channel"]: c for c in done["commands"]}
    assert set(commands) == {"audio", "light", "projection"}
    audio_id = commands["audio"]["id"]
    # People who cannot hear it see it: warning colour and pictogram on every lantern.
    assert commands["light"]["counts"] == {"applied": len(targeted)}
    assert commands["projection"]["counts"] == {"applied": len(targeted)}

    de_clip, en_clip = alert["clips"]
    assert (de_clip["lang"], en_clip["lang"]) == ("de", "en")
    assert de_clip["engine"] == en_clip["engine"] == "espeak-ng"
    for lantern_id in targeted:
        record = fleet.record(lantern_id)
        fetched = list(record.fetched)
        assert fetched == [
            (de_clip["url"], de_clip["sha256"]),
            (en_clip["url"], en_clip["sha256"]),
        ], lantern_id
        assert [hashes for _cmd, hashes in record.played] == [
            (de_clip["sha256"], en_clip["sha256"])
        ]
        sent = [a.status.value for a in record.acks if a.cmd_id == audio_id]
        # A lantern answers a repeated copy of a command with its last ack again (the protocol's
        # rule for QoS 1 duplicates and re-sends); it played once (above), in this order.
        statuses = [s for i, s in enumerate(sent) if i == 0 or s != sent[i - 1]]
        assert statuses == ["received", "playing", "done"], (lantern_id, sent)

    # Lanterns on other streets heard nothing.
    for lantern_id in set(fleet.lantern_ids) - targeted:
        assert not fleet.record(lantern_id).acks, lantern_id

    # The service's per-lantern proof: what each lantern said it played, in order.
    rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()["lanterns"]
    assert {r["lantern"] for r in rows} == targeted
    for row in rows:
        assert row["state"] == "done"
        assert row["played"] == [de_clip["sha256"], en_clip["sha256"]]


def test_clip_served_matches_its_hash(service: LiveService, fleet: Fleet) -> None:
    response = service.http.post(
        "/alerts",
        json={"target": {"lanterns": [fleet.lantern_ids[0]]}, "messages": {"de": GERMAN}},
    )
    assert response.status_code == 201, response.text
    clip = response.json()["clips"][0]
    audio = service.http.get(clip["url"].split("/api/v1", 1)[1])
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF"
    import hashlib

    assert hashlib.sha256(audio.content).hexdigest() == clip["sha256"]
    body = service.wait_for(response.json()["id"], all_final)
    assert body["counts"] == {"done": 1}


def test_expired_alert_without_lanterns_is_reported_not_lost(service: LiveService) -> None:
    """No fleet runs: the deliveries end `expired` at expiry instead of hanging as `published`."""
    response = service.http.post(
        "/alerts",
        json={
            "target": {"streets": ["Poststrasse"]},
            "messages": {"en": "Test."},
            "expires_in_s": 10,
        },
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    published = service.wait_for(alert["id"], lambda b: b["counts"].get("published"), 10)
    assert published["counts"] == {"published": alert["lantern_count"]}
    ended = service.wait_for(alert["id"], all_final, 30)
    assert ended["counts"] == {"expired": alert["lantern_count"]}


LIFECYCLE = ["planned", "published", "received", "playing", "done"]


def test_progress_stream_reports_each_lantern_until_all_are_done(
    service: LiveService, fleet: Fleet
) -> None:
    response = service.http.post(
        "/alerts", json={"target": {"streets": ["Bahnhofstrasse"]}, "messages": {"de": GERMAN}}
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    events: list[dict[str, Any]] = []
    with service.http.stream("GET", f"/alerts/{alert['id']}/events", timeout=90) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    targeted = {r["lantern"] for r in events[0]["lanterns"]}
    assert len(targeted) == alert["lantern_count"] > 20  # the first event lists every lantern
    seen: dict[str, list[str]] = {}
    for event in events:
        for row in event["lanterns"]:
            seen.setdefault(row["lantern"], []).append(row["state"])
    final = events[-1]
    assert final["status"] == "completed"
    assert final["counts"] == {"done": len(targeted)}
    assert len(events) > 2  # progress arrived while it ran, not only at the end
    for lantern_id in targeted:
        states = seen[lantern_id]
        assert states[-1] == "done", (lantern_id, states)
        order = [LIFECYCLE.index(s) for s in states]
        assert order == sorted(set(order)), (lantern_id, states)  # forward, never repeated
    # A client that only applies the stream ends with the service's own picture.
    assert Counter(states[-1] for states in seen.values()) == Counter(final["counts"])
