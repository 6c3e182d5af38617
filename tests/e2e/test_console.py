"""The dispatcher's and operator's console in headless Chromium against a live stack: sign in,
warn a street in three clicks, watch every lantern answer, cancel, and be told in plain words
what is wrong with bad input (screenshots of every step in test-artifacts/console/)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from firmware_sim.faults import Faults
from tests.e2e.conftest import Shots
from tests.e2e.pages import (
    PASSWORD,
    TABLET,
    busiest_street,
    click_lantern,
    click_street,
    end_sessions,
    text,
    wait_text,
)
from tests.integration.conftest import FleetThread, LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def test_warn_a_street_and_cancel(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    templates = service.http.get("/templates").json()
    fire = next(t for t in templates if t["id"].startswith("fire"))
    street, _ = busiest_street(service)
    service.runtime.coverage.refresh()  # the acoustic model, before the first preview
    expected = service.http.post("/targets/preview", json={"streets": [street]}).json()

    page = open_console("dispatcher", shots=shots)
    shots.take(page, "loaded")

    # 1. the hazard
    page.click(f"label[for=tpl-{fire['id']}]")
    assert page.is_checked(f"#tpl-{fire['id']}")
    checked = page.eval_on_selector_all("#languages input:checked", "els => els.map(e => e.value)")
    assert checked == ["de", "en"]  # the city's languages (setting city_languages), any hazard
    shots.take(page, "hazard")

    # 2. the street, clicked on the map; the preview matches the API's for that street
    click_street(page, street)
    page.locator("#target-chips .chip-street", has_text=street).wait_for()
    wait_text(page, "#preview-count", str(expected["lantern_count"]), 10_000)
    assert text(page, "#preview-offline") == str(expected["offline_count"])
    no_speaker = expected["lantern_count"] - expected["capabilities"].get("speaker", 0)
    assert text(page, "#preview-nospeaker") == str(no_speaker)
    assert street in text(page, "#preview-streets")
    assert page.evaluate("() => window.lightctl.map.preview.size") == expected["lantern_count"]
    gaps = page.evaluate("() => window.lightctl.map.gaps.getLayers().length")
    assert gaps == len(expected["coverage"]["gaps"])  # drawn in red
    shots.take(page, "preview")

    # 3. send, with one confirmation
    page.click("#btn-send")
    page.locator("#confirm").wait_for(state="visible")
    summary = text(page, "#confirm-summary")
    assert str(expected["lantern_count"]) in summary
    # The acoustic coverage of the street, as the preview gave it (issue 19).
    assert f"{round(expected['coverage']['intelligible'] * 100)} %" in summary
    shots.take(page, "confirm")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    shots.take(page, "sending")

    # 4. live progress until every lantern is done, on the counts and on the map
    n = expected["lantern_count"]
    wait_text(page, "#count-done", str(n))
    page.wait_for_function("n => window.lightctl.map.shownCounts().done === n", arg=n)
    wait_text(page, "#legend [data-legend=done] .n", str(n), 10_000)
    body = service.http.get(f"/alerts/{alert_id}").json()
    assert body["counts"] == {"done": n}
    assert body["exercise"] is False
    for state in ("failed", "unreachable"):
        assert text(page, f"#count-{state}") == "0"
    shots.take(page, "done")

    # 5. a second alert, an exercise, cancelled from the console
    page.click("#btn-close-live")
    page.check("#exercise")
    assert "exercise" in text(page, "#btn-send").lower()
    page.click("#btn-send")
    page.locator("#confirm-exercise").wait_for(state="visible")
    page.click("#confirm-send")
    page.wait_for_function(
        "old => window.lightctl.dispatcher.alert && window.lightctl.dispatcher.alert.id !== old",
        arg=alert_id,
    )
    second = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    assert page.locator("#live-exercise").is_visible()
    page.click("#btn-cancel")
    wait_text(page, "#live-status", "cancelled", 20_000)
    # The console keeps following until the last lantern has answered the cancellation.
    wait_text(page, "#count-received", "0", 20_000)
    wait_text(page, "#count-playing", "0", 20_000)
    assert service.http.get(f"/alerts/{second}").json()["status"] == "cancelled"
    assert page.is_disabled("#btn-cancel")
    page.locator("#alert-list .alert-row.exercise", has_text="cancelled").wait_for()
    shots.take(page, "cancelled")


def test_bad_input_is_explained_and_kept(
    open_console: Callable[..., Any], service: LiveService, shots: Shots
) -> None:
    page = open_console("dispatcher")

    # Nothing chosen: both steps say what is missing, nothing is sent.
    page.click("#btn-send")
    assert "hazard" in text(page, "#err-template").lower()
    assert "where to warn" in text(page, "#err-target").lower()
    assert not page.locator("#confirm").is_visible()
    shots.take(page, "nothing-chosen")

    # A street but no hazard: only the hazard is asked for, the street stays chosen.
    street, count = busiest_street(service)
    page.fill("#street-input", street)
    page.press("#street-input", "Enter")
    wait_text(page, "#preview-count", str(count), 10_000)
    page.click("#btn-send")
    assert "hazard" in text(page, "#err-template").lower()
    assert text(page, "#err-target") == ""
    assert street in text(page, "#target-chips")
    assert page.evaluate("() => document.activeElement.name") == "template"
    assert not page.locator("#confirm").is_visible()
    shots.take(page, "no-hazard")

    # A hazard but no target (the street removed): only the target is asked for.
    page.click("label[for=tpl-gas_leak]")
    page.click("#target-chips .chip-street .chip-x")
    page.wait_for_function("() => document.querySelector('#preview-grid').hidden")
    page.click("#btn-send")
    assert "where to warn" in text(page, "#err-target").lower()
    assert text(page, "#err-template") == ""
    assert page.is_checked("#tpl-gas_leak")
    assert page.evaluate("() => document.activeElement.id") == "street-input"
    assert not page.locator("#confirm").is_visible()
    shots.take(page, "no-target")

    # A polygon drawn as a bow tie: the API refuses it, the page says so and keeps it.
    page.click("#tool-polygon")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-120, -90), (120, 90), (120, -90), (-120, 90)):
        page.mouse.click(cx + dx, cy + dy)
        time.sleep(0.05)
    page.click("#draw-finish")
    page.locator("#target-chips .chip-area").wait_for()
    page.wait_for_function("() => document.querySelector('#err-target').textContent.length > 0")
    assert "crosses itself" in text(page, "#err-target")
    assert page.locator("#btn-repair").is_visible()
    assert page.is_checked("#tpl-gas_leak")  # the hazard chosen before is kept
    shots.take(page, "self-intersecting")
    page.click("#btn-send")
    assert "not sent" in text(page, "#form-error")
    assert not page.locator("#confirm").is_visible()

    # Repairing it gives a preview again.
    page.click("#btn-repair")
    page.wait_for_function("() => document.querySelector('#preview-grid').hidden === false")
    assert text(page, "#err-target") == ""
    shots.take(page, "repaired")

    # A circle where no lantern stands: zero lanterns, explained, the circle kept.
    page.click("#target-chips .chip-area .chip-x")
    point = page.evaluate(
        """() => {
          const cmap = window.lightctl.map;
          const lats = [...cmap.live.values()].map(l => l.lat);
          const lons = [...cmap.live.values()].map(l => l.lon);
          const north = Math.max(...lats) + 0.0012;  // ~130 m north of the northernmost lantern
          const lon = (Math.min(...lons) + Math.max(...lons)) / 2;
          cmap.map.setView([north, lon], 17, {animate: false});
          return cmap.map.latLngToContainerPoint([north, lon]);
        }"""
    )
    page.click("#tool-circle")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.mouse.click(box["x"] + point["x"] + 30, box["y"] + point["y"])
    page.locator("#target-chips .chip-circle").wait_for()
    page.wait_for_function("() => document.querySelector('#err-target').textContent.length > 0")
    assert "no lantern stands" in text(page, "#err-target").lower()
    assert page.locator("#circle-radius").input_value() != ""
    shots.take(page, "zero-lanterns")

    # A placeholder left empty is named at its field.
    page.click("#target-chips .chip-circle .chip-x")
    page.fill("#street-input", street)
    page.click("#street-add")
    wait_text(page, "#preview-count", str(count), 10_000)
    page.fill("#param-street", "")
    page.click("#btn-send")
    assert text(page, "#err-param-street") != ""
    assert page.get_attribute("#param-street", "aria-invalid") == "true"
    assert not page.locator("#confirm").is_visible()
    shots.take(page, "missing-detail")

    # The session ends mid-flow: the page asks for a sign-in and keeps everything entered.
    page.fill("#param-street", street)
    user = page.user
    assert text(page, "#session .who").startswith(user)
    end_sessions(service, user)
    page.locator("#login").wait_for(state="visible")
    assert "expired" in text(page, "#login-reason")
    shots.take(page, "session-expired")
    page.fill("#login-user", user)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.locator("#login").wait_for(state="hidden")
    assert page.is_checked("#tpl-gas_leak")
    assert street in text(page, "#target-chips")
    assert page.input_value("#param-street") == street
    page.click("#btn-send")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    shots.take(page, "sent-after-sign-in")


def test_operator_view_language_keyboard_and_tablet(
    open_console: Callable[..., Any], fleet: Fleet, shots: Shots
) -> None:
    page = open_console("operator,viewer")
    total = len(fleet.lantern_ids)

    # An operator lands where they work: the fleet view (capabilities from GET /auth/me).
    assert page.get_attribute("#tab-operate", "aria-selected") == "true"
    assert page.locator("#view-operate").is_visible()
    page.click("#tab-dispatch")
    # An operator may not alert: the send button says so instead of failing later.
    assert page.is_disabled("#btn-send")
    assert "role" in text(page, "#form-error")

    # Tabs by keyboard: arrow keys move between the views.
    page.focus("#tab-dispatch")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-operate", "aria-selected") == "true"
    assert page.evaluate("() => document.activeElement.id") == "tab-operate"
    assert page.locator("#view-operate").is_visible()
    page.wait_for_function(
        "n => document.querySelector('#fleet-summary .fleet-online dd')?.textContent === String(n)",
        arg=total,
    )

    # A lantern picked on the map shows its state; fault injection names what is missing.
    lantern_id = fleet.lantern_ids[0]
    point = page.evaluate(
        """id => {
          const cmap = window.lightctl.map;
          const l = cmap.live.get(id);
          cmap.map.setView([l.lat, l.lon], 19, {animate: false});
          return cmap.map.latLngToContainerPoint([l.lat, l.lon]);
        }""",
        lantern_id,
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.locator("#lantern-detail .lantern-facts").wait_for()
    assert page.input_value("#lantern-input") == lantern_id
    assert lantern_id in text(page, "#lantern-detail")
    page.wait_for_function("() => !document.querySelector('#fault-inject').disabled")
    shots.take(page, "operator")

    # German and back: the whole page follows the switch.
    page.click("button[data-lang=de]")
    assert text(page, "#tab-operate") == "Betrieb"
    assert page.evaluate("() => document.documentElement.lang") == "de"
    shots.take(page, "german")
    page.click("button[data-lang=en]")
    assert text(page, "#tab-operate") == "Operations"

    # On a tablet held upright the map sits above the steps and nothing scrolls sideways.
    tablet = open_console("dispatcher", viewport=TABLET)
    assert tablet.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    map_box = tablet.locator("#map").bounding_box()
    panel_box = tablet.locator("#panel").bounding_box()
    assert map_box["y"] < panel_box["y"]
    shots.take(tablet, "tablet", full_page=True)


def test_fault_injected_by_the_operator_shows_on_the_alert(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    street, _ = busiest_street(service)
    targeted = service.http.post("/targets/preview", json={"streets": [street]}).json()
    broken = targeted["lantern_ids"][0]
    n = targeted["lantern_count"]
    page = open_console("dispatcher,operator")

    # The operator breaks one lantern's speaker in the simulator.
    page.click("#tab-operate")
    click_lantern(page, broken)
    page.locator("#lantern-detail .lantern-facts").wait_for()
    assert page.input_value("#lantern-input") == broken
    page.select_option("#fault-kind", "speaker_broken")
    page.wait_for_function("() => !document.querySelector('#fault-inject').disabled")
    page.click("#fault-inject")
    page.locator("#fault-status", has_text="injected").wait_for()
    assert broken in text(page, "#fault-status")
    # The operator's map marks it as soon as the lantern reports it (its retained state).
    page.wait_for_function(
        "id => window.lightctl.map.markers.get(id).broken === true", arg=broken, polling=250
    )
    wait_text(page, "#legend [data-legend=brokenSpeaker] .n", "1", 10_000)
    shots.take(page, "speaker-broken")

    # Before anyone sends, the dispatcher's preview and confirmation count and name it.
    page.click("#tab-dispatch")
    page.click("label[for=tpl-fire_smoke]")
    click_street(page, street)
    wait_text(page, "#preview-count", str(n), 10_000)
    wait_text(page, "#preview-broken", "1", 10_000)
    assert broken in text(page, "#preview-broken-ids")
    page.click("#btn-send")
    page.locator("#confirm-broken").wait_for()
    assert text(page, "#confirm-broken") == f"1: {broken}"
    shots.take(page, "broken-in-confirm")
    page.click("#confirm-send")
    page.locator("#live").wait_for(state="visible")
    wait_text(page, "#count-done", str(n - 1))
    wait_text(page, "#count-failed", "1")
    page.wait_for_function(
        "id => window.lightctl.map.markers.get(id).shown === 'failed'", arg=broken
    )
    wait_text(page, "#legend [data-legend=failed] .n", "1", 10_000)
    alert_id = page.evaluate("() => window.lightctl.dispatcher.alert.id")
    rows = service.http.get(f"/alerts/{alert_id}", params={"lanterns": True}).json()["lanterns"]
    row = next(r for r in rows if r["lantern"] == broken)
    assert row["state"] == "failed"
    assert "speaker" in (row["reason"] or "")
    shots.take(page, "failed-on-alert")

    # Listed with its reason; a click shows its story in this warning, and the map its place.
    item = page.locator(f"#live-problem-list li[data-problem='{broken}']")
    assert "speaker" in text(page, f"#live-problem-list li[data-problem='{broken}']")
    item.locator("button").click()
    page.locator(f"#live-lantern[data-lantern='{broken}']").wait_for()
    history = text(page, "#live-lantern")
    assert "failed" in history
    assert "speaker" in history
    assert page.evaluate("() => window.lightctl.map.focus") == broken
    shots.take(page, "failed-lantern-history")

    # The same story from the map: the failed lantern clicked where it stands.
    page.evaluate(
        """() => { const box = document.querySelector('#live-lantern');
          box.hidden = true; delete box.dataset.lantern; }"""
    )
    click_lantern(page, broken)
    page.locator(f"#live-lantern[data-lantern='{broken}']").wait_for()
    assert "speaker" in text(page, "#live-lantern")


def test_a_cancelled_warning_shows_its_releases_coming_in_not_a_full_bar(
    open_console: Callable[..., Any], service: LiveService, fleet_thread: FleetThread, shots: Shots
) -> None:
    street, count = busiest_street(service)
    ids = service.http.post("/targets/preview", json={"streets": [street]}).json()["lantern_ids"]
    page = open_console("dispatcher")
    page.click("label[for=tpl-fire_smoke]")
    click_street(page, street)
    wait_text(page, "#preview-count", str(count), 10_000)
    page.click("#btn-send")
    page.click("#confirm-send")
    wait_text(page, "#count-done", str(count))

    # Two lanterns answer 8 s late from now on: the cancel is confirmed by the rest first.
    slow = ids[:2]
    for lantern_id in slow:
        fleet_thread.loop.call_soon_threadsafe(
            fleet_thread.fleet.set_faults, lantern_id, Faults(delay_acks_s=8.0)
        )
    page.click("#btn-cancel")
    wait_text(page, "#live-status", "cancelled", 20_000)
    waiting = f"Released: {count - len(slow)} of {count} lanterns confirmed"
    wait_text(page, "#live-release", waiting, 20_000)
    # Cancelled, but not over on the street: the bar is the releases confirmed, not full.
    width = page.evaluate("() => document.getElementById('live-bar').style.width")
    assert float(width.rstrip("%")) < 100, width
    assert page.locator("#live-bar.ending").count() == 1
    shots.take(page, "cancel-releases-coming-in")
    wait_text(page, "#live-release", f"Released: {count} of {count} lanterns confirmed", 30_000)
    page.wait_for_function("() => document.getElementById('live-bar').style.width === '100%'")
    shots.take(page, "cancel-released")
