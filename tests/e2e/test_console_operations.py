"""The operator's view in headless Chromium against a live stack: a steering session drawn along a
route shows its arrows on the map and ends with one click; a lantern taken offline by fault
injection turns grey; the audit list names what was done (screenshots: test-artifacts/console/)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import busiest_street, click_lantern, click_map, text, wait_text
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def _route_points(page: Any, lantern_ids: list[str]) -> list[dict[str, float]]:
    """Map-container points of the southernmost, middle and northernmost of these lanterns, with
    the map fitted around them: a route a person would click along the street, south to north."""
    return list(
        page.evaluate(
            """ids => {
              const cmap = window.lightctl.map;
              const at = ids.map(id => cmap.live.get(id)).sort((a, b) => a.lat - b.lat);
              const pick = [at[0], at[Math.floor(at.length / 2)], at[at.length - 1]];
              const latlngs = pick.map(l => [l.lat, l.lon]);
              cmap.map.fitBounds(latlngs, {padding: [60, 60], animate: false});
              return latlngs.map(p => cmap.map.latLngToContainerPoint(p));
            }""",
            lantern_ids,
        )
    )


def test_operator_steers_along_a_drawn_route_and_takes_a_lantern_offline(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    on_street = service.http.post("/targets/preview", json={"streets": [street]}).json()
    page = open_console("operator")
    page.click("#tab-operate")
    page.locator("#steer-list", has_text="No active steering").wait_for()

    # Starting before a route is drawn says what to do first.
    page.click("#steer-start")
    assert "draw the route" in text(page, "#steer-error").lower()

    # Draw the route along the street: two clicks, then a double click on the last point.
    points = _route_points(page, on_street["lantern_ids"])
    page.click("#steer-draw")
    assert page.get_attribute("#steer-draw", "aria-pressed") == "true"
    for point in points[:-1]:
        click_map(page, point)
    box = page.locator("#map").bounding_box()
    page.mouse.dblclick(box["x"] + points[-1]["x"], box["y"] + points[-1]["y"])
    page.locator("#steer-route", has_text="lanterns along the route").wait_for()
    target = page.evaluate("() => window.lightctl.operator.routeTarget()")
    assert len(target["route"]["line"]["coordinates"]) == 3
    preview = service.http.post("/targets/preview", json=target).json()
    n = preview["lantern_count"]
    assert n >= len(on_street["lantern_ids"]) // 2
    assert f"{n} lanterns along the route" in text(page, "#steer-route")
    shots.take(page, "route-drawn")

    # Start it: every lantern along the route projects an arrow toward the route's north end.
    page.fill("#steer-label", "E2E market day")
    page.select_option("#steer-direction", "forward")
    page.click("#steer-start")
    page.locator("#steer-list .steer-row", has_text="E2E market day").wait_for()
    assert f"{n} lanterns" in text(page, "#steer-status")
    page.wait_for_function("n => window.lightctl.map.shownCounts().arrows === n", arg=n)
    wait_text(page, "#legend [data-legend=arrow] .n", str(n), 10_000)
    headings = page.evaluate(
        "() => [...window.lightctl.map.arrows.values()].map(mark => mark.heading)"
    )
    assert len(headings) == n
    assert all(math.cos(math.radians(h)) > 0 for h in headings), headings  # northward
    sessions = service.http.get("/steering", params={"active": True}).json()
    assert [s["label"] for s in sessions] == ["E2E market day"]
    assert sessions[0]["target"]["route"]["line"] == target["route"]["line"]
    assert sessions[0]["guidance"]["direction"] == "forward"
    page.wait_for_function(
        "() => window.lightctl.map.routes.getLayers().length === 1"
    )  # the running route is drawn
    shots.take(page, "steering")

    # End it: the arrows go away.
    page.click("#steer-list button[data-release]")
    page.locator("#steer-list", has_text="No active steering").wait_for()
    page.wait_for_function("() => window.lightctl.map.shownCounts().arrows === 0")
    assert service.http.get(f"/steering/{sessions[0]['id']}").json()["status"] == "released"

    # Fault injection: one lantern goes offline in the simulator and turns grey on the map.
    lantern_id = on_street["lantern_ids"][0]
    click_lantern(page, lantern_id)
    page.locator("#lantern-detail .lantern-facts").wait_for()
    page.select_option("#fault-kind", "offline")
    page.fill("#fault-seconds", "120")
    page.wait_for_function("() => !document.querySelector('#fault-inject').disabled")
    page.click("#fault-inject")
    page.locator("#fault-status", has_text="injected").wait_for()
    page.wait_for_function(
        "id => window.lightctl.map.markers.get(id).shown === 'offline'", arg=lantern_id
    )
    wait_text(page, "#fleet-summary .fleet-offline dd", "1", 10_000)
    wait_text(page, "#legend [data-legend=offline] .n", "1", 10_000)

    # The audit list names the steering and the fault, newest first.
    # The trail in words, not route templates.
    page.locator("#audit-list li", has_text="injected a fault").wait_for(timeout=15_000)
    page.locator("#audit-list li", has_text="started a steering").first.wait_for()
    shots.take(page, "offline")
    page.locator("#audit-title").scroll_into_view_if_needed()
    shots.take(page, "audit")
