"""A planner opens the acoustic coverage layer: every street coloured by what the working speakers
achieve, the largest gaps named, where one more speaker helps most; a bad level is refused
naming the field and the typed value stays. A dispatcher following a warning sees what the
lanterns that confirmed playing cover, a broken stretch of speakers as a gap in red."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim.faults import Faults
from tests.e2e.conftest import Shots
from tests.e2e.pages import click_street, text, wait_text
from tests.integration.conftest import FleetThread, LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def pct(share: float) -> str:
    return f"{round(share * 100)} %"


def test_a_planner_sees_coverage_gaps_and_next_speakers_on_the_map(
    open_console: Callable[..., Any], service: LiveService, shots: Shots
) -> None:
    service.runtime.coverage.refresh()  # the model the console asks for is built
    expected = service.http.get("/coverage", params={"suggestions": 5}).json()
    assert expected["gap_count"] > 0, "the fixture has gaps to plan"
    assert expected["suggestions"]
    page = open_console("operator", shots=shots)
    panel = page.locator("#feature-coverage-plan")
    panel.locator(".coverage-day").wait_for()
    # The day and night shares the API computed, as the planner reads them.
    day = (
        f"{pct(expected['intelligible'])} intelligible, {pct(expected['audible'])} audible, "
        f"{pct(expected['not_covered'])} not covered"
    )
    assert day in text(page, "#feature-coverage-plan .coverage-day")
    night = expected["night"]
    assert f"{pct(night['intelligible'])} intelligible" in text(
        page, "#feature-coverage-plan .coverage-night"
    )
    assert f"{expected['speaker_count']} working speakers" in panel.inner_text()
    # The largest gap and the best next position, named by their streets.
    gaps = panel.locator(".coverage-gaps li")
    first_gap = expected["gaps"][0]
    assert f"{first_gap['street'] or 'unnamed street'}: {round(first_gap['length_m'])} m" in (
        gaps.first.inner_text()
    )
    assert f"({expected['gap_count']} in all)" in panel.inner_text()
    picks = panel.locator(".coverage-suggestions li")
    assert picks.count() == len(expected["suggestions"])
    best = expected["suggestions"][0]
    assert f"+{round(best['newly_covered_m'])} m intelligible" in picks.first.inner_text()

    panel.get_by_role("button", name="Show on map").click()
    page.wait_for_function("() => window.lightctlCoverage.shown().suggestions > 0")
    shown = page.evaluate("() => window.lightctlCoverage.shown()")
    ratings = Counter(f["properties"]["rating"] for f in expected["geojson"]["features"])
    assert {k: shown[k] for k in ("intelligible", "audible", "not_covered")} == {
        k: ratings.get(k, 0) for k in ("intelligible", "audible", "not_covered")
    }
    assert shown["gaps"] == len(expected["gaps"])
    assert shown["suggestions"] == len(expected["suggestions"])
    assert page.locator('#layer-switches input[data-layer="coverage"]').is_checked()
    # By night the same speakers rise further above the quieter streets.
    by_night = Counter(f["properties"]["night_rating"] for f in expected["geojson"]["features"])
    assert by_night["intelligible"] > ratings["intelligible"]
    panel.get_by_label("Night").check()
    page.wait_for_function(
        "n => window.lightctlCoverage.shown().intelligible === n", arg=by_night["intelligible"]
    )
    shown = page.evaluate("() => window.lightctlCoverage.shown()")
    assert shown["not_covered"] == by_night.get("not_covered", 0)
    panel.get_by_label("Day").check()
    page.wait_for_function(
        "n => window.lightctlCoverage.shown().intelligible === n", arg=ratings["intelligible"]
    )
    picks.first.get_by_role("button", name="Show").click()
    shots.take(page, "coverage-layer")

    # A level outside 60-130 dB(A) is refused naming the field; what was typed stays.
    level = panel.locator("#coverage-level")
    level.fill("150")
    panel.get_by_role("button", name="Recompute").click()
    panel.locator(".error").filter(has_text="level_db").wait_for()
    assert level.input_value() == "150"
    assert day in text(page, "#feature-coverage-plan .coverage-day")  # the last good figures stay

    # A quieter setting for every speaker: the figures the API gives for it.
    quieter = service.http.get("/coverage", params={"suggestions": 5, "level_db": 85}).json()
    assert quieter["intelligible"] < expected["intelligible"]
    level.fill("85")
    panel.get_by_role("button", name="Recompute").click()
    page.wait_for_function(
        """t => (document.querySelector('#feature-coverage-plan .coverage-day')?.innerText || '')
              .includes(t)""",
        arg=f"{pct(quieter['intelligible'])} intelligible, {pct(quieter['audible'])} audible",
    )
    assert text(page, "#feature-coverage-plan .error") == ""
    shots.take(page, "coverage-quieter")


def test_the_followed_warning_shows_the_gap_its_broken_speakers_leave(
    open_console: Callable[..., Any], service: LiveService, fleet_thread: FleetThread, shots: Shots
) -> None:
    street = "Bahnhofstrasse"
    service.runtime.coverage.refresh()
    features = service.http.post("/targets/preview", json={"streets": [street]}).json()["geojson"]
    along = sorted(features["features"], key=lambda f: f["geometry"]["coordinates"][1])
    ids = [f["id"] for f in along]
    broken = ids[: len(ids) // 2]  # the southern half of the street's speakers
    for lantern_id in broken:
        fleet_thread.loop.call_soon_threadsafe(
            fleet_thread.fleet.set_faults, lantern_id, Faults(broken=frozenset({"speaker"}))
        )
    page = open_console("dispatcher")
    page.click("label[for=tpl-fire_smoke]")
    click_street(page, street)
    wait_text(page, "#preview-count", str(len(ids)), 10_000)
    page.click("#btn-send")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    wait_text(page, "#count-failed", str(len(broken)), 60_000)
    wait_text(page, "#count-done", str(len(ids) - len(broken)), 60_000)
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    heard = service.http.get(f"/alerts/{alert_id}/coverage").json()
    assert heard["gap_count"] > 0  # the silent half of the street is a gap
    card = page.locator("#feature-coverage-alert")
    page.wait_for_function(
        "n => window.lightctlCoverage.shown().alertGaps === n", arg=len(heard["gaps"])
    )
    card.locator(".coverage-heard", has_text=f"{heard['gap_count']} gaps").wait_for()
    assert f"{pct(heard['intelligible'])} intelligible" in card.inner_text()
    assert card.is_visible()
    shots.take(page, "alert-coverage-gap")
