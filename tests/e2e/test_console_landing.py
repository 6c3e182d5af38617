"""One meaning per word and everyone lands where they work, in headless Chromium: the all-clear is
no hazard card but an action on a running warning or a separate card for an area; Cancel and All
clear say what they do; a viewer lands on the running warnings, from the API's capabilities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import busiest_street, click_street, text, wait_text
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def test_all_clear_is_an_action_and_an_area_card_not_a_hazard(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    page = open_console("dispatcher")
    hazards = page.eval_on_selector_all("#templates input", "els => els.map(e => e.value)")
    assert "all_clear" not in hazards
    assert "fire_smoke" in hazards
    assert "stops sound, light and projection" in text(page, "#live .action-hints").lower()
    assert "all-clear tone and text" in text(page, "#live .action-hints").lower()

    # The all-clear for an area (the warning came from elsewhere): the area of step 2.
    street, _ = busiest_street(service)
    n = service.http.post("/targets/preview", json={"streets": [street]}).json()["lantern_count"]
    click_street(page, street)
    wait_text(page, "#preview-count", str(n), 10_000)
    page.click("#btn-area-allclear")
    page.locator("#confirm").wait_for(state="visible")
    assert "All clear" in text(page, "#confirm-summary")
    assert street in text(page, "#confirm-texts")
    shots.take(page, "area-all-clear")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    body = service.http.get(f"/alerts/{alert_id}").json()
    assert (body["template"], body["signal"], body["lantern_count"]) == (
        "all_clear",
        "all_clear",
        n,
    )


def test_a_viewer_lands_on_the_running_warnings(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    sent = service.http.post(
        "/alerts", json={"target": {"streets": [street]}, "template": "fire_smoke"}
    )
    assert sent.status_code == 201, sent.text
    alert_id = sent.json()["id"]
    page = open_console("viewer", fleet_idle=False)
    row = page.locator(f"#running-list li[data-alert='{alert_id}']")
    row.wait_for()
    assert page.evaluate("() => document.activeElement.id") == "running"
    assert not page.locator("#alert-form").is_visible()
    assert row.locator("button[data-action=cancel]").is_disabled()
    assert page.get_attribute("#tab-dispatch", "aria-selected") == "true"
    shots.take(page, "viewer")


def test_a_typo_offers_one_click_corrections_and_keeps_the_rest(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    streets = sorted(service.http.get("/streets").json(), key=lambda s: -s["lantern_count"])
    good, other = streets[0]["name"], streets[1]["name"]
    typo = other[:-2] + other[-1]  # one letter dropped, as in "Limatquai"
    both = service.http.post("/targets/preview", json={"streets": [good, other]}).json()
    alone = service.http.post("/targets/preview", json={"streets": [good]}).json()
    page = open_console("dispatcher")
    click_street(page, good)
    page.fill("#street-input", typo)
    page.press("#street-input", "Enter")
    fix = page.locator("#street-fixes button[data-use]", has_text=other)
    fix.wait_for()
    # The valid rest is not hidden behind the typo: what it reaches is said at once.
    wait_text(
        page,
        "#street-rest",
        f"Without {typo} the target reaches {alone['lantern_count']} lanterns.",
    )
    shots.take(page, "typo")
    fix.click()
    wait_text(page, "#preview-count", str(both["lantern_count"]), 10_000)
    assert page.locator("#street-fixes").is_hidden()
    chips = page.eval_on_selector_all(
        "#target-chips .chip-street strong", "els => els.map(e => e.textContent)"
    )
    assert chips == [good, other]


@pytest.mark.parametrize("service", [{"city_languages": ("de", "en", "tr")}], indirect=True)
def test_first_time_fire_on_a_street_in_three_decisions(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    """Hazard, place, send: a city whose languages are German, English and Turkish needs no
    language decision; the decisions (besides sign-in) are counted and printed."""
    street, _ = busiest_street(service)
    n = service.http.post("/targets/preview", json={"streets": [street]}).json()["lantern_count"]
    page = open_console("dispatcher")
    decisions: list[str] = []

    page.click("label[for=tpl-fire_smoke]")
    decisions.append("hazard: fire")
    click_street(page, street)
    decisions.append(f"place: {street}")
    wait_text(page, "#preview-count", str(n), 10_000)
    checked = page.eval_on_selector_all("#languages input:checked", "els => els.map(e => e.value)")
    assert checked == ["de", "en", "tr"]
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    spoken = page.eval_on_selector_all(
        "#confirm-texts [data-lang-text]", "els => els.map(e => e.dataset.langText)"
    )
    assert spoken == ["de", "en", "tr"]
    page.click("#confirm-send")
    decisions.append("send (and confirm)")
    page.locator("#live").wait_for(state="visible")
    wait_text(page, "#count-done", str(n))
    # What a screen reader hears last is what the screen shows.
    wait_text(
        page,
        "#live-announce",
        f"Warning delivery finished: {n} of {n} done, 0 failed or unreachable.",
    )
    print(f"\ndecisions besides sign-in: {len(decisions)} ({'; '.join(decisions)})")
    assert len(decisions) <= 3
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    assert service.http.get(f"/alerts/{alert_id}").json()["languages"] == ["de", "en", "tr"]
    page.click("#btn-cancel")
    wait_text(page, "#live-status", "cancelled", 20_000)
    shots.take(page, "three-decisions")


IN_VIEW = """sel => { const r = document.querySelector(sel).getBoundingClientRect();
  return r.top >= 0 && r.left >= 0
    && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
}"""


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 1024, "height": 768}]
)
def test_what_it_takes_to_send_is_in_view_without_scrolling(
    open_console: Callable[..., Any],
    service: LiveService,
    fleet: Fleet,
    shots: Shots,
    viewport: dict[str, int],
) -> None:
    page = open_console("dispatcher", viewport=viewport)
    page.click("label[for=tpl-fire_smoke]")
    street, _ = busiest_street(service)
    click_street(page, street)
    page.locator("#target-chips .chip-street").wait_for()
    for selector in ("label[for=tpl-fire_smoke]", "#send-languages", "#btn-send", "#map"):
        assert page.evaluate(IN_VIEW, selector), f"{selector} is not in view at {viewport}"
    assert text(page, "#send-languages") == "Deutsch, English"
    assert page.evaluate("() => document.querySelector('#panel').scrollTop") == 0
    shots.take(page, f"in-view-{viewport['width']}")
