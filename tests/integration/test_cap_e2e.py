"""A CAP chain on simulated lanterns over a real broker: an Alert plays in its area, an Update
changes what plays and where, a Cancel without info stops it; the audit trail names each."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet
from lightctl.store import Database
from tests.integration.cap_support import (
    NORTH,
    POLICY,
    SENDER,
    SOUTH,
    cap_time,
    info,
    message,
    post_cap,
)
from tests.integration.conftest import LiveService, make_settings
from tests.integration.resilience import wait_until
from tests.support import FIXTURES, MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

NINA = FIXTURES / "cap" / "nina" / "ha-fixture-warning-details-mowas-dwd-biwapp.json"


@pytest.fixture
def service(
    sqlite_inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> Iterator[LiveService]:
    # Five repeats with 30 s gaps: ~3 min of program, ~9 s at the fleet's 20x speed, so the
    # update arrives while the lanterns still play.
    settings = make_settings(
        tmp_path, mosquitto.url, topic_root, cap_sources=POLICY, cap_repeat=5, cap_interval_s=30
    )
    live = LiveService(settings, sqlite_inventory)
    live.start()
    yield live
    live.stop()


def _audio(body: dict[str, Any]) -> str:
    sets = [c for c in body["commands"] if c["channel"] == "audio" and c["op"] == "set"]
    return str(sets[-1]["id"])


def _area_ids(service: LiveService, pairs: str) -> set[str]:
    ring = [[float(p.split(",")[1]), float(p.split(",")[0])] for p in pairs.split()]
    body = {"area": {"type": "Polygon", "coordinates": [ring]}}
    found = service.http.post("/targets/preview", json=body, params={"geojson": False}).json()
    return set(found["lantern_ids"])


def test_update_chain_and_cancel_without_info_on_simulated_lanterns(
    service: LiveService, fleet: Fleet
) -> None:
    north, south = _area_ids(service, NORTH), _area_ids(service, SOUTH)
    assert north
    assert south
    assert not north & south
    first, ident, sent = message(
        [
            info("de-DE", "Gasaustritt", "Meiden Sie das Gebiet."),
            info("en-US", "Gas leak", "Avoid the area."),
        ]
    )
    out = post_cap(service, first)
    alert_id = out["alert_ids"][0]
    body = service.wait_for(alert_id, lambda b: b["counts"].get("playing", 0) == len(north), 30)
    first_audio = _audio(body)
    assert {lid for lid in north if fleet.lantern(lid).playing == first_audio} == north
    assert all(fleet.lantern(lid).playing is None for lid in south)
    first_clips = [c["sha256"] for c in body["clips"]]
    assert [c["lang"] for c in body["clips"]] == ["de", "en"]

    update, ident2, sent2 = message(
        [info("de-DE", "Gasaustritt", "Verlassen Sie sofort das Gebiet.", polygon=SOUTH)],
        msg_type="Update",
        references=[(SENDER, ident, sent)],
    )
    assert post_cap(service, update)["decision"] == "updated"
    body = service.wait_for(alert_id, lambda b: _audio(b) != first_audio, 10)
    second_audio = _audio(body)
    assert [c["lang"] for c in body["clips"]] == ["de"]
    assert [c["sha256"] for c in body["clips"]] != first_clips  # the new text plays
    wait_until(
        lambda: all(fleet.lantern(lid).playing == second_audio for lid in south),
        30,
        "the southern lanterns to play the update",
    )
    wait_until(
        lambda: all(fleet.lantern(lid).playing is None for lid in north),
        30,
        "the northern lanterns, no longer in the area, to stop",
    )

    cancel, ident3, _ = message(msg_type="Cancel", references=[(SENDER, ident2, sent2)])
    assert post_cap(service, cancel)["decision"] == "cancelled"
    wait_until(
        lambda: all(fleet.lantern(lid).playing is None for lid in north | south),
        30,
        "every lantern to stop after the Cancel",
    )
    assert service.http.get(f"/alerts/{alert_id}").json()["status"] == "cancelled"

    audit = service.http.get("/audit", params={"limit": 100}).json()
    trail = {(r["action"], r["subject"]) for r in audit}
    for action, subject in [
        ("cap.received", ident),
        ("cap.played", ident),
        ("cap.received", ident2),
        ("cap.updated", ident2),
        ("cap.received", ident3),
        ("cap.cancelled", ident3),
    ]:
        assert (action, subject) in trail, (action, subject)


def test_a_mowas_warning_in_nine_languages_plays_ours_in_order(
    service: LiveService, fleet: Fleet
) -> None:
    """The real MoWaS detail JSON with nine info blocks (easy German among them, Farsi which no
    engine speaks): the lanterns play the eight they can, the city's German first."""
    details = json.loads(NINA.read_text(encoding="utf-8"))
    warning = dict(details["mow.DE-BW-S-SE018-20211102-18-001"])
    now = datetime.now(UTC).replace(microsecond=0)
    warning.update(
        identifier=f"mow.TEST-{uuid.uuid4().hex[:8]}", msgType="Alert", sent=cap_time(now)
    )
    warning.pop("references")
    german = dict(warning["info"][0], severity="Extreme")
    german["area"] = [{"areaDesc": "Bahnhofstrasse", "polygon": [NORTH]}]
    german["expires"] = cap_time(now + timedelta(minutes=30))
    texts = {
        "FA": "هشدار",
        "EN": "Warning. Stay indoors.",
        "DE-LS": "Achtung. Bleiben Sie im Haus.",
        "AR": "تحذير. ابقوا في الداخل.",
        "TR": "Uyarı. İçeride kalın.",
        "PL": "Uwaga. Zostańcie w domu.",
        "RU": "Внимание. Оставайтесь дома.",
        "UK": "Увага. Залишайтеся вдома.",
    }
    warning["info"] = [german] + [
        dict(german, language=lang, headline=text, instruction=text, description=text)
        for lang, text in texts.items()
    ]
    feed_token = service.make_token("mowas-gateway", "feed")  # the role a warning gateway has
    response = service.http.post(
        "/cap",
        content=json.dumps(warning).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {feed_token}"},
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["decision"] == "played", (out["reason"], out["plan"]["notes"])
    order = ["de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl"]
    assert out["plan"]["languages"] == order
    assert out["plan"]["skipped_languages"] == ["FA"]
    alert_id = out["alert_ids"][0]
    north = _area_ids(service, NORTH)
    body = service.wait_for(alert_id, lambda b: b["counts"].get("playing", 0) == len(north), 60)
    langs = {c["sha256"]: c["lang"] for c in body["clips"]}
    lantern = sorted(north)[0]
    wait_until(lambda: bool(fleet.record(lantern).played), 60, "one full program")
    _cmd, played = fleet.record(lantern).played[0]
    heard = list(dict.fromkeys(langs[sha] for sha in played if sha in langs))
    # The program repeats; a lantern whose clips came late joins at a later sentence (in step
    # with its neighbours) and hears the same order from there on.
    first = order.index(heard[0])
    assert heard == order[first:] + order[:first]
    assert [c["lang"] for c in body["clips"]] == order
    assert body["priority"] == 2  # slot 2, signed in the feed role the lanterns checked
