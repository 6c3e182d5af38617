"""Update, cancel, all-clear, expiry and exercises, observed on simulated lanterns."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet, load_inventory
from firmware_sim.control import apply_spec
from lightctl.protocol import Topics
from lightctl.store import Database
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, make_settings
from tests.integration.resilience import wait_until
from tests.integration.sentinels import outbox_settled
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

# Five repeats with 30 s gaps: ~3 minutes of program, ~9 s at the fleet's 20x speed, so the
# test can act while the lanterns are still playing.
LONG = {"repeat": 5, "interval_s": 30}


def _command(body: dict[str, Any], channel: str, op: str = "set", last: bool = True) -> Any:
    found = [c for c in body["commands"] if c["channel"] == channel and c["op"] == op]
    assert found, (channel, op, body["commands"])
    return found[-1] if last else found[0]


def _send(service: LiveService, **body: Any) -> dict[str, Any]:
    response = service.http.post("/alerts", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _playing(n: int) -> Any:
    return lambda b: b["counts"].get("playing", 0) == n


def test_cancel_stops_playback_now(service: LiveService, fleet: Fleet) -> None:
    alert = _send(
        service,
        target={"streets": ["Poststrasse"]},
        messages={"de": "Achtung.", "en": "Attention."},
        **LONG,
    )
    n = alert["lantern_count"]
    service.wait_for(alert["id"], _playing(n), 30)
    response = service.http.post(f"/alerts/{alert['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    body = service.wait_for(
        alert["id"],
        lambda b: all(c["counts"] == {"done": n} for c in b["commands"] if c["op"] == "release"),
        20,
    )
    assert {c["channel"] for c in body["commands"] if c["op"] == "release"} == {
        "audio",
        "light",
        "projection",
    }
    assert body["counts"] == {"cancelled": n}
    audio_id = _command(body, "audio")["id"]
    for lantern_id in service.http.get("/lanterns", params={"street": "Poststrasse"}).json():
        lid = lantern_id["id"]
        assert fleet.lantern(lid).playing is None, lid
        finals = [a for a in fleet.record(lid).acks if a.cmd_id == audio_id]
        assert finals[-1].status.value == "interrupted", (lid, finals)
        assert not fleet.record(lid).played, "the program never reached its end"
    # A second cancel is a conflict that says what state the alert is in.
    again = service.http.post(f"/alerts/{alert['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["state"] == "cancelled"


def test_update_replaces_text_adds_and_drops_lanterns(service: LiveService, fleet: Fleet) -> None:
    alert = _send(
        service,
        target={"streets": ["Poststrasse"]},
        messages={"de": "Erste Fassung."},
        **LONG,
    )
    old_ids = {
        r["id"] for r in service.http.get("/lanterns", params={"street": "Poststrasse"}).json()
    }
    new_ids = {r["id"] for r in service.http.get("/lanterns", params={"street": "Talacker"}).json()}
    service.wait_for(alert["id"], _playing(len(old_ids)), 30)
    first_audio = _command(alert, "audio")["id"]
    response = service.http.post(
        f"/alerts/{alert['id']}/update",
        json={
            "target": {"streets": ["Talacker"]},
            "messages": {"de": "Zweite Fassung.", "en": "Second."},
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["messages"] == {"de": "Zweite Fassung.", "en": "Second."}
    assert updated["lantern_count"] == len(new_ids)
    second_audio = _command(updated, "audio")["id"]
    assert second_audio != first_audio
    body = service.wait_for(
        alert["id"], lambda b: b["counts"].get("playing", 0) == len(new_ids), 30
    )
    first = next(c for c in body["commands"] if c["id"] == first_audio)
    assert first["counts"] == {"superseded": len(old_ids)}
    # Dropped lanterns stop; new lanterns play the new text.
    service.wait_for(
        alert["id"],
        lambda b: all(
            c["counts"].get("done") == len(old_ids - new_ids)
            for c in b["commands"]
            if c["op"] == "release"
        ),
        20,
    )
    for lid in old_ids - new_ids:
        assert fleet.lantern(lid).playing is None
    for lid in new_ids:
        assert fleet.lantern(lid).playing == second_audio
    service.http.post(f"/alerts/{alert['id']}/cancel")


def test_all_clear_plays_then_releases(service: LiveService, fleet: Fleet) -> None:
    alert = _send(
        service,
        target={"streets": ["Poststrasse"]},
        template="gas_leak",
        params={"street": "Poststrasse"},
        languages=["de", "en"],
        **LONG,
    )
    n = alert["lantern_count"]
    service.wait_for(alert["id"], _playing(n), 30)
    response = service.http.post(f"/alerts/{alert['id']}/all-clear", json={})
    assert response.status_code == 200, response.text
    cleared = response.json()
    assert cleared["status"] == "all_clear"
    assert "Poststrasse" in cleared["messages"]["de"]
    body = service.wait_for(alert["id"], lambda b: b["counts"] == {"done": n}, 30)
    all_clear_id = body["counts"] and _command(body, "audio")["id"]
    light_release = _command(body, "light", "release")
    service.wait_for(
        alert["id"], lambda b: _command(b, "light", "release")["counts"] == {"done": n}
    )
    assert light_release
    lid = next(
        iter(
            r["id"] for r in service.http.get("/lanterns", params={"street": "Poststrasse"}).json()
        )
    )
    played = [cmd for cmd, _h in fleet.record(lid).played]
    assert played == [all_clear_id]
    # The all-clear can't be cancelled or repeated once given.
    assert service.http.post(f"/alerts/{alert['id']}/cancel").status_code == 409


def test_exercise_is_marked_and_announced(service: LiveService, fleet: Fleet) -> None:
    alert = _send(
        service,
        target={"streets": ["Poststrasse"]},
        messages={"de": "Brand.", "en": "Fire."},
        exercise=True,
    )
    assert alert["exercise"] is True
    body = service.wait_for(alert["id"], lambda b: b["status"] != "sending", 30)
    assert body["counts"] == {"done": alert["lantern_count"]}
    listed = service.http.get("/alerts").json()
    assert next(a for a in listed if a["id"] == alert["id"])["exercise"] is True
    lid = service.http.get("/lanterns", params={"street": "Poststrasse"}).json()[0]["id"]
    fetched = [sha for _url, sha in fleet.record(lid).fetched]
    de, en = (c["sha256"] for c in alert["clips"])
    # An exercise notice precedes each language's message: notice-de, de, notice-en, en.
    assert len(fetched) == 4
    assert fetched[1] == de
    assert fetched[3] == en
    assert fetched[0] not in (de, en)
    assert fetched[2] not in (de, en)


def test_expiry_stops_a_lantern_that_lost_the_broker(
    inventory: Database, own_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """The lantern ends playback at `expires_at` by itself, with no service or broker."""
    root = f"exp{uuid.uuid4().hex[:6]}"
    live = LiveService(make_settings(tmp_path, own_mosquitto.url, root), inventory)
    live.start()
    spec = [s for s in load_inventory(LANTERNS)][:1]
    sim = FleetThread(
        Fleet(own_mosquitto.url, spec, speed=2, topics=Topics(root), gateway_prefix=root)
    )
    sim.start()
    try:
        lid = spec[0].id
        alert = _send(
            live,
            target={"lanterns": [lid]},
            messages={"de": "Achtung."},
            expires_in_s=10,
            **LONG,
        )
        live.wait_for(alert["id"], _playing(1), 15)
        own_mosquitto.stop(kill=True)
        expires_at = alert["expires_at"]
        assert sim.fleet.lantern(lid).playing is not None
        deadline = time.monotonic() + 15
        while sim.fleet.lantern(lid).playing is not None:
            assert time.monotonic() < deadline, f"still playing after expiry {expires_at}"
            time.sleep(0.1)
        audio_acks = [
            a for a in sim.fleet.record(lid).acks if a.cmd_id == _command(alert, "audio")["id"]
        ]
        assert audio_acks[-1].status.value == "expired"
    finally:
        sim.stop()
        live.stop()


def test_a_lantern_rebooting_after_cancel_does_not_light_the_warning_again(
    service: LiveService, fleet: Fleet
) -> None:
    alert = _send(service, target={"streets": ["Poststrasse"]}, messages={"de": "Achtung."}, **LONG)
    n = alert["lantern_count"]
    service.wait_for(alert["id"], _playing(n), 30)
    assert service.http.post(f"/alerts/{alert['id']}/cancel").status_code == 200
    body = service.wait_for(
        alert["id"],
        lambda b: all(c["counts"] == {"done": n} for c in b["commands"] if c["op"] == "release"),
        20,
    )
    light_id = _command(body, "light")["id"]
    lid = next(
        lantern["id"]
        for lantern in service.http.get("/lanterns", params={"street": "Poststrasse"}).json()
        if {"rgb", "projector"} <= set(lantern["capabilities"])
    )
    returned = service.http.get("/metrics").json()["counters"].get("consumer_lanterns_returned", 0)
    acks_before = len(fleet.record(lid).acks)

    fleet.call(lambda: apply_spec(fleet, f"reboot@{lid}"))
    wait_until(
        lambda: (
            service.http.get("/metrics").json()["counters"].get("consumer_lanterns_returned", 0)
            > returned
        ),
        10,
        "the service to see the reboot",
    )
    # The outbox re-sends a returning lantern's live commands; sentinels sent after the return
    # was seen arrive after any such re-send (the cancelled warning's light must not be one).
    outbox_settled(service, lid)
    state = fleet.lantern(lid).state(datetime.now(UTC))
    assert state.channels["light"].cmd_id != light_id, state.channels["light"]
    assert state.channels["light"].priority == 16  # the lantern's own default again
    late = [a for a in list(fleet.record(lid).acks)[acks_before:] if a.cmd_id == light_id]
    assert late == [], late
