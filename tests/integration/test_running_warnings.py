"""A warning stays in the running list until it is over on the street: delivered but holding its
light and pictogram, cancelled but not yet released by every lantern, then ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def _running_ids(service: LiveService) -> list[str]:
    response = service.http.get("/alerts", params={"running": True})
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()]


def _expiry(body: dict[str, Any], channel: str) -> datetime:
    cmd = next(c for c in body["commands"] if c["channel"] == channel and c["op"] == "set")
    return datetime.fromisoformat(cmd["expires_at"])


def test_delivered_warning_holds_until_released(service: LiveService, fleet: Fleet) -> None:
    sent = service.http.post(
        "/alerts",
        json={"target": {"streets": ["Poststrasse"]}, "messages": {"de": "Achtung.", "en": "Go."}},
    )
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    n = alert["lantern_count"]
    assert alert["phase"] in ("sending", "playing")
    assert alert["running"] is True

    # Every lantern has played it: delivered, yet light and pictogram stay on until expiry.
    body = service.wait_for(alert["id"], lambda b: b["counts"] == {"done": n}, 60)
    assert body["status"] == "completed"
    assert body["phase"] == "holding"
    assert {"light", "projection"} <= set(body["holding"])
    assert datetime.fromisoformat(body["holding_until"]) == _expiry(body, "light")
    assert alert["id"] in _running_ids(service)
    # Older warnings do not push it off the list: it is listed whatever the page size.
    for _ in range(3):
        other = service.http.post(
            "/alerts",
            json={"target": {"streets": ["Poststrasse"]}, "messages": {"de": "x", "en": "x"}},
        )
        assert other.status_code == 201
    assert service.http.get("/alerts", params={"limit": 1}).json()[0]["id"] != alert["id"]
    assert alert["id"] in _running_ids(service)

    # Cancelled: ending until every lantern confirmed the release, then ended and off the list.
    cancelled = service.http.post(f"/alerts/{alert['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["phase"] == "ending"
    assert cancelled.json()["releases"]  # the releases are counted from the start
    ended = service.wait_for(alert["id"], lambda b: b["phase"] == "ended", 60)
    released = sum(n for s, n in ended["releases"].items() if s in ("done", "applied"))
    assert released == sum(ended["releases"].values())
    assert ended["released"] == {"confirmed": n, "open": 0, "unconfirmed": 0}
    assert alert["id"] not in _running_ids(service)
