"""Steering on simulated lanterns over a real broker: every channel setting arrives as sent, the
lantern view flags a lantern that does not show what was sent, emergency corridors at slot 3."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import shapely

from firmware_sim import Fleet
from firmware_sim.control import apply_clauses
from firmware_sim.faults import parse_faults
from firmware_sim.probe import ServiceProbe
from lightctl.geo.crs import MetricProjection
from lightctl.protocol import (
    Channel,
    ChannelState,
    LightPayload,
    PathPayload,
    ProjectionPayload,
    Topics,
)
from tests.integration.conftest import LiveService
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

GREEN = {"on": True, "brightness": 80, "color": "#00C853"}
# Per lantern: one light effect, one pictogram, one path mode; together every value the issue
# names (colour or colour temperature, steady/blink/pulse/chase with period and transition,
# all seven pictograms with heading and colour, fixed/motion/chase footpaths).
SETTINGS: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        {"on": True, "brightness": 60, "cct_k": 2700, "transition_ms": 1500},
        {"pictogram": "stop", "color": "#FF0000"},
        {"level": 40, "mode": "fixed"},
    ),
    (
        {"on": True, "color": "#00C853", "effect": "blink", "period_ms": 1000},
        {"pictogram": "exit", "heading_deg": 45},
        {"level": 70, "mode": "motion", "hold_s": 20},
    ),
    (
        {"on": True, "color": "#2962FF", "effect": "pulse", "period_ms": 4000},
        {"pictogram": "no_entry"},
        {"level": 50, "mode": "chase", "period_ms": 3000, "phase_ms": 500},
    ),
    (
        {"on": True, "color": "#FFC800", "effect": "chase", "period_ms": 2500, "phase_ms": 700},
        {"pictogram": "walk", "heading_deg": 180.5},
        {"level": 0},
    ),
    (
        {"on": False},
        {"pictogram": "warning", "color": "#FF6A00"},
        {"level": 100},
    ),
    (
        {"on": True, "brightness": 100, "cct_k": 6500},
        {"pictogram": "text", "text": "Stadion →", "color": "#FFFFFF"},
        {"level": 30, "mode": "chase", "period_ms": 2000},
    ),
    (
        {"on": True, "brightness": 5},
        {"pictogram": "arrow", "heading_deg": 270, "color": "#00C853"},
        {"level": 10, "mode": "motion"},
    ),
]
MODELS: tuple[type[LightPayload | ProjectionPayload | PathPayload], ...] = (
    LightPayload,
    ProjectionPayload,
    PathPayload,
)
CHANNELS: tuple[Channel, ...] = ("light", "projection", "path")


def _ids(service: LiveService, street: str) -> list[str]:
    return [r["id"] for r in service.http.get("/lanterns", params={"street": street}).json()]


def _state(fleet: Fleet, lantern_id: str, channel: Channel = "light") -> ChannelState:
    return fleet.lantern(lantern_id).state(datetime.now(UTC)).channels[channel]


def _until(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _post(service: LiveService, **body: Any) -> dict[str, Any]:
    response = service.http.post("/steering", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _on_fleet(fleet: Fleet, job: Callable[[], object]) -> None:
    """Run ``job`` on the fleet's loop (fault actions touch timers there)."""

    fleet.call(job)


def test_every_light_projection_and_path_setting_reaches_the_lantern_as_sent(
    service: LiveService, fleet: Fleet, mosquitto: MosquittoProcess
) -> None:
    lanterns = _ids(service, "Poststrasse")[: len(SETTINGS)]
    assert len(lanterns) == len(SETTINGS)
    for lid, (light, projection, path) in zip(lanterns, SETTINGS, strict=True):
        _post(
            service,
            target={"lanterns": [lid]},
            light=light,
            projection=projection,
            path=path,
            ends_in_s=600,
        )
    for lid, settings in zip(lanterns, SETTINGS, strict=True):
        for channel, model, sent in zip(CHANNELS, MODELS, settings, strict=True):
            expected = model.model_validate(sent).model_dump(mode="json", exclude_none=True)

            def shows(lid: str = lid, channel: Channel = channel, expected: Any = expected) -> bool:
                s = _state(fleet, lid, channel)
                return s.priority == 10 and s.value == expected

            _until(shows, f"{channel} of {lid} as sent")

    def reported_everywhere() -> bool:
        views = [service.http.get(f"/lanterns/{lid}").json()["channels"] for lid in lanterns]
        return all(v[c]["mismatch"] is False for v in views for c in CHANNELS)

    _until(reported_everywhere, "every lantern's report to match what was sent")
    for lid in lanterns:
        view = service.http.get(f"/lanterns/{lid}").json()["channels"]
        for channel in CHANNELS:
            assert view[channel]["reported"]["value"] == view[channel]["desired"]["value"]
            assert view[channel]["reported"]["priority"] == 10
            assert view[channel]["reported"]["holder_kind"] == "steering"

    # The state is retained: a client joining now learns each channel's value and its slot.
    late = ServiceProbe(mosquitto.url, Topics(service.settings.mqtt_root))
    late.start()
    try:
        _until(lambda: all(late.state(lid) is not None for lid in lanterns), "retained states")
        for lid in lanterns:
            retained = late.state(lid)
            assert retained is not None
            for channel in CHANNELS:
                shown = _state(fleet, lid, channel)
                got = retained.channels[channel]
                assert (got.priority, got.cmd_id, got.value) == (10, shown.cmd_id, shown.value)
    finally:
        late.stop()


