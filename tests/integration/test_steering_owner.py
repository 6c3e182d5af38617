"""Steering belongs to someone (issue 13, finding 8): a city app sees and ends only its own
steerings; dispatchers and operators see and end all of them."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker]

GREEN = {"target": {"streets": ["Poststrasse"]}, "light": {"on": True, "color": "#00C853"}}


def _as(service: LiveService, name: str, roles: str) -> httpx.Client:
    token = service.make_token(name, roles)
    return httpx.Client(
        base_url=f"{service.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_city_app_sees_and_ends_only_its_own_steering(service: LiveService) -> None:
    parking, events = _as(service, "parking", "city_app"), _as(service, "events", "city_app")
    mine = parking.post("/steering", json={**GREEN, "ends_in_s": 600, "label": "P1"})
    assert mine.status_code == 201, mine.text
    theirs = events.post("/steering", json={**GREEN, "ends_in_s": 600, "label": "concert"})
    assert theirs.status_code == 201, theirs.text
    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]
    assert mine.json()["owner"].startswith("token:parking")

    assert [s["id"] for s in parking.get("/steering").json()] == [mine_id]
    assert [s["id"] for s in events.get("/steering", params={"active": True}).json()] == [theirs_id]
    assert parking.get(f"/steering/{theirs_id}").status_code == 403

    refused = parking.delete(f"/steering/{theirs_id}")
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "only the steerings it made" in refused.json()["detail"]
    assert events.get(f"/steering/{theirs_id}").json()["status"] == "active"

    # Those who answer for the streets see every steering and may end any.
    for roles in ("operator", "dispatcher"):
        seen = {s["id"] for s in _as(service, roles, roles).get("/steering").json()}
        assert {mine_id, theirs_id} <= seen, roles
    ended = _as(service, "operator", "operator").delete(f"/steering/{theirs_id}")
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "released"
    own = parking.delete(f"/steering/{mine_id}")
    assert own.status_code == 200, own.text
