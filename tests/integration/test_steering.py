"""Steering on simulated lanterns over a real broker: arbitration with warnings, release, routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod

from firmware_sim import Fleet
from lightctl.geo.crs import MetricProjection
from lightctl.protocol import Channel, ChannelState
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

GREEN = {"on": True, "brightness": 80, "color": "#00C853"}
GEOD = Geod(ellps="WGS84")


def _ids(service: LiveService, street: str) -> list[str]:
    rows = service.http.get("/lanterns", params={"street": street}).json()
    return [r["id"] for r in rows]


def _channel(fleet: Fleet, lantern_id: str, channel: Channel = "light") -> ChannelState:
    return fleet.lantern(lantern_id).state(datetime.now(UTC)).channels[channel]


def _until(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _post(service: LiveService, url: str, **body: Any) -> dict[str, Any]:
    response = service.http.post(url, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _held(fleet: Fleet, ids: list[str], priority: int | None, cmd: str | None = None) -> bool:
    states = [_channel(fleet, lid) for lid in ids]
    return all(s.priority == priority and (cmd is None or s.cmd_id == cmd) for s in states)


def test_green_route_yields_to_a_warning_on_the_overlap_only_and_comes_back(
    service: LiveService, fleet: Fleet
) -> None:
    post, tal = _ids(service, "Poststrasse"), _ids(service, "Talacker")
    steering = _post(
        service,
        "/steering",
        target={"streets": ["Poststrasse", "Talacker"]},
        light=GREEN,
        ends_in_s=600,
        label="stadium to station",
    )
    assert (steering["priority"], steering["purpose"]) == (10, "visitor_steering")
    _until(lambda: _held(fleet, post + tal, 10), "the green route")
    green = _channel(fleet, post[0]).cmd_id
    assert _channel(fleet, post[0]).value == {**GREEN, "effect": "steady"}

    alert = _post(
        service, "/alerts", target={"streets": ["Poststrasse"]}, messages={"de": "Achtung."}
    )
    _until(lambda: _held(fleet, post, 1), "the warning light on Poststrasse")
    assert _held(fleet, tal, 10, green)  # Talacker, not warned, keeps the route
    assert all(fleet.lantern(lid).slot("light", 10) is not None for lid in post)

    def warned_view() -> dict[str, Any] | None:
        view: dict[str, Any] = service.http.get(f"/lanterns/{post[0]}").json()["channels"]["light"]
        return view if view["mismatch"] is False else None

    _until(lambda: warned_view() is not None, "the lantern view to show the warning")
    view = warned_view()
    assert view is not None
    assert (view["desired"]["holder_kind"], view["desired"]["holder_id"]) == ("alert", alert["id"])
    assert (view["reported"]["priority"], view["reported"]["holder_id"]) == (1, alert["id"])

    assert service.http.post(f"/alerts/{alert['id']}/cancel").status_code == 200
    _until(lambda: _held(fleet, post, 10, green), "the route coming back by itself")

    def delivered() -> bool:
        body = service.http.get(f"/steering/{steering['id']}").json()
        return bool(body["channels"]["light"]["delivered"] == len(post + tal))

    _until(delivered, "every lantern to ack the route")
    body = service.http.get(f"/steering/{steering['id']}").json()
    assert body["command_count"] == steering["command_count"]  # nothing was sent again

    lid = post[0]

    def agrees() -> bool:
        view = service.http.get(f"/lanterns/{lid}").json()["channels"]["light"]
        return view["mismatch"] is False

    _until(agrees, "the reported state to match the desired one")
    light = service.http.get(f"/lanterns/{lid}").json()["channels"]["light"]
    assert light["desired"]["holder_kind"] == "steering"
    assert light["desired"]["holder_id"] == steering["id"]
    assert light["reported"]["priority"] == 10
    assert light["reported"]["holder_id"] == steering["id"]


def test_release_during_a_warning_changes_nothing_until_the_warning_ends(
    service: LiveService, fleet: Fleet
) -> None:
    post = _ids(service, "Poststrasse")
    steering = _post(
        service, "/steering", target={"streets": ["Poststrasse"]}, light=GREEN, ends_in_s=600
    )
    _until(lambda: _held(fleet, post, 10), "the green route")
    alert = _post(
        service, "/alerts", target={"streets": ["Poststrasse"]}, messages={"de": "Achtung."}
    )
    _until(lambda: _held(fleet, post, 1), "the warning light")
    warning = [_channel(fleet, lid) for lid in post]

    response = service.http.delete(f"/steering/{steering['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "released"

    def released() -> bool:
        body = service.http.get(f"/steering/{steering['id']}").json()
        return bool(body["channels"]["light"]["release_counts"] == {"done": len(post)})

    _until(released, "the lanterns to ack the release")
    assert [_channel(fleet, lid) for lid in post] == warning  # nothing visible changed
    assert all(fleet.lantern(lid).slot("light", 10) is None for lid in post)
    assert service.http.delete(f"/steering/{steering['id']}").status_code == 409

    assert service.http.post(f"/alerts/{alert['id']}/cancel").status_code == 200
    _until(lambda: _held(fleet, post, 16, None), "the lantern default (the route is gone)")


def _bent_route() -> dict[str, Any]:
    """Down Bahnhofstrasse (south-south-east), then left into Poststrasse (east)."""
    return {
        "type": "LineString",
        "coordinates": [[8.53821, 47.37248], [8.5394, 47.36964], [8.54049, 47.36967]],
    }


def test_arrows_follow_a_bent_route_and_chases_run_toward_the_destination(
    service: LiveService, fleet: Fleet
) -> None:
    line = _bent_route()
    steering = _post(
        service,
        "/steering",
        target={"route": {"line": line, "width_m": 15}},
        guidance={"destination": [8.5405, 47.3697]},
        projection={"pictogram": "arrow", "color": "#00C853"},
        path={"level": 70, "mode": "chase", "period_ms": 3000},
        ends_in_s=600,
    )
    n = steering["lantern_count"]
    assert n >= 20
    body = service.http.get(f"/steering/{steering['id']}", params={"lanterns": True}).json()
    ids = sorted({r["lantern"] for r in body["lanterns"]})
    assert len(ids) == n
    _until(lambda: all(_channel(fleet, i, "projection").priority == 10 for i in ids), "arrows")
    _until(lambda: all(_channel(fleet, i, "path").priority == 10 for i in ids), "chases")

    coords = line["coordinates"]
    projection = MetricProjection.around(coords[1][0], coords[1][1])
    xs, ys = projection.to_xy([c[0] for c in coords], [c[1] for c in coords])
    metric = shapely.LineString(np.column_stack([xs, ys]))
    corner = shapely.line_locate_point(metric, shapely.Point(xs[1], ys[1]))
    legs = [GEOD.inv(*coords[0], *coords[1])[0] % 360, GEOD.inv(*coords[1], *coords[2])[0] % 360]
    rows = {r["id"]: r for r in service.http.get("/lanterns", params={"limit": 1000}).json()}
    along: list[tuple[float, int]] = []
    checked = 0
    for lid in ids:
        lx, ly = projection.to_xy([rows[lid]["lon"]], [rows[lid]["lat"]])
        s = float(shapely.line_locate_point(metric, shapely.Point(lx[0], ly[0])))
        heading = _channel(fleet, lid, "projection").value["heading_deg"]  # type: ignore[index]
        phase = _channel(fleet, lid, "path").value["phase_ms"]  # type: ignore[index]
        along.append((s, phase))
        if abs(s - corner) < 2.0:
            continue  # at the corner itself the arrow already turns into Poststrasse
        expected = legs[0] if s < corner else legs[1]
        assert abs((heading - expected + 180) % 360 - 180) <= 5.0, (lid, heading, expected)
        checked += 1
    assert checked >= n - 2
    phases = [p for _s, p in sorted(along)]
    assert phases == sorted(phases), "chase phases must rise toward the destination"
    assert phases[-1] > phases[0]


def test_a_channel_the_lantern_lacks_is_rejected_unsupported_and_not_delivered(
    service: LiveService, fleet: Fleet
) -> None:
    post = _ids(service, "Poststrasse")
    lacking = post[0]
    fleet.lantern(lacking).capabilities = frozenset({"speaker", "rgb", "path_light"})
    steering = _post(
        service,
        "/steering",
        target={"streets": ["Poststrasse"]},
        projection={"pictogram": "walk", "color": "#00C853"},
        ends_in_s=600,
    )

    def settled() -> bool:
        body = service.http.get(f"/steering/{steering['id']}").json()
        counts: dict[str, int] = body["channels"]["projection"]["counts"]
        return sum(counts.values()) == counts.get("applied", 0) + counts.get("rejected", 0)

    _until(settled, "every projection delivery to settle")
    body = service.http.get(f"/steering/{steering['id']}", params={"lanterns": True}).json()
    projection = body["channels"]["projection"]
    assert projection["counts"] == {"applied": len(post) - 1, "rejected": 1}
    assert projection["delivered"] == len(post) - 1
    row = next(r for r in body["lanterns"] if r["lantern"] == lacking)
    assert (row["state"], row["reason"]) == ("rejected", "unsupported")


def test_footpath_in_motion_mode_lights_up_when_someone_passes(
    service: LiveService, fleet: Fleet
) -> None:
    post = _ids(service, "Poststrasse")
    _post(
        service,
        "/steering",
        target={"lanterns": post[:2]},
        path={"level": 60, "mode": "motion", "hold_s": 2},
        ends_in_s=600,
    )
    lid, other = post[0], post[1]
    _until(lambda: _channel(fleet, lid, "path").priority == 10, "the motion path")
    assert _channel(fleet, lid, "path").lit is False
    fleet.passer_by(lid)
    _until(lambda: _channel(fleet, lid, "path").lit is True, "the path to light up")
    assert _channel(fleet, other, "path").lit is False  # only where someone passed

    def reported_lit() -> bool:
        view = service.http.get(f"/lanterns/{lid}").json()["channels"]["path"]
        return bool(view["reported"] and view["reported"]["lit"] is True)

    _until(reported_lit, "the lit path in the lantern's reported state")
    _until(lambda: _channel(fleet, lid, "path").lit is False, "the hold to end", timeout_s=10)
    assert len(fleet.record(lid).motion) == 1


def test_release_leaves_a_slot_someone_else_wrote_since(service: LiveService, fleet: Fleet) -> None:
    """A release names its command: where another steering took the slot since, the lantern
    acks it `not_holder` and keeps the other's command."""
    post, tal = _ids(service, "Poststrasse"), _ids(service, "Talacker")
    first = _post(
        service,
        "/steering",
        target={"streets": ["Poststrasse", "Talacker"]},
        light=GREEN,
        ends_in_s=600,
    )
    _until(lambda: _held(fleet, post + tal, 10), "the first route")
    blue = {"on": True, "color": "#2962FF"}
    _post(service, "/steering", target={"streets": ["Talacker"]}, light=blue, ends_in_s=600)
    _until(lambda: all(_channel(fleet, i).value["color"] == "#2962FF" for i in tal), "blue")  # type: ignore[index]
    blue_cmd = _channel(fleet, tal[0]).cmd_id

    response = service.http.delete(f"/steering/{first['id']}")
    assert response.status_code == 200, response.text
    assert sum(response.json()["channels"]["light"]["release_counts"].values()) == len(post + tal)
    _until(lambda: _held(fleet, post, 16, None), "Poststrasse back to its default")
    _until(lambda: _release_reasons(service, first["id"]) is not None, "every release acked")
    assert _release_reasons(service, first["id"]) == {
        **{lid: None for lid in post},
        **{lid: "not_holder" for lid in tal},  # on Talacker the other app's route holds it
    }
    assert _held(fleet, tal, 10, blue_cmd)  # the other app's route stays


