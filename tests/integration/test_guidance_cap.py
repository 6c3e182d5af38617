"""CAP with responseType Evacuate: the lanterns of the message's area lead people out of it, and
a CAP Update that moves the area recomputes the arrows on the lanterns."""

from __future__ import annotations

import pytest

from firmware_sim import Fleet
from tests.integration import cap_support
from tests.integration.cap_support import NORTH, SENDER, SOUTH, info, message, post_cap
from tests.integration.conftest import LiveService
from tests.integration.test_guidance_alerts import _applied, _channel, _shown, _until

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

cap_service = cap_support.cap_service


def test_an_evacuate_message_leads_out_and_its_update_moves_the_arrows(
    cap_service: LiveService, fleet: Fleet
) -> None:
    first, ident, sent = message(
        [info("de-DE", "Gasaustritt", "Verlassen Sie das Gebiet.", response="Evacuate")]
    )
    out = post_cap(cap_service, first)
    alert_id = out["alert_ids"][0]
    alert = cap_service.http.get(f"/alerts/{alert_id}").json()
    assert alert["guidance"]["mode"] == "leave_area"
    assert alert["guidance"]["counts"].get("arrow", 0) > 0
    assert "Folgen Sie den Pfeilen aus dem Gefahrenbereich." in alert["messages"]["de"]
    before = _shown(cap_service, alert_id)
    _until(lambda: _applied(fleet, before, 2), "the first arrows")

    update, _ident2, _sent2 = message(
        [
            info(
                "de-DE",
                "Gasaustritt",
                "Verlassen Sie das Gebiet.",
                polygon=SOUTH,
                response="Evacuate",
            )
        ],
        msg_type="Update",
        references=[(SENDER, ident, sent)],
    )
    changed = post_cap(cap_service, update)
    assert changed["decision"] == "updated", changed
    after = _shown(cap_service, alert_id)
    assert after != before
    # CAP feeds write slot 2 (life safety, automatic). The south half is now the hazard: its
    # lanterns lead out of it, and those of the north half let go of their arrows.
    left = set(before) - set(after)
    assert left
    assert set(after) - set(before)
    _until(lambda: _applied(fleet, after, 2), "the arrows of the updated area")
    _until(
        lambda: all(_channel(fleet, lid, "projection").priority != 2 for lid in left),
        "the north half to let go of its arrows",
    )


def test_a_shelter_message_gets_no_arrows(cap_service: LiveService) -> None:
    body, _ident, _sent = message([info("de-DE", "Brand", "Fenster schliessen.", polygon=NORTH)])
    out = post_cap(cap_service, body)
    alert = cap_service.http.get(f"/alerts/{out['alert_ids'][0]}").json()
    assert alert["guidance"] is None
