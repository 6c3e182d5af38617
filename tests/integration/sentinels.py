"""Positive signs that a moment has passed, for tests that check that something did NOT happen.

Sleeping and then asserting "nothing happened" passes on a slow runner for the wrong reason: the
thing that should not happen may simply not have happened yet. These helpers wait instead for a
message that can only arrive after everything that could have gone wrong already has.
"""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import LiveService
from tests.integration.resilience import wait_until

# A projected pictogram at the visitor-steering slot: it leaves light, audio and path alone.
SENTINEL_PROJECTION = {"pictogram": "walk", "heading_deg": 0}


def projection_sentinel(
    service: LiveService, lantern_ids: str | list[str], timeout_s: float = 20
) -> str:
    """Send one steering command (projection, slot 10) to each of ``lantern_ids`` through the
    service and wait until every lantern's ack for it is stored; returns the steering id."""
    ids = [lantern_ids] if isinstance(lantern_ids, str) else list(lantern_ids)
    response = service.http.post(
        "/steering",
        json={
            "target": {"lanterns": ids},
            "projection": SENTINEL_PROJECTION,
            "ends_in_s": 120,
            "label": "test sentinel",
        },
    )
    assert response.status_code == 201, response.text
    steering: dict[str, Any] = response.json()

    def acked() -> bool:
        body = service.http.get(f"/steering/{steering['id']}").json()
        return bool(body["channels"]["projection"]["delivered"] == len(ids))

    wait_until(acked, timeout_s, f"the sentinel's ack from {', '.join(ids)}")
    return str(steering["id"])


def outbox_settled(service: LiveService, lantern_ids: str | list[str]) -> None:
    """Wait until whatever the service had decided to send ``lantern_ids`` when this was called
    (new commands, re-sends for a lantern that came back) has reached it and been handled.

    Three sentinels, each sent once the previous one's ack is stored:
    1. the consumer applies batches one after another, so once the first sentinel's ack is
       stored, the batch that was in progress (say, the one that saw the lantern come back and
       asked the outbox for re-sends) has finished;
    2. the second sentinel is therefore published by a pump that starts after every such
       request: that pump or an earlier one publishes the re-sends (within one pump, new
       commands go out before re-sends);
    3. the third is published by a later pump still, after every re-send, on the same MQTT
          connection and topic: the lantern, handling its commands in order, has handled all of
       them once it acks the third.
    """
    for _ in range(3):
        projection_sentinel(service, lantern_ids)