def _release_reasons(service: LiveService, steering_id: str) -> dict[str, str | None] | None:
    """Per lantern, the reason its release was acked `done` with (None: not all acked yet)."""
    body = service.http.get(f"/steering/{steering_id}", params={"lanterns": True}).json()
    rows = [r for r in body["lanterns"] if r["op"] == "release"]
    if not rows or any(r["state"] != "done" for r in rows):
        return None
    return {r["lantern"]: r["reason"] for r in rows}


def test_deleting_one_of_two_steerings_on_the_same_slot_leaves_the_other_visible(
    service: LiveService, fleet: Fleet
) -> None:
    """Two city apps steer the same lanterns at the same slot; the later one shows. DELETE of
    the earlier releases exactly its own command: the later stays, on every lantern."""
    post = _ids(service, "Poststrasse")
    first = _post(service, "/steering", target={"lanterns": post}, light=GREEN, ends_in_s=600)
    _until(lambda: _held(fleet, post, 10), "the first route")
    blue = {"on": True, "color": "#2962FF"}
    second = _post(service, "/steering", target={"lanterns": post}, light=blue, ends_in_s=600)
    assert second["priority"] == first["priority"] == 10
    _until(lambda: all(_channel(fleet, i).value["color"] == "#2962FF" for i in post), "blue")  # type: ignore[index]
    blue_cmd = _channel(fleet, post[0]).cmd_id

    assert service.http.delete(f"/steering/{first['id']}").status_code == 200
    _until(lambda: _release_reasons(service, first["id"]) is not None, "every release acked")
    assert set(_release_reasons(service, first["id"]).values()) == {"not_holder"}  # type: ignore[union-attr]
    assert _held(fleet, post, 10, blue_cmd)  # the second steering stays visible everywhere

    def view() -> dict[str, Any]:
        light: dict[str, Any] = service.http.get(f"/lanterns/{post[0]}").json()["channels"]["light"]
        return light

    assert view()["desired"]["holder_id"] == second["id"]  # the service expects it there too
    # Reports are coalesced (0.25 s): the release's ack may overtake the report of blue.
    _until(lambda: view()["mismatch"] is False, "the lantern's report to agree")
    assert view()["reported"]["holder_id"] == second["id"]

    assert service.http.delete(f"/steering/{second['id']}").status_code == 200
    _until(lambda: _held(fleet, post, 16, None), "the lantern default once both are gone")
