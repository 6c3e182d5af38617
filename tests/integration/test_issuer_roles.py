"""Commands carry the role of whoever issued them, and signed lanterns obey them; a city app
limited to its groups steers only inside them and ends nothing above its ceiling."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from firmware_sim import Fleet
from lightctl.store.tables import CommandRow
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker]

ALERT: dict[str, Any] = {
    "target": {"streets": ["Poststrasse"]},
    "messages": {"de": "Achtung, Brand."},
    "priority": 1,
}
GREEN = {"on": True, "color": "#00C853"}


def _as(service: LiveService, roles: str, groups: tuple[str, ...] = ()) -> httpx.Client:
    token = service.make_token(roles.replace(",", "-"), roles, groups)
    return httpx.Client(
        base_url=f"{service.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _roles_of(service: LiveService, command_ids: set[str]) -> set[str]:
    """The ``role`` in each stored (signed, published) envelope."""
    assert command_ids
    with service.runtime.db.session() as session:
        rows = [session.get(CommandRow, c) for c in command_ids]
    return {json.loads(r.envelope)["role"] for r in rows if r is not None}


def _steering_commands(client: httpx.Client, steering_id: str, op: str) -> set[str]:
    rows = client.get(f"/steering/{steering_id}", params={"lanterns": True}).json()["lanterns"]
    return {r["command_id"] for r in rows if r["op"] == op and r["command_id"]}


def _steer(client: httpx.Client, target: dict[str, Any], priority: int = 10) -> httpx.Response:
    return client.post(
        "/steering", json={"target": target, "light": GREEN, "ends_in_s": 600, "priority": priority}
    )


def _wait_applied(client: httpx.Client, steering_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = client.get(f"/steering/{steering_id}").json()["channels"]["light"]["counts"]
        if counts and set(counts) <= {"applied", "done"}:
            return counts
        time.sleep(0.1)
    raise AssertionError(f"steering {steering_id} never applied everywhere: {counts}")


def test_envelopes_name_the_issuers_role_and_signed_lanterns_obey(
    service: LiveService, fleet: Fleet
) -> None:
    dispatcher, app = _as(service, "dispatcher"), _as(service, "city_app")
    both = _as(service, "dispatcher,operator")
    alert = dispatcher.post("/alerts", json={**ALERT, "expires_in_s": 60})
    assert alert.status_code == 201, alert.text
    done = service.wait_for(alert.json()["id"], lambda b: b["status"] == "completed", 60)
    assert set(done["counts"]) == {"done"}, done["counts"]  # no lantern refused the role
    assert _roles_of(service, {c["id"] for c in done["commands"]}) == {"dispatcher"}

    steered = _steer(app, {"streets": ["Talacker"]})
    assert steered.status_code == 201, steered.text
    app_id = steered.json()["id"]
    _wait_applied(app, app_id)
    assert _roles_of(service, _steering_commands(app, app_id, "set")) == {"city_app"}
    # A dispatcher who is also an operator sets slot 8 as operator: the smallest claim that
    # covers it, signed with the ordinary key.
    override = _steer(both, {"streets": ["Bahnhofstrasse"]}, priority=8)
    assert override.status_code == 201, override.text
    _wait_applied(both, override.json()["id"])
    assert _roles_of(service, _steering_commands(both, override.json()["id"], "set")) == {
        "operator"
    }
    # Releases carry the releasing caller's role.
    assert app.delete(f"/steering/{app_id}").status_code == 200
    assert _roles_of(service, _steering_commands(app, app_id, "release")) == {"city_app"}
    running = dispatcher.post("/alerts", json={**ALERT, "expires_in_s": 600}).json()
    cancelled = dispatcher.post(f"/alerts/{running['id']}/cancel").json()
    releases = {c["id"] for c in cancelled["commands"] if c["op"] == "release"}
    assert _roles_of(service, releases) == {"dispatcher"}


def test_a_city_app_stays_inside_its_groups_and_below_its_ceiling(service: LiveService) -> None:
    zone = service.http.post(
        "/groups", json={"name": "app-zone", "target": {"streets": ["Poststrasse"]}}
    )
    assert zone.status_code == 201, zone.text
    app = _as(service, "city_app", ("app-zone",))
    # Inside its group: by the group's name, or by a street (an area, a route) within it.
    assert _steer(app, {"groups": ["app-zone"]}).status_code == 201
    inside = _steer(app, {"streets": ["Poststrasse"]})
    assert inside.status_code == 201, inside.text
    # Outside: a street beyond the group, a group that is not its own.
    outside = _steer(app, {"streets": ["Bahnhofstrasse"]})
    assert outside.status_code == 403
    assert "outside" in outside.json()["detail"]
    foreign = _steer(app, {"groups": ["elsewhere"]})
    assert foreign.status_code == 403
    assert "elsewhere" in foreign.json()["detail"]
    # No alerts: not to create, update or cancel.
    alert = service.http.post("/alerts", json=ALERT).json()
    assert app.post("/alerts", json={**ALERT, "priority": 10}).status_code == 403
    for action in ("update", "cancel", "all-clear"):
        body = {"messages": {"de": "Entwarnung"}} if action == "update" else None
        refused = app.post(f"/alerts/{alert['id']}/{action}", json=body)
        assert refused.status_code == 403, (action, refused.text)
    # Another steering beyond its group is not its to end; its own is.
    theirs = _steer(service.http, {"streets": ["Bahnhofstrasse"]}).json()
    assert app.delete(f"/steering/{theirs['id']}").status_code == 403
    assert app.delete(f"/steering/{inside.json()['id']}").status_code == 200
    # Emergency guidance (slot 3) is above any city app's ceiling: refused, naming it.
    guidance = _steer(service.http, {"streets": ["Poststrasse"]}, priority=3).json()
    refused = _as(service, "city_app").delete(f"/steering/{guidance['id']}")
    assert refused.status_code == 403
    assert refused.json()["ceiling"] == 10
    assert "ceiling of 10" in refused.json()["detail"]
    assert service.http.get(f"/steering/{guidance['id']}").json()["status"] == "active"
