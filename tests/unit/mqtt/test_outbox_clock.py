"""One clock for the store and the outbox: a delivery is due from the injected clock's "now",
so an outbox on a clock far from the wall clock publishes what was just stored, at once, and
a retry waits for that clock, not for the wall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lightctl.protocol import CommandEnvelope, LightPayload, Topics
from lightctl.services.alerts import commands as build
from lightctl.services.delivery.outbox import Outbox
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from tests.support import FakeClock, RecordingLink

ACK_TIMEOUT_S = 10.0


@pytest.mark.parametrize(
    "start",
    [datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)],
    ids=["clock behind the wall", "clock ahead of the wall"],
)
def test_what_is_stored_on_the_injected_clock_is_due_on_that_clock(
    db: Database, start: datetime
) -> None:
    clock, link = FakeClock(start), RecordingLink()
    env = CommandEnvelope(
        id="c-clock",
        alert_id="al-clock",
        channel="light",
        op="set",
        priority=1,
        issued_at=clock.now,
        expires_at=clock.now + timedelta(minutes=10),
        payload=LightPayload(on=True, brightness=100),
        seq=SequenceCounter(0).next(),
    )
    with db.session() as session:
        alert_store.save_commands(
            session, "al-clock", [(build.command_row(env), ["L0", "L1"])], now=clock.now
        )
        stamps = {d.next_attempt_at for d in alert_store.deliveries(session, "c-clock")}
    assert stamps == {start}

    outbox = Outbox(db, link, Topics("t"), ACK_TIMEOUT_S, clock)  # type: ignore[arg-type]
    assert outbox.pump() == 2  # the clock has not moved: due now, on this clock

    # Unanswered, the retry comes when this clock has moved past the ack timeout, not before.
    clock.now += timedelta(seconds=ACK_TIMEOUT_S / 2)
    assert outbox.pump() == 0
    clock.now += timedelta(seconds=ACK_TIMEOUT_S)
    assert outbox.pump() == 2
