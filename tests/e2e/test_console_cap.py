"""An official warning the policy does not play by itself waits in the dispatcher's console as
a suggestion (text, languages, lanterns, streets, area on the map); one click sends it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_sim import Fleet
from tests.e2e.conftest import Shots
from tests.e2e.pages import hit, text
from tests.integration.cap_support import info, message, post_cap
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

DWD = "opendata@dwd.de"


@pytest.mark.parametrize("service", [{"cap_sources": {DWD: {}}}], indirect=True)
def test_a_cap_suggestion_is_sent_with_one_click(
    open_console: Callable[..., Any], service: LiveService, fleet: Fleet, shots: Shots
) -> None:
    body, ident, _ = message(
        [
            info("de-DE", "Unwetterwarnung", "Meiden Sie Bäume."),
            info("en-GB", "Severe weather", "Keep away from trees."),
        ],
        sender=DWD,
    )
    suggestion = post_cap(service, body)
    assert suggestion["decision"] == "suggested"
    page = open_console("dispatcher", shots=shots)
    card = page.locator(f'#feature-cap-suggestions .cap-suggestion[data-id="{suggestion["id"]}"]')
    card.wait_for()
    assert "Unwetterwarnung" in card.inner_text()
    lanterns = suggestion["plan"]["lantern_count"]
    assert f"{lanterns} lanterns" in card.inner_text()
    page.click(f'button[data-cap-show="{suggestion["id"]}"]')
    shots.take(page, "suggestion")
    page.click(f'button[data-cap-send="{suggestion["id"]}"]')
    card.wait_for(state="detached")
    sent = service.http.get(f"/cap/messages/{suggestion['id']}").json()
    assert sent["decision"] == "sent"
    alert = service.http.get(f"/alerts/{sent['alert_ids'][0]}").json()
    assert alert["languages"] == ["de", "en"]
    assert alert["lantern_count"] == lanterns
    assert "no official warning" in text(page, "#feature-cap-suggestions").lower()
    audit = service.http.get("/audit", params={"limit": 50}).json()
    assert ("cap.sent", ident) in {(r["action"], r["subject"]) for r in audit}


@pytest.mark.parametrize("gesture", ["double", "triple", "enter"])
@pytest.mark.parametrize("service", [{"cap_sources": {DWD: {}}}], indirect=True)
def test_hammering_a_cap_suggestions_send_button_sends_it_once(
    open_console: Callable[..., Any],
    service: LiveService,
    fleet: Fleet,
    shots: Shots,
    gesture: str,
) -> None:
    body, _ident, _ = message([info("de-DE", "Unwetterwarnung", "Meiden Sie Bäume.")], sender=DWD)
    suggestion = post_cap(service, body)
    assert suggestion["decision"] == "suggested"
    before = len(service.http.get("/alerts", params={"limit": 500}).json())
    page = open_console("dispatcher", shots=shots)
    button = f'button[data-cap-send="{suggestion["id"]}"]'
    page.locator(button).wait_for()
    hit(page, button, gesture)
    page.locator(f'.cap-suggestion[data-id="{suggestion["id"]}"]').wait_for(state="detached")
    sent = service.http.get(f"/cap/messages/{suggestion['id']}").json()
    assert sent["decision"] == "sent"
    assert len(sent["alert_ids"]) == 1
    alerts = service.http.get("/alerts", params={"limit": 500}).json()
    assert len(alerts) == before + 1
    # No second send was tried behind the first (it would have been refused, and said so).
    assert text(page, "#feature-cap-suggestions .error") == ""
