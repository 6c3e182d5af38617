"""The dispatcher's flow beyond the first warning, in headless Chromium against a live stack: a
group warned by keyboard alone, then updated and given the all-clear; the four-eyes rule, where a
second dispatcher approves a held warning (screenshots in test-artifacts/console/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import busiest_street, click_street, text, wait_text
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

# Every visible control names itself: a <label>, aria-label(ledby) or its own text.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.getClientRects().length > 0)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
  .map(el => el.id || el.outerHTML.slice(0, 80))"""

# The steps in the order a keyboard user meets them.
TAB_ORDER = [
    "tpl-evacuation",
    "tool-polygon",
    "tool-circle",
    "street-input",
    "street-add",
    "group-select",
    "group-add",
    "lang-de",
    "lang-tr",
    "exercise",
    "btn-send",
]


def _tab_to(page: Any, element_id: str, visited: list[str], limit: int = 80) -> None:
    """Press Tab until the element has the focus, noting every element passed on the way."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.id || document.activeElement.tagName")
        visited.append(focused)
        if focused == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}; passed {visited[-limit:]}")


def _in_order(visited: list[str], ids: list[str]) -> bool:
    positions = [visited.index(i) for i in ids]
    return positions == sorted(positions)


def test_group_warned_by_keyboard_then_updated_and_all_clear(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    members = sorted(fleet.lantern_ids)[:12]
    created = service.http.post(
        "/groups", json={"name": "e2e-school", "description": "school yard", "lanterns": members}
    )
    assert created.status_code == 201, created.text
    expected = service.http.post("/targets/preview", json={"groups": ["e2e-school"]}).json()
    n = expected["lantern_count"]
    assert n == len(members)
    page = open_console("dispatcher")
    assert page.evaluate(UNLABELLED) == []

    # Keyboard only from here: the skip link leads to the form, arrow keys pick the hazard.
    visited: list[str] = []
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    _tab_to(page, "tpl-evacuation", visited)
    for _ in range(10):
        if page.is_checked("#tpl-fire_smoke"):
            break
        page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.id") == "tpl-fire_smoke"
    checked = page.eval_on_selector_all("#languages input:checked", "els => els.map(e => e.value)")
    assert checked == ["de", "en"]  # the city's languages (setting city_languages), any hazard

    # The group (the only one, already selected) is added with Enter; the preview follows.
    _tab_to(page, "group-select", visited)
    assert page.input_value("#group-select") == "e2e-school"
    _tab_to(page, "group-add", visited)
    page.keyboard.press("Enter")
    page.locator("#target-chips .chip-group", has_text="e2e-school").wait_for()
    wait_text(page, "#preview-count", str(n), 10_000)
    assert text(page, "#preview-offline") == str(expected["offline_count"])

    # A language beyond the city's is added with the space bar: languages stay changeable.
    _tab_to(page, "lang-tr", visited)
    page.keyboard.press("Space")
    assert page.is_checked("#lang-tr")
    _tab_to(page, "btn-send", visited)
    assert _in_order(visited, TAB_ORDER), visited
    shots.take(page, "keyboard-group")

    # Enter sends to the confirmation, whose send button has the focus; Enter again sends.
    page.keyboard.press("Enter")
    page.locator("#confirm").wait_for(state="visible")
    assert page.evaluate("() => document.activeElement.id") == "confirm-send"
    assert str(n) in text(page, "#confirm-summary")
    page.keyboard.press("Enter")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    body = service.http.get(f"/alerts/{alert_id}").json()
    assert body["target"] == {"groups": ["e2e-school"]}
    assert body["languages"] == ["de", "en", "tr"]
    wait_text(page, "#count-done", str(n))

    # Update: Arabic back in; the running alert takes it.
    page.check("#lang-ar")
    page.click("#btn-update")
    page.wait_for_function(
        "id => (window.lightctl.dispatcher.alert || {}).languages?.includes('ar')", arg=alert_id
    )
    assert service.http.get(f"/alerts/{alert_id}").json()["languages"] == ["de", "en", "tr", "ar"]
    shots.take(page, "updated")

    # All clear: the lanterns play the all-clear, the alert ends as such.
    page.click("#btn-allclear")
    wait_text(page, "#live-status", "all clear", 20_000)
    assert service.http.get(f"/alerts/{alert_id}").json()["status"] == "all_clear"
    assert page.is_disabled("#btn-cancel")
    wait_text(page, "#count-done", str(n))  # every lantern played the all-clear
    page.wait_for_function("n => window.lightctl.map.shownCounts().done === n", arg=n)
    page.locator(".alert-row", has_text="all clear").first.wait_for()
    shots.take(page, "all-clear")


@pytest.mark.parametrize("service", [{"four_eyes_roles": frozenset({"dispatcher"})}], indirect=True)
def test_a_second_dispatcher_approves_a_held_warning(
    open_console: Callable[..., Any], service: LiveService, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    n = service.http.post("/targets/preview", json={"streets": [street]}).json()["lantern_count"]

    # The first dispatcher sends: the warning is held, nothing is published.
    first = open_console("dispatcher")
    first.click("label[for=tpl-fire_smoke]")
    click_street(first, street)
    wait_text(first, "#preview-count", str(n), 10_000)
    first.click("#btn-send")
    first.click("#confirm-send")
    first.locator("#live").wait_for(state="visible")
    alert_id = first.evaluate("() => window.lightctl.dispatcher.alert.id")
    wait_text(first, "#live-status", "awaiting approval", 10_000)
    assert first.locator("#live-held").is_visible()
    assert not first.locator("#btn-approve").is_visible()  # not by the one who asked
    assert service.http.get(f"/alerts/{alert_id}").json()["counts"] == {"held": n}
    row = first.locator(f"#approval-list li[data-alert='{alert_id}']")
    row.wait_for()
    assert "requested by you" in text(first, f"#approval-list li[data-alert='{alert_id}']").lower()
    assert row.locator("button[data-approve]").count() == 0
    shots.take(first, "held")

    # A second dispatcher sees it waiting and approves it: every lantern plays it.
    second = open_console("dispatcher")
    second.locator(f"#approval-list button[data-approve='{alert_id}']").wait_for()
    assert second.locator("#approvals").is_visible()
    shots.take(second, "awaiting-approval")
    second.click(f"#approval-list button[data-approve='{alert_id}']")
    second.locator("#live").wait_for(state="visible")
    wait_text(second, "#count-done", str(n))
    second.locator("#approvals").wait_for(state="hidden", timeout=10_000)
    shots.take(second, "approved-done")

    # The first dispatcher's page follows the same alert to the end.
    wait_text(first, "#count-done", str(n))
    assert first.locator("#live-held").is_hidden()
    assert service.http.get(f"/alerts/{alert_id}").json()["status"] == "completed"
