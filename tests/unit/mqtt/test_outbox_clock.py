"""One clock for the store and the outbox: a delivery is due from the injected clock's "now",
so an outbox on a clock far from the wall clock publishes what was just stored, at once, and
a retry waits for that clock, not for the wall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from lightctl.domain.delivery import FINAL_ACK_GRACE_S
from lightctl.protocol import CommandEnvelope, LightPayload, Topics
from lightctl.services.alerts import commands as build
from lightctl.services.delivery.outbox import Outbox
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store
from lightctl.store.tables import DeliveryRow
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
            session, "al-clock", [(build.stored(env), ["L0", "L1"])], now=clock.now
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


def test_past_expiry_the_outbox_records_each_lantern_truthfully_on_its_clock(
    db: Database,
) -> None:
    """Never received: `unreachable` when the lantern is offline, `expired` when online; received
    without a final ack: `expired` only once the final-ack grace has passed on the same clock."""
    clock, link = FakeClock(datetime(2030, 6, 1, tzinfo=UTC)), RecordingLink()
    env = CommandEnvelope(
        id="c-end",
        alert_id="al-end",
        channel="light",
        op="set",
        priority=1,
        issued_at=clock.now,
        expires_at=clock.now + timedelta(seconds=60),
        payload=LightPayload(on=True, brightness=100),
        seq=SequenceCounter(0).next(),
    )
    with db.session() as session:
        alert_store.save_commands(
            session, "al-end", [(build.stored(env), ["L0", "L1", "L2"])], now=clock.now
        )
        lantern_store.set_availability(session, "L1", False, 1, None, clock.now)
    outbox = Outbox(db, link, Topics("t"), ACK_TIMEOUT_S, clock)  # type: ignore[arg-type]
    assert outbox.pump() == 3
    with db.session() as session:  # L2 said `received`, then nothing more
        session.execute(
            update(DeliveryRow).where(col(DeliveryRow.lantern_id) == "L2").values(state="received")
        )

    clock.now = env.expires_at + timedelta(seconds=1)
    outbox.pump()
    assert _states(db) == {"L0": "expired", "L1": "unreachable", "L2": "received"}
    clock.now = env.expires_at + timedelta(seconds=FINAL_ACK_GRACE_S + 1)
    outbox.pump()
    assert _states(db) == {"L0": "expired", "L1": "unreachable", "L2": "expired"}
    assert (outbox.unreachable_total, outbox.expired_total) == (1, 2)


def _states(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {d.lantern_id: d.state for d in alert_store.deliveries(session, "c-end")}