def test_the_lantern_view_flags_a_lantern_that_does_not_show_what_was_sent(
    service: LiveService, fleet: Fleet
) -> None:
    post = _ids(service, "Poststrasse")
    away, present = post[0], post[1]
    _until(
        lambda: service.http.get(f"/lanterns/{away}").json()["reported"] is not None,
        "the lantern's first report",
    )
    _on_fleet(fleet, lambda: apply_clauses(fleet, parse_faults(f"offline@{away}")))
    _until(
        lambda: service.http.get(f"/lanterns/{away}").json()["online"] is False,
        "the service to see the lantern offline",
    )
    steering = _post(service, target={"lanterns": [away, present]}, light=GREEN, ends_in_s=600)
    _until(lambda: _state(fleet, present).priority == 10, "the route on the present lantern")

    def view(lid: str) -> dict[str, Any]:
        light: dict[str, Any] = service.http.get(f"/lanterns/{lid}").json()["channels"]["light"]
        return light

    _until(lambda: view(present)["mismatch"] is False, "the present lantern to report it")
    missing = view(away)
    assert missing["desired"]["holder_id"] == steering["id"]
    assert missing["desired"]["priority"] == 10
    assert missing["reported"]["priority"] == 16  # it still shows its default
    assert missing["reported"]["holder_kind"] == "default"
    assert missing["mismatch"] is True

    _on_fleet(fleet, lambda: apply_clauses(fleet, parse_faults(f"clear@{away}")))
    _until(lambda: _state(fleet, away).priority == 10, "the route once the lantern is back")
    _until(lambda: view(away)["mismatch"] is False, "the flag to clear")


# Down Bahnhofstrasse from Paradeplatz (north) toward the lake (south).
CORRIDOR_COORDS = [(8.53821, 47.37248), (8.5394, 47.36964)]
CORRIDOR = {"type": "LineString", "coordinates": [list(c) for c in CORRIDOR_COORDS]}


def test_an_emergency_corridor_at_slot_3_runs_ahead_of_the_responder_over_a_visitor_route(
    service: LiveService, fleet: Fleet
) -> None:
    route = {"line": CORRIDOR, "width_m": 15}
    visitors = _post(service, target={"route": route}, light=GREEN, ends_in_s=600)
    body = service.http.get(f"/steering/{visitors['id']}", params={"lanterns": True}).json()
    ids = sorted({r["lantern"] for r in body["lanterns"]})
    assert len(ids) >= 5
    _until(lambda: all(_state(fleet, i).priority == 10 for i in ids), "the visitor route")

    corridor = _post(
        service,
        target={"route": route},
        guidance={"direction": "forward"},
        light={"on": True, "color": "#FFFFFF", "effect": "chase"},
        path={"level": 100, "mode": "chase"},
        priority=3,
        label="ambulance from Paradeplatz",
        ends_in_s=600,
    )
    assert (corridor["priority"], corridor["purpose"]) == (3, "emergency_guidance")
    for channel in ("light", "path"):
        _until(
            lambda c=channel: all(_state(fleet, i, c).priority == 3 for i in ids),  # type: ignore[misc]
            f"the corridor's {channel} at slot 3",
        )
    assert all(fleet.lantern(i).slot("light", 10) is not None for i in ids)  # held beneath

    # Lights run toward the destination: chase phases rise with the distance along the route.
    coords = CORRIDOR_COORDS
    projection = MetricProjection.around(coords[0][0], coords[0][1])
    xs, ys = projection.to_xy([c[0] for c in coords], [c[1] for c in coords])
    line = shapely.LineString(np.column_stack([xs, ys]))
    rows = {r["id"]: r for r in service.http.get("/lanterns", params={"limit": 1000}).json()}
    along: list[tuple[float, int, int]] = []
    for lid in ids:
        lx, ly = projection.to_xy([rows[lid]["lon"]], [rows[lid]["lat"]])
        s = float(shapely.line_locate_point(line, shapely.Point(lx[0], ly[0])))
        light, path = _state(fleet, lid, "light").value, _state(fleet, lid, "path").value
        assert light is not None
        assert path is not None
        along.append((s, int(light["phase_ms"]), int(path["phase_ms"])))
    along.sort()
    for k in (1, 2):
        phases = [a[k] for a in along]
        assert phases == sorted(phases), "phases must rise toward the destination"
        assert phases[-1] > phases[0]

    assert service.http.delete(f"/steering/{corridor['id']}").status_code == 200
    _until(lambda: all(_state(fleet, i).priority == 10 for i in ids), "the visitor route back")
    _until(lambda: all(_state(fleet, i, "path").priority == 16 for i in ids), "the path default")
