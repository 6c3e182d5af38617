"""Confirmed = sent, in headless Chromium against a live stack: however hard the dispatcher hits
the send buttons (double and triple clicks, Enter held down), one alert goes out, to exactly the
lanterns the dialog showed, even with another street under the pointer; and a target that
changed between confirming and sending is refused, named, and confirmed again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import busiest_street, click_street, hit, text, wait_text
from tests.integration.conftest import LiveService
from tests.integration.inventory_support import add_lantern_on

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

# Counts the console's POST /alerts requests (their bodies), from now on.
COUNT_POSTS = """() => {
  window.__alertPosts = [];
  if (window.__countingPosts) return;
  window.__countingPosts = true;
  const original = window.fetch;
  window.fetch = (url, init) => {
    if (init && init.method === 'POST' && String(url).endsWith('/api/v1/alerts')) {
      const key = init.headers['Idempotency-Key'];
      window.__alertPosts.push({ body: JSON.parse(init.body), key });
    }
    return original(url, init);
  };
}"""

# The page has settled: nothing is being sent or opened, no dialog or shield is up, and the send
# button's rest after the last send is over (so a late click would have acted by now).
SETTLED = """() => {
  const d = window.lightctl.dispatcher;
  return !d.sending && !d.opening && !d.confirm.isOpen && performance.now() > d.restUntil
    && document.getElementById('click-shield').hidden;
}"""


def _choose(page: Any, service: LiveService, street: str, hazard: str = "fire_smoke") -> int:
    expected = service.http.post("/targets/preview", json={"streets": [street]}).json()
    page.click(f"label[for=tpl-{hazard}]")
    click_street(page, street)
    wait_text(page, "#preview-count", str(expected["lantern_count"]), 10_000)
    return int(expected["lantern_count"])


def _street_under(page: Any, selector: str, street: str) -> None:
    """Pan the map so that ``street`` lies under the centre of ``selector`` (the dialog's button):
    a click that fell through the dialog would land on that street."""
    box = page.locator(selector).bounding_box()
    mapbox = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2 - mapbox["x"], box["y"] + box["height"] / 2 - mapbox["y"]
    assert x > 0, "the button does not lie over the map"
    assert y > 0, "the button does not lie over the map"
    page.evaluate(
        """([name, x, y]) => {
          const cmap = window.lightctl.map;
          const p = cmap.pointOnStreet(name);
          cmap.map.panBy([p.x - x, p.y - y], {animate: false});
        }""",
        [street, x, y],
    )


@pytest.mark.parametrize("gesture", ["double", "triple", "enter"])
def test_hammering_send_sends_one_alert_to_the_confirmed_set(
    open_console: Callable[..., Any],
    service: LiveService,
    fleet: Fleet,
    shots: Shots,
    gesture: str,
) -> None:
    street, _ = busiest_street(service)
    streets = [s["name"] for s in service.http.get("/streets").json()]
    bystander = next(s for s in streets if s != street)
    page = open_console("dispatcher")
    count = _choose(page, service, street)
    confirmed = service.http.post("/targets/preview", json={"streets": [street]}).json()
    before = len(service.http.get("/alerts", params={"limit": 500}).json())
    page.evaluate(COUNT_POSTS)

    # The form's button: the dialog opens once and waits (nothing is sent by the opening hit).
    hit(page, "#btn-send", gesture)
    page.locator("#confirm").wait_for(state="visible")
    page.wait_for_function("() => !window.lightctl.dispatcher.opening")
    assert text(page, "#confirm-count") == str(count)
    assert street in text(page, "#confirm-streets")
    assert page.evaluate("() => window.__alertPosts.length") == 0
    # Behind the dialog's send button lies another street, as in the reported bug.
    _street_under(page, "#confirm-send", bystander)
    shots.take(page, f"confirm-{gesture}")

    # The dialog's button, hit the same way: one alert.
    hit(page, "#confirm-send", gesture)
    page.locator("#live").wait_for(state="visible")
    page.wait_for_function(SETTLED)
    posts = page.evaluate("() => window.__alertPosts")
    assert len(posts) == 1, posts
    assert posts[0]["body"]["preview_id"] == confirmed["preview_id"]
    assert posts[0]["key"]
    alerts = service.http.get("/alerts", params={"limit": 500}).json()
    assert len(alerts) == before + 1
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    sent = service.http.get(f"/alerts/{alert_id}", params={"lanterns": True}).json()
    assert sorted(d["lantern"] for d in sent["lanterns"]) == confirmed["lantern_ids"]
    # The bystander street was not added to the form either.
    chips = page.eval_on_selector_all(
        "#target-chips .chip-street strong", "els => els.map(e => e.textContent)"
    )
    assert chips == [street]
    shots.take(page, f"sent-{gesture}")


@pytest.mark.parametrize("gesture", ["double", "triple", "enter"])
def test_hammering_the_area_all_clear_sends_one_all_clear_to_the_confirmed_set(
    open_console: Callable[..., Any],
    service: LiveService,
    fleet: Fleet,
    shots: Shots,
    gesture: str,
) -> None:
    street, _ = busiest_street(service)
    page = open_console("dispatcher")
    click_street(page, street)
    confirmed = service.http.post("/targets/preview", json={"streets": [street]}).json()
    wait_text(page, "#preview-count", str(confirmed["lantern_count"]), 10_000)
    before = len(service.http.get("/alerts", params={"limit": 500}).json())
    page.evaluate(COUNT_POSTS)

    # The area card's button, hit hard: one dialog, nothing sent by opening it.
    hit(page, "#btn-area-allclear", gesture)
    page.locator("#confirm").wait_for(state="visible")
    page.wait_for_function("() => !window.lightctl.dispatcher.opening")
    assert "All clear" in text(page, "#confirm-summary")
    assert page.evaluate("() => window.__alertPosts.length") == 0
    shots.take(page, f"area-confirm-{gesture}")

    hit(page, "#confirm-send", gesture)
    page.locator("#live").wait_for(state="visible")
    page.wait_for_function(SETTLED)
    posts = page.evaluate("() => window.__alertPosts")
    assert len(posts) == 1, posts
    assert posts[0]["body"]["template"] == "all_clear"
    assert len(service.http.get("/alerts", params={"limit": 500}).json()) == before + 1
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    sent = service.http.get(f"/alerts/{alert_id}", params={"lanterns": True}).json()
    assert sorted(d["lantern"] for d in sent["lanterns"]) == confirmed["lantern_ids"]


def test_a_target_changed_after_confirming_is_refused_and_confirmed_again(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    page = open_console("dispatcher")
    count = _choose(page, service, street)
    before = len(service.http.get("/alerts", params={"limit": 500}).json())
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    assert text(page, "#confirm-count") == str(count)

    # Meanwhile an operator's import puts one more lantern on the street.
    new_id = add_lantern_on(service, street)
    page.click("#confirm-send")

    # Refused: the dialog comes back naming the change, with the new set.
    page.locator("#confirm-changed").wait_for(state="visible")
    changed = text(page, "#confirm-changed")
    assert f"{count + 1} instead of {count}" in changed, changed
    assert f"{street} +1" in changed, changed
    assert text(page, "#confirm-count") == str(count + 1)
    assert len(service.http.get("/alerts", params={"limit": 500}).json()) == before
    shots.take(page, "changed")

    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    sent = service.http.get(f"/alerts/{alert_id}", params={"lanterns": True}).json()
    lanterns = {d["lantern"] for d in sent["lanterns"]}
    assert new_id in lanterns
    assert len(lanterns) == count + 1
    assert len(service.http.get("/alerts", params={"limit": 500}).json()) == before + 1
    shots.take(page, "sent-new-set")


def test_a_running_warning_is_listed_on_another_device_until_it_is_over(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    page = open_console("dispatcher")
    user = page.user
    count = _choose(page, service, street)
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    wait_text(page, "#count-done", str(count))
    # Delivered everywhere, yet light and pictogram stay on: still running, saying until when.
    page.locator(f"#running-list li[data-alert='{alert_id}'][data-phase=holding]").wait_for()
    phase = text(page, "#live-phase").lower()
    assert "light and projection on until" in phase, phase
    shots.take(page, "holding")
    page.context.close()

    # The same dispatcher signs in on another device: the warning is there, with its controls.
    other = open_console("dispatcher", user=user, fleet_idle=False)
    row = other.locator(f"#running-list li[data-alert='{alert_id}']")
    row.wait_for()
    assert "light and projection on until" in str(row.inner_text()).lower()
    assert row.locator("button[data-action=cancel]").is_enabled()
    assert row.locator("button[data-action=allclear]").is_enabled()
    # ... and it is followed again in the live card.
    other.wait_for_function(
        "id => window.lightctl.dispatcher.alert && window.lightctl.dispatcher.alert.id === id",
        arg=alert_id,
    )
    wait_text(other, "#count-done", str(count), 20_000)
    shots.take(other, "other-device")

    # Cancelled there: listed as ending until every lantern confirmed the release, then gone.
    row.locator("button[data-action=cancel]").click()
    wait_text(other, "#live-status", "cancelled", 20_000)
    other.wait_for_function(
        "id => !document.querySelector(`#running-list li[data-alert='${id}']`)", arg=alert_id
    )
    body = service.http.get(f"/alerts/{alert_id}").json()
    assert body["phase"] == "ended"
    assert body["releases"].get("done", 0) + body["releases"].get("applied", 0) == sum(
        body["releases"].values()
    )
    assert text(other, "#live-release") == f"Released: {count} of {count} lanterns confirmed"
    shots.take(other, "ended")
