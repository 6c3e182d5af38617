"""Evacuation arrows in the dispatcher's console: switched on, the target's lanterns show their
arrows on the map before sending; a meeting point placed and dragged on the map moves them; the
lanterns with no way out are listed; the warning goes with exactly that evacuation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import busiest_street, click_street, text
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LINDENHOF = (47.3728, 8.5410)  # lat, lon


def _drawn(page: Any, *kinds: str) -> int:
    """Marks of these kinds drawn on the map (arrows by default)."""
    drawn: dict[str, int] = page.evaluate("() => window.lightctlGuidance.drawn()")
    return sum(drawn.get(k, 0) for k in kinds or ("arrow", "exit"))


def test_arrows_before_sending_a_dragged_meeting_point_and_the_sent_evacuation(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    page = open_console("dispatcher", shots=shots)
    page.click("label[for=tpl-evacuation]")
    page.fill("#param-street", street)
    page.fill("#param-meeting_point", "Lindenhof")
    click_street(page, street)
    page.locator("#target-chips .chip-street", has_text=street).wait_for()
    expected_ids = service.http.post("/targets/preview", json={"streets": [street]}).json()[
        "lantern_ids"
    ]

    page.check("#guidance-on")
    page.wait_for_function("() => window.lightctlGuidance.plan() !== null")
    plan = page.evaluate("() => window.lightctlGuidance.plan()")
    assert sorted(r["id"] for r in plan["lanterns"]) == sorted(expected_ids)
    api_plan = service.http.post(
        "/guidance/preview",
        json={"hazard": {"streets": [street]}, "lanterns": {"lanterns": expected_ids}},
    ).json()
    assert plan["counts"] == api_plan["counts"]
    led = plan["counts"].get("arrow", 0) + plan["counts"].get("exit", 0)
    assert _drawn(page) == led
    assert "arrows" in text(page, "#feature-guidance .guidance-counts")
    # The simulated firmware flashes arrows: every arrow flashes on the map too (shaft and
    # head), in step with the lanterns' 1 Hz pattern, and none is counted as steady.
    flashing = [r for r in plan["lanterns"] if r["kind"] == "arrow"]
    assert flashing
    assert all(r["flash"] == {"period_ms": 1000, "on_ms": 700, "phase_ms": 0} for r in flashing)
    assert page.evaluate("() => window.lightctlGuidance.flashing()") == 2 * len(flashing)
    assert page.locator("#feature-guidance .guidance-steady").count() == 0
    shots.take(page, "arrows")

    # A meeting point placed on the map, then dragged: the guidance follows it.
    page.fill("#guidance-meeting-name", "Lindenhof")
    page.evaluate("([lat, lon]) => window.lightctlGuidance.setMeeting(lat, lon)", list(LINDENHOF))
    page.wait_for_function(
        "() => (window.lightctlGuidance.plan() || {}).exits?.some(e => e.name === 'Lindenhof')"
    )
    before = page.evaluate("() => window.lightctlGuidance.plan()")
    placed = page.evaluate("() => window.lightctlGuidance.planned().meeting_points[0]")
    assert (placed["lat"], placed["lon"]) == LINDENHOF
    page.evaluate(
        "([lat, lon]) => { window.lightctl.map.map.setView([lat, lon], 17, {animate: false}); }",
        list(LINDENHOF),
    )
    marker = page.locator(".guidance-meeting-marker")
    box = marker.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    page.mouse.down()
    # About 60 m south-west, still on the square's paths.
    page.mouse.move(box["x"] + box["width"] / 2 - 40, box["y"] + box["height"] + 30, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "lat => (window.lightctlGuidance.planned()?.meeting_points || [])[0]?.lat !== lat",
        arg=LINDENHOF[0],
    )
    after = page.evaluate("() => window.lightctlGuidance.plan()")
    assert after["exits"][0]["name"] == "Lindenhof"
    dragged = page.evaluate("() => window.lightctlGuidance.planned().meeting_points[0]")
    assert dragged["lat"] < LINDENHOF[0]  # dragged south
    assert dragged["lon"] < LINDENHOF[1]  # and west
    assert dragged["name"] == "Lindenhof"
    assert after["lantern_count"] == before["lantern_count"]
    shots.take(page, "dragged")

    # Sent: the alert carries the same evacuation and names the meeting point.
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    alert = service.http.get(f"/alerts/{alert_id}").json()
    assert alert["guidance"]["meeting_points"] == ["Lindenhof"]
    assert "Lindenhof" in alert["messages"]["de"]
    assert alert["guidance"]["counts"] == after["counts"]


def test_lanterns_with_no_way_out_are_listed_and_drawn(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    page = open_console("dispatcher", shots=shots)
    click_street(page, street)
    page.locator("#target-chips .chip-street", has_text=street).wait_for()
    page.check("#guidance-on")
    page.wait_for_function("() => window.lightctlGuidance.plan() !== null")
    assert not page.evaluate("() => window.lightctlGuidance.plan().no_safe_place")
    # Safe only 5 km out: past every street of the fixture, so nobody has a way out.
    page.fill("#guidance-buffer", "5000")
    page.dispatch_event("#guidance-buffer", "change")
    page.wait_for_function("() => (window.lightctlGuidance.plan() || {}).no_safe_place === true")
    plan = page.evaluate("() => window.lightctlGuidance.plan()")
    shelter = plan["shelter_in_place"]
    assert len(shelter) == plan["lantern_count"] - len(plan["without_street"]) > 0
    listed = text(page, "#feature-guidance .guidance-noway")
    assert all(lid in listed for lid in shelter)
    assert _drawn(page, "shelter") == len(shelter)
    assert _drawn(page) == 0  # and not one arrow
    shots.take(page, "no-way-out")
