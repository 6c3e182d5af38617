"""30% of the lanterns are offline when a warning goes out and come back after 10 s: they get it.
Lanterns that come back only after it expired never play it and end `unreachable`."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control import apply_spec
from firmware_sim.faults import select
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from tests.integration.conftest import LANTERNS, LiveService, make_settings
from tests.integration.resilience import (
    GERMAN,
    audio_command,
    finished,
    lantern_ids,
    on_fleet,
    plays,
    signed_fleet,
    wait_until,
)
from tests.integration.sentinels import outbox_settled
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

BACK_AFTER_S = 10
EXPIRES_IN_S = 20
# Back only after expiry: offline this long from before the warning was sent.
LATE_S = 25


def test_offline_lanterns_get_the_warning_when_back_unless_it_expired(
    sqlite_inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    ids = lantern_ids(LANTERNS)
    back = select("30%", ids)
    late = [i for i in select("40%", ids) if i not in set(back)]  # another 10%
    settings = make_settings(tmp_path, mosquitto.url, topic_root, ack_timeout_s=3.0)
    sim = signed_fleet(mosquitto.url, LANTERNS, topic_root, settings.data_dir, speed=20)
    service = LiveService(settings, sqlite_inventory)
    service.start()
    sim.start()
    try:
        spec = f"offline={BACK_AFTER_S}@{','.join(back)};offline={LATE_S}@{','.join(late)}"
        on_fleet(sim, lambda: apply_spec(sim.fleet, spec))

        def known_offline() -> bool:
            with sqlite_inventory.session() as session:
                return len(lantern_store.offline_ids(session, ids)) == len(back) + len(late)

        wait_until(known_offline, 10, "the service to see the lanterns offline")
        response = service.http.post(
            "/alerts",
            json={
                "target": {"lanterns": ids},
                "messages": {"de": GERMAN},
                "expires_in_s": EXPIRES_IN_S,
            },
        )
        assert response.status_code == 201, response.text
        alert = response.json()
        body = service.wait_for(alert["id"], finished, EXPIRES_IN_S + 15)
        audio_id = audio_command(body)
        rows = service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()
        states = {r["lantern"]: (r["state"], r["reason"]) for r in rows["lanterns"]}
        for lantern_id in ids:
            if lantern_id in late:
                assert states[lantern_id] == ("unreachable", "offline until expiry"), lantern_id
            else:
                assert states[lantern_id][0] == "done", (lantern_id, states[lantern_id])
        counts = body["counts"]
        assert counts == {"done": len(ids) - len(late), "unreachable": len(late)}, counts
        for command in body["commands"]:  # light and projection reached the returners too
            if command["channel"] != "audio":
                expected = {"applied": counts["done"], "unreachable": len(late)}
                assert command["counts"] == expected, command

        # The late ones come back after expiry: nothing is re-sent, nothing plays. The service
        # sees them back, then sentinels sent through it reach them after any re-send.
        def late_back() -> bool:
            with sqlite_inventory.session() as session:
                return not lantern_store.offline_ids(session, late)

        wait_until(late_back, LATE_S + 10, "the late lanterns to come back")
        outbox_settled(service, late)

        def online(lantern_id: str) -> bool:
            return sim.fleet.unit(lantern_id).link.online

        def acks_of(lantern_id: str) -> list[Any]:
            return list(sim.fleet.record(lantern_id).acks)

        assert all(on_fleet(sim, partial(online, i)) for i in late)
        for lantern_id in late:
            assert plays(sim, lantern_id, audio_id) == 0, lantern_id
            acked = on_fleet(sim, partial(acks_of, lantern_id))
            assert all(a.cmd_id != audio_id for a in acked), lantern_id
        for lantern_id in back:
            assert plays(sim, lantern_id, audio_id) == 1, lantern_id
        final = service.http.get(f"/alerts/{alert['id']}").json()
        assert final["counts"] == counts  # no late ack changed the record
    finally:
        sim.stop()
        service.stop()
