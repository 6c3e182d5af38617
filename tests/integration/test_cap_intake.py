"""POST /api/v1/cap: CAP messages create, update and cancel alerts; bad ones change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lightctl.domain import priorities as slot
from lightctl.store import Database
from tests.integration import cap_support
from tests.integration.cap_support import (
    NORTH,
    SENDER,
    SOUTH,
    WIDE,
    alert_of,
    expires_in,
    info,
    message,
    post_cap,
)
from tests.integration.conftest import LiveService, make_settings
from tests.support import MosquittoProcess
from tests.unit.cap.test_cap_signature import _pair as signing_pair
from tests.unit.cap.test_cap_signature import _signed as sign

pytestmark = [pytest.mark.broker]

cap_service = cap_support.cap_service


def _north_ids(service: LiveService) -> set[str]:
    body = {"area": _geojson(NORTH)}
    found = service.http.post("/targets/preview", json=body, params={"geojson": False}).json()
    return set(found["lantern_ids"])


def _geojson(pairs: str) -> dict[str, object]:
    ring = [[float(p.split(",")[1]), float(p.split(",")[0])] for p in pairs.split()]
    return {"type": "Polygon", "coordinates": [ring]}


def _alert_count(service: LiveService) -> int:
    return len(service.http.get("/alerts", params={"limit": 500}).json())


def test_an_alert_plays_at_slot_2_on_the_lanterns_of_its_polygon(
    cap_service: LiveService,
) -> None:
    body, ident, _sent = message(
        [
            info("de-DE", "Großbrand", "Fenster schließen.", expires=expires_in(30)),
            info("en-US", "Large fire", "Close windows.", expires=expires_in(30)),
        ]
    )
    out = post_cap(cap_service, body)
    assert out["decision"] == "played", out
    alert = alert_of(cap_service, out)
    assert alert["priority"] == slot.LIFE_SAFETY_AUTOMATIC
    assert alert["languages"] == ["de", "en"]
    assert alert["messages"]["de"] == "Amtliche Warnung. Großbrand. Fenster schließen."
    assert alert["messages"]["en"] == "Official warning. Large fire. Close windows."
    assert set(alert_of(cap_service, out)["target"]) == {
        "area",
        "repair",
        "allow_empty",
        "confirm_large",
    }
    assert alert["lantern_count"] == len(_north_ids(cap_service)) > 0
    # the same message again (a second path): the same alert, nothing new
    again = post_cap(cap_service, body, status=200)
    assert again["duplicate"] is True
    assert again["alert_ids"] == out["alert_ids"]
    audit = cap_service.http.get("/audit", params={"limit": 50}).json()
    actions = [(r["action"], r["subject"]) for r in audit]
    assert ("cap.received", ident) in actions
    assert ("cap.played", ident) in actions
    assert ("cap.duplicate", ident) in actions


def test_update_changes_text_and_area_and_cancel_without_info_ends_it(
    cap_service: LiveService,
) -> None:
    first, ident, sent = message([info("de-DE", "Gasaustritt", "Meiden Sie das Gebiet.")])
    out = post_cap(cap_service, first)
    alert_id = out["alert_ids"][0]
    update, ident2, sent2 = message(
        [info("de-DE", "Gasaustritt", "Verlassen Sie das Gebiet.", polygon=SOUTH)],
        msg_type="Update",
        references=[(SENDER, ident, sent)],
    )
    changed = post_cap(cap_service, update)
    assert changed["decision"] == "updated", changed
    assert changed["alert_ids"] == [alert_id]
    alert = cap_service.http.get(f"/alerts/{alert_id}").json()
    assert alert["messages"]["de"].endswith("Verlassen Sie das Gebiet.")
    assert alert["status"] == "sending"  # still live (no lantern acks here)
    cancel, _ident3, _ = message(msg_type="Cancel", references=[(SENDER, ident2, sent2)])
    ended = post_cap(cap_service, cancel)
    assert ended["decision"] == "cancelled", ended
    assert cap_service.http.get(f"/alerts/{alert_id}").json()["status"] == "cancelled"
    assert _alert_count(cap_service) == 1


def test_an_update_before_its_alert_is_held_then_applied(cap_service: LiveService) -> None:
    _first, ident, sent = message([info("de-DE", "Sturm", "Bleiben Sie drinnen.")])
    update, _ident2, _ = message(
        [info("de-DE", "Sturm", "Meiden Sie Bäume.")],
        msg_type="Update",
        references=[(SENDER, ident, sent)],
    )
    held = post_cap(cap_service, update)
    assert held["decision"] == "held"
    assert ident in held["reason"]
    out = post_cap(
        cap_service,
        message([info("de-DE", "Sturm", "Bleiben Sie drinnen.")], identifier=ident, sent=sent)[0],
    )
    assert out["decision"] == "played"
    alert = alert_of(cap_service, out)
    assert alert["messages"]["de"].endswith("Meiden Sie Bäume.")  # the held update ran
    after = cap_service.http.get(f"/cap/messages/{held['id']}").json()
    assert after["decision"] == "updated"


def test_all_clear_update_plays_the_all_clear(cap_service: LiveService) -> None:
    first, ident, sent = message([info("de-DE", "Brand", "Fenster zu.")])
    out = post_cap(cap_service, first)
    clear, _, _ = message(
        [info("de-DE", "Entwarnung", "Die Gefahr ist vorbei.", response="AllClear")],
        msg_type="Update",
        references=[(SENDER, ident, sent)],
    )
    done = post_cap(cap_service, clear)
    assert done["decision"] == "all_clear", done
    alert = cap_service.http.get(f"/alerts/{out['alert_ids'][0]}").json()
    assert alert["status"] == "all_clear"
    assert alert["messages"]["de"].endswith("Entwarnung. Die Gefahr ist vorbei.")


def test_exercise_plays_as_exercise_and_never_cancels_an_actual(
    cap_service: LiveService,
) -> None:
    drill, _, _ = message([info("de-DE", "Übung", "Dies ist eine Übung.")], status="Exercise")
    out = post_cap(cap_service, drill)
    assert out["decision"] == "played"
    assert alert_of(cap_service, out)["exercise"] is True
    real, ident, sent = message([info("de-DE", "Brand", "Fenster zu.")])
    live = post_cap(cap_service, real)
    fake, _, _ = message(status="Exercise", msg_type="Cancel", references=[(SENDER, ident, sent)])
    refused = post_cap(cap_service, fake)
    assert refused["decision"] == "refused"
    assert alert_of(cap_service, live)["status"] == "sending"


def test_system_test_and_expired_messages_are_recorded_not_played(
    cap_service: LiveService,
) -> None:
    before = _alert_count(cap_service)
    system, _, _ = message([info("de-DE", "System", "x")], status="System")
    assert post_cap(cap_service, system)["decision"] == "recorded"
    old = expires_in(-5)
    stale, _, _ = message(
        [info("de-DE", "Alt", "x", expires=old)], sent=old - timedelta(minutes=30)
    )
    recorded = post_cap(cap_service, stale)
    assert recorded["decision"] == "recorded"
    assert "expired on arrival" in recorded["reason"]
    assert _alert_count(cap_service) == before


def test_other_senders_become_suggestions_that_one_click_sends(
    cap_service: LiveService,
) -> None:
    body, _, _ = message([info("en-US", "Flood", "Move up.")], sender="opendata@dwd.de")
    out = post_cap(cap_service, body)
    assert out["decision"] == "suggested", out
    assert out["plan"]["lantern_count"] > 0
    assert out["plan"]["languages"] == ["en"]
    listed = cap_service.http.get("/cap/messages", params={"decision": "suggested"}).json()
    assert [m["id"] for m in listed] == [out["id"]]
    sent = cap_service.http.post(
        f"/cap/messages/{out['id']}/send", json={"messages": {"en": "Flood. Move up now."}}
    )
    assert sent.status_code == 200, sent.text
    alert = alert_of(cap_service, sent.json())
    assert alert["messages"] == {"en": "Flood. Move up now."}
    again = cap_service.http.post(f"/cap/messages/{out['id']}/dismiss")
    assert again.status_code == 409


def test_geocode_only_message_with_unknown_codes_is_a_suggestion_naming_them(
    cap_service: LiveService,
) -> None:
    body, _, _ = message(
        [info("de-DE", "Hochwasser", "x", polygon=None, geocodes=[("WARNCELLID", "808212000")])],
        sender="opendata@dwd.de",
    )
    out = post_cap(cap_service, body)
    assert out["decision"] == "suggested"
    assert out["plan"]["unknown_geocodes"] == ["WARNCELLID:808212000"]
    assert "808212000" in out["reason"]


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        (b"not a message", "", "neither CAP XML nor NINA JSON"),
        (
            message([info("de", "x", "y")], sender="nobody@example.org")[0],
            "alert.sender",
            "not in the CAP policy",
        ),
        (
            message([info("de", "x", "y", polygon="47.37,8.53 47.38,8.54 47.37,8.53")])[0],
            "alert.info.0.area.0.polygon.0",
            "at least 4",
        ),
        (
            message(
                [
                    info(
                        "de",
                        "x",
                        "y",
                        polygon="8.5370,47.3710 8.5410,47.3710 8.5410,47.3730 "
                        "8.5370,47.3730 8.5370,47.3710",
                    )
                ]
            )[0],
            "alert.info.0.area.0.polygon.0",
            "look like lon,lat",
        ),
        (message(msg_type="Update")[0], "alert.references", "needs references"),
    ],
)
def test_bad_messages_are_422_naming_the_element_and_change_nothing(
    cap_service: LiveService, body: bytes, where: str, what: str
) -> None:
    before = _alert_count(cap_service)
    response = cap_service.http.post("/cap", content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert what in problem["detail"]
    if where:
        assert any(".".join(map(str, e["loc"])) == where for e in problem["errors"]), problem
    assert _alert_count(cap_service) == before
    refused = [r for r in cap_service.http.get("/audit").json() if r["action"] == "cap.refused"]
    assert refused, "every refusal is audited"
    if body.startswith(b"<?xml"):
        assert refused[0]["subject"].startswith("mow.TEST-")  # named by its identifier


def test_preview_shows_lanterns_streets_and_the_area_outside_the_inventory(
    cap_service: LiveService,
) -> None:
    body, _, _ = message([info("de-DE", "Brand", "Fenster zu.", polygon=WIDE)])
    response = cap_service.http.post("/cap/preview", content=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    plan = preview["plan"]
    assert plan["lantern_count"] == 148  # every fixture lantern lies in the wide polygon
    assert {s["name"] for s in plan["streets"]} >= {"Bahnhofstrasse"}
    assert plan["outside_area"]["type"] in ("Polygon", "MultiPolygon")
    assert 0.5 < plan["outside_share"] < 1.0  # most of it lies east of the inventory
    assert preview["polygon_count"] == 1
    assert _alert_count(cap_service) == 0


@pytest.fixture
def no_hold_service(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> Iterator[LiveService]:
    """References to unseen messages are held 0 s: the next intake releases them."""
    settings = make_settings(
        tmp_path, mosquitto.url, topic_root, cap_sources=cap_support.POLICY, cap_hold_s=0
    )
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


def test_after_the_hold_an_update_plays_alone_and_a_cancel_is_recorded(
    no_hold_service: LiveService,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    update, _, _ = message(
        [info("de-DE", "Sturm", "Bleiben Sie drinnen.")],
        msg_type="Update",
        references=[(SENDER, "mow.NEVER-SEEN-1", now)],
    )
    held = post_cap(no_hold_service, update)
    assert held["decision"] == "held"
    cancel, _, _ = message(msg_type="Cancel", references=[(SENDER, "mow.NEVER-SEEN-2", now)])
    held_cancel = post_cap(no_hold_service, cancel)
    assert held_cancel["decision"] == "held"
    # any later intake (or the feed poller's tick) releases what waited long enough
    system, _, _ = message([info("de-DE", "System", "x")], status="System")
    assert post_cap(no_hold_service, system)["decision"] == "recorded"
    played = no_hold_service.http.get(f"/cap/messages/{held['id']}").json()
    assert played["decision"] == "played", played
    alert = no_hold_service.http.get(f"/alerts/{played['alert_ids'][0]}").json()
    assert alert["messages"]["de"].endswith("Bleiben Sie drinnen.")
    dropped = no_hold_service.http.get(f"/cap/messages/{held_cancel['id']}").json()
    assert dropped["decision"] == "recorded"
    assert "never arrived" in dropped["reason"]


def test_a_pinned_sender_must_sign_its_messages(
    inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    key, cert = signing_pair()
    pem = tmp_path / "mowas.pem"
    pem.write_bytes(cert)
    settings = make_settings(
        tmp_path,
        mosquitto.url,
        topic_root,
        cap_sources=cap_support.POLICY,
        cap_signing_certs={SENDER: str(pem)},
    )
    live = LiveService(settings, inventory)
    live.start()
    try:
        body, _, _ = message([info("de-DE", "Brand", "Fenster zu.")])
        refused = live.http.post("/cap", content=body)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"] == ["alert", "Signature"]
        assert _alert_count(live) == 0
        signed = sign(key, cert, body)
        out = post_cap(live, signed)
        assert out["decision"] == "played", out
        audit = live.http.get("/audit", params={"limit": 20}).json()
        assert any(r["action"] == "cap.refused" for r in audit)
    finally:
        live.stop()
