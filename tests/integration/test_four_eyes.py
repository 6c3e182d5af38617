"""Four eyes means two people (issue 13, finding 4): a held role stays held whatever is added
to it, a person's token and sign-in are one person, and what a second person approved does
not change on the first one's word."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lightctl.services.access.auth import AuthService
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker]

ALERT: dict[str, Any] = {
    "target": {"streets": ["Poststrasse"]},
    "messages": {"de": "Achtung, Brand.", "en": "Attention, fire."},
}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def four_eyes(
    inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[LiveService]:
    settings = make_settings(tmp_path, mosquitto.url, topic_root, four_eyes_roles={"dispatcher"})
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


def _auth(service: LiveService) -> AuthService:
    return AuthService(service.runtime.db, lambda: datetime.now(UTC))


def _client(service: LiveService, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{service.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def _token(service: LiveService, roles: str, user: str | None = None) -> httpx.Client:
    name = f"t-{uuid.uuid4().hex[:6]}"
    _row, secret = _auth(service).create_token(name, roles, user=user)
    return _client(service, secret)


def _person(service: LiveService, username: str, roles: str = "dispatcher") -> httpx.Client:
    """A user signed in to the console (a session token, as the browser gets it)."""
    _auth(service).create_user(username, PASSWORD, roles)
    login = httpx.post(
        f"{service.url}/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    return _client(service, login.json()["token"])


def test_a_held_role_stays_held_whatever_is_added(four_eyes: LiveService) -> None:
    both = _token(four_eyes, "dispatcher,viewer")
    held = both.post("/alerts", json=ALERT)
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "awaiting_approval"
    assert body["counts"] == {"held": body["lantern_count"]}


def test_the_same_user_by_token_and_session_is_one_person(four_eyes: LiveService) -> None:
    session = _person(four_eyes, "dispatcher")
    token = _token(four_eyes, "dispatcher", user="dispatcher")
    assert token.get("/auth/me").json()["user"] == "dispatcher"
    held = token.post("/alerts", json=ALERT).json()
    assert held["status"] == "awaiting_approval"

    same = session.post(f"/alerts/{held['id']}/approve")
    assert same.status_code == 403, same.text
    assert "second person" in same.json()["detail"]
    machine = _token(four_eyes, "dispatcher").post(f"/alerts/{held['id']}/approve")
    assert machine.status_code == 403, machine.text
    assert "needs a person" in machine.json()["detail"]
    assert session.get(f"/alerts/{held['id']}").json()["counts"] == {"held": held["lantern_count"]}

    other = _person(four_eyes, "ben")
    approved = other.post(f"/alerts/{held['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "sending"


def test_an_approved_alert_changes_only_with_a_new_approval(four_eyes: LiveService) -> None:
    anna, ben = _person(four_eyes, "anna"), _person(four_eyes, "ben")
    alert = anna.post("/alerts", json=ALERT).json()
    assert ben.post(f"/alerts/{alert['id']}/approve").status_code == 200
    before = anna.get(f"/alerts/{alert['id']}").json()

    wider = {
        "target": {"streets": ["Poststrasse", "Bahnhofstrasse"]},
        "messages": {"de": "Neu.", "en": "New."},
    }
    for who in (anna, ben):
        refused = who.post(f"/alerts/{alert['id']}/update", json=wider)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["code"] == "approval_required"
        assert problem["changed"] == ["target", "messages"]
    for change in ({"languages": ["en"]}, {"template": "fire_smoke", "params": {}}):
        assert anna.post(f"/alerts/{alert['id']}/update", json=change).status_code == 409
    all_clear = anna.post(f"/alerts/{alert['id']}/all-clear", json={"messages": {"de": "Ha!"}})
    assert all_clear.status_code == 409, all_clear.text
    after = anna.get(f"/alerts/{alert['id']}").json()
    for key in ("target", "messages", "languages", "lantern_count", "status"):
        assert after[key] == before[key], key
    sent = [(c["id"], c["channel"], c["op"]) for c in before["commands"]]
    assert [(c["id"], c["channel"], c["op"]) for c in after["commands"]] == sent  # nothing new

    longer = anna.post(f"/alerts/{alert['id']}/update", json={"expires_in_s": 1800})
    assert longer.status_code == 200, longer.text  # the expiry alone needs no second person

    urgent = anna.post(
        f"/alerts/{alert['id']}/update",
        json=wider,
        params={"break_glass": "fire spreads to Bahnhofstrasse, no second dispatcher"},
    )
    assert urgent.status_code == 200, urgent.text
    assert urgent.json()["messages"] == {"de": "Neu.", "en": "New."}
    records = four_eyes.http.get("/audit", params={"action": "alert.break_glass"}).json()
    assert records[0]["subject"] == alert["id"]
    assert records[0]["detail"]["changed"] == ["target", "messages"]
    assert "Bahnhofstrasse" in records[0]["detail"]["reason"]
