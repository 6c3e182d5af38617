"""A planner opens the acoustic coverage layer: every street coloured by what the working speakers
achieve, the largest gaps named, where one more speaker helps most; a bad level is refused
naming the field and the typed value stays."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Shots
from tests.e2e.pages import text
from tests.integration.conftest import LiveService

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
