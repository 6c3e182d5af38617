"""What goes wrong while a dispatcher sends or acts, in headless Chromium against a live stack:
an answer lost on the way (the network drops during the POST) and a warning a second dispatcher
ended meanwhile. Each is said in the dispatcher's language, keeps what was entered, and never
sends twice or to lanterns nobody confirmed. Times are written in the browser's own locale."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import busiest_street, click_street, text, wait_text
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def _alert_count(service: LiveService) -> int:
    return len(service.http.get("/alerts", params={"limit": 500}).json())


def test_an_answer_lost_on_the_way_is_sent_again_with_its_key_and_sends_once(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    confirmed = service.http.post("/targets/preview", json={"streets": [street]}).json()
    page = open_console("dispatcher")
    page.click("label[for=tpl-fire_smoke]")
    click_street(page, street)
    wait_text(page, "#preview-count", str(confirmed["lantern_count"]), 10_000)
    before = _alert_count(service)

    # The first POST reaches the server (which stores the alert), its answer never comes back;
    # every retry is lost before it reaches the server: the network is gone.
    keys: list[str] = []
    reached: list[int] = []

    def network(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if not reached:
            reached.append(route.fetch().status)
        route.abort("internetdisconnected")

    page.route("**/api/v1/alerts", network)
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-send")
    page.locator("#form-error", has_text="No answer").wait_for(timeout=20_000)
    assert reached == [201]
    assert len(keys) == 4, keys  # the try and three retries, all with the one key
    assert len(set(keys)) == 1, keys
    # Everything entered is kept, and the alert stored by the first try is the only one.
    assert page.is_checked("#tpl-fire_smoke")
    assert street in text(page, "#target-chips")
    assert _alert_count(service) == before + 1
    shots.take(page, "no-answer")

    # The network is back; the dispatcher presses send again and confirms the same warning:
    # the same key, so the server answers the alert it already has instead of a second one.
    page.unroute("**/api/v1/alerts", network)
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    assert _alert_count(service) == before + 1
    sent = service.http.get(f"/alerts/{alert_id}", params={"lanterns": True}).json()
    assert sorted(d["lantern"] for d in sent["lanterns"]) == confirmed["lantern_ids"]
    shots.take(page, "sent-once")


# A time as each locale writes it (day and month, then the time of day).
DE_TIME = re.compile(r"\b\d\d\.\d\d\., \d\d:\d\d:\d\d\b")
US_TIME = re.compile(r"\b\d\d/\d\d, \d\d:\d\d:\d\d [AP]M\b")


def test_a_warning_another_dispatcher_ended_is_refused_in_words_and_nothing_is_sent(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, count = busiest_street(service)
    sent = service.http.post(
        "/alerts", json={"target": {"streets": [street]}, "template": "fire_smoke"}
    )
    assert sent.status_code == 201, sent.text
    alert_id = sent.json()["id"]

    # Erika's browser speaks German; Sam's is set to US English. Each sees the warning running,
    # its time written as their own browser writes times.
    erika = open_console("dispatcher", locale="de-DE", fleet_idle=False)
    sam = open_console("dispatcher", locale="en-US", fleet_idle=False)
    for page in (erika, sam):
        page.wait_for_function("id => window.lightctl.dispatcher.alert?.id === id", arg=alert_id)
        wait_text(page, "#count-done", str(count))
    erika_row = text(erika, f"#running-list li[data-alert='{alert_id}']")
    sam_row = text(sam, f"#running-list li[data-alert='{alert_id}']")
    assert DE_TIME.search(erika_row), erika_row
    assert DE_TIME.search(text(erika, "#live-summary")), text(erika, "#live-summary")
    assert US_TIME.search(sam_row), sam_row
    assert US_TIME.search(text(sam, "#live-summary")), text(sam, "#live-summary")

    # Erika's page stops hearing about the warning (its progress stream stalls, and no poll
    # gets through: only what she sends reaches the server)...
    def stalled(route: Any) -> None:
        if route.request.method == "GET":
            route.abort("internetdisconnected")
        else:
            route.continue_()

    erika.route("**/api/v1/**", stalled)
    erika.evaluate("() => window.lightctl.dispatcher.follower._stopStream()")
    # ...while Sam cancels it.
    sam.locator(f"#running-list li[data-alert='{alert_id}'] button[data-action=cancel]").click()
    wait_text(sam, "#live-status", "cancelled", 20_000)
    before = _alert_count(service)

    # Erika, still seeing it running, gives the all-clear: refused, said in German, nothing sent.
    assert erika.is_enabled("#btn-allclear")
    erika.click("#btn-allclear")
    erika.locator("#live-error", has_text="bereits").wait_for()
    said = text(erika, "#live-error")
    assert "abgebrochen" in said, said
    assert _alert_count(service) == before
    body = service.http.get(f"/alerts/{alert_id}").json()
    assert body["status"] == "cancelled"
    shots.take(erika, "ended-elsewhere")

    # The audit trail tells it in words, the refusal with its status.
    sam.click("#tab-operate")
    title = f"“Fire and heavy smoke – {street}”"
    sam.locator("#audit-list li", has_text=f"{sam.user} cancelled {title}").wait_for()
    refused = f"{erika.user} gave the all-clear for {title} (refused, HTTP 409)"
    sam.locator("#audit-list li", has_text=refused).wait_for()
    shots.take(sam, "audit-in-words")
