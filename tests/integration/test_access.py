"""Roles and ceilings against the live service: who may send what, four eyes, sign-in, limits,
headers, and the audit trail the requests leave behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim import Fleet
from lightctl.services.access.auth import AuthService
from lightctl.services.audit import AuditTrail
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.integration.resilience import wait_until
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker]

ALERT: dict[str, Any] = {
    "target": {"streets": ["Poststrasse"]},
    "messages": {"de": "Achtung, Brand.", "en": "Attention, fire."},
}


def _as(service: LiveService, roles: str, **kwargs: Any) -> httpx.Client:
    token = service.make_token(roles.replace(",", "-"), roles, **kwargs)
    return httpx.Client(
        base_url=f"{service.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_priority_ceilings(service: LiveService) -> None:
    feed, city, viewer = _as(service, "feed"), _as(service, "city_app"), _as(service, "viewer")
    refused = feed.post("/alerts", json={**ALERT, "priority": 1})
    assert refused.status_code == 403
    assert refused.json()["code"] == "priority_above_ceiling"
    assert "ceiling of 2" in refused.json()["detail"]
    sent = feed.post("/alerts", json=ALERT)  # no priority: the feed's own ceiling
    assert sent.status_code == 201, sent.text
    assert sent.json()["priority"] == 2
    dispatcher_alert = service.http.post("/alerts", json={**ALERT, "priority": 1}).json()
    cancel = feed.post(f"/alerts/{dispatcher_alert['id']}/cancel")
    assert cancel.status_code == 403
    assert cancel.json()["ceiling"] == 2
    assert city.post("/alerts", json={**ALERT, "priority": 10}).json()["code"] == "forbidden"
    assert city.post(f"/alerts/{dispatcher_alert['id']}/cancel").status_code == 403
    assert viewer.get("/alerts").status_code == 200
    assert viewer.post("/groups", json={"name": "g", "lanterns": []}).status_code == 403
    me = viewer.get("/auth/me").json()
    assert me["roles"] == ["viewer"]
    assert me["ceiling"] is None


def test_sign_in_revocation_and_rate_limit(service: LiveService) -> None:
    auth = AuthService(service.runtime.db, lambda: datetime.now(UTC))
    auth.create_user("erika", "correct horse battery", "dispatcher")
    anonymous = httpx.Client(base_url=f"{service.url}/api/v1", timeout=30)
    assert anonymous.get("/alerts").status_code == 401
    assert "Bearer" in anonymous.get("/alerts").headers["www-authenticate"]
    login = anonymous.post(
        "/auth/login", json={"username": "erika", "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/auth/me", headers=headers).json()["subject"] == "erika"
    assert anonymous.post("/auth/logout", headers=headers).status_code == 204
    gone = anonymous.get("/alerts", headers=headers)
    assert gone.status_code == 401
    assert 'error="invalid_token"' in gone.headers["www-authenticate"]
    codes = [
        anonymous.post("/auth/login", json={"username": "erika", "password": "wrong"}).status_code
        for _ in range(12)
    ]
    assert codes[0] == 401
    assert codes[-1] == 429


def test_limits_and_headers(service: LiveService) -> None:
    big = {**ALERT, "messages": {"de": "x" * (2 * 1024 * 1024)}}
    assert service.http.post("/alerts", json=big).status_code == 413
    for path in ("/", "/api/v1/alerts"):
        response = service.http.get(f"{service.url}{path}")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "script-src 'self';" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"


def test_audit_records_requests_and_outcomes(service: LiveService, fleet: Fleet) -> None:
    operator, viewer = _as(service, "operator"), _as(service, "viewer")
    alert = service.http.post("/alerts", json={**ALERT, "expires_in_s": 30}).json()
    service.wait_for(alert["id"], lambda b: b["status"] == "completed", 60)
    service.http.post(f"/alerts/{alert['id']}/cancel")
    assert viewer.get("/audit").status_code == 403
    records = operator.get("/audit", params={"subject": alert["id"]}).json()
    actions = {r["action"] for r in records}
    assert "POST /api/v1/alerts" in actions
    assert "POST /api/v1/alerts/{alert_id}/cancel" in actions
    created = next(r for r in records if r["action"] == "POST /api/v1/alerts")
    assert created["actor"].startswith("token:tests")
    assert created["detail"]["body"]["messages"]["de"] == "Achtung, Brand."

    def outcomes() -> list[dict[str, Any]]:
        params = {"action": "alert.outcome", "subject": alert["id"]}
        found: list[dict[str, Any]] = operator.get("/audit", params=params).json()
        return found

    wait_until(lambda: bool(outcomes()), 30, "the alert's outcome record")
    outcome = outcomes()
    detail = outcome[0]["detail"]
    assert detail["status"] == "cancelled"
    assert detail["messages"]["en"] == "Attention, fire."
    assert sum(detail["counts"].values()) == alert["lantern_count"]
    assert len(detail["lantern_states"]) == alert["lantern_count"]
    report = AuditTrail(service.runtime.db, lambda: datetime.now(UTC)).verify()
    assert report.ok, report.findings


@pytest.fixture
def four_eyes(
    inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[LiveService]:
    settings = make_settings(tmp_path, mosquitto.url, topic_root, four_eyes_roles={"dispatcher"})
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


def test_four_eyes_and_break_glass(four_eyes: LiveService, fleet: Fleet) -> None:
    anna = _as(four_eyes, "dispatcher")
    # Only a person approves: ben's token is issued to the user ben.
    auth = AuthService(four_eyes.runtime.db, lambda: datetime.now(UTC))
    auth.create_user("ben", "correct horse battery", "dispatcher")
    _row, secret = auth.create_token("ben-laptop", "dispatcher", user="ben")
    ben = httpx.Client(
        base_url=f"{four_eyes.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}
    )
    held = anna.post("/alerts", json=ALERT)
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "awaiting_approval"
    assert set(body["counts"]) == {"held"}
    # Nothing may go out meanwhile: a pump of the outbox, run here and now, finds nothing due
    # (the background pump would have found the same) and the deliveries are still held.
    outbox = four_eyes.runtime.outbox
    assert outbox is not None
    assert outbox.pump() == 0
    assert set(anna.get(f"/alerts/{body['id']}").json()["counts"]) == {"held"}
    assert anna.post(f"/alerts/{body['id']}/approve").status_code == 403  # not the same person
    approved = ben.post(f"/alerts/{body['id']}/approve")
    assert approved.status_code == 200, approved.text
    four_eyes.wait_for(body["id"], lambda b: b["status"] == "completed", 60)
    # Break-glass: life safety goes out at once, and the reason is on record.
    urgent = anna.post(
        "/alerts", json=ALERT, params={"break_glass": "gas explosion, no second dispatcher"}
    )
    assert urgent.json()["status"] == "sending"
    records = four_eyes.http.get("/audit", params={"action": "alert.break_glass"}).json()
    assert records[0]["subject"] == urgent.json()["id"]
    assert "gas explosion" in records[0]["detail"]["reason"]
    low = anna.post(
        "/alerts", json={**ALERT, "priority": 5}, params={"break_glass": "not life safety"}
    )
    assert low.status_code == 422
    # A held alert can be dropped without anything ever being sent.
    dropped = anna.post("/alerts", json=ALERT).json()
    cancelled = ben.post(f"/alerts/{dropped['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert set(cancelled["counts"]) == {"cancelled"}
