"""The outbox and a command sent ahead (``starts_at``): published at once with the message expiry
of its whole remaining life, never taken for lost while the lantern holds it for its start, and
asked about again only once its start has passed without the final ack."""

from __future__ import annotations

from datetime import timedelta

from lightctl.domain.delivery import final_ack_due
from lightctl.protocol import CommandEnvelope, LightPayload, Topics
from lightctl.services.alerts import commands as build
from lightctl.services.delivery.acks import acked_command
from lightctl.services.delivery.outbox import Outbox, Return
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from tests.support import FakeClock, RecordingLink

ACK_TIMEOUT_S = 10.0


def _store_ahead(db: Database, clock: FakeClock, starts_in: timedelta, lasts: timedelta) -> None:
    env = CommandEnvelope(
        id="step2",
        alert_id="sc_city",
        channel="light",
        op="set",
        priority=15,
        issued_at=clock.now,
        starts_at=clock.now + starts_in,
        expires_at=clock.now + starts_in + lasts,
        payload=LightPayload(on=True, brightness=50),
        seq=SequenceCounter(0).next(),
    )
    row = build.stored(env)
    with db.session() as session:
        alert_store.save_commands(session, "sc_city", [(row, ["L0", "L1"])], now=clock.now)


def _states(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {d.lantern_id: d.state for d in alert_store.deliveries(session, "step2")}


def test_a_command_sent_ahead_goes_out_now_with_its_whole_life_as_message_expiry(
    db: Database,
) -> None:
    clock, link = FakeClock(), RecordingLink()
    outbox = Outbox(db, link, Topics("t"), ACK_TIMEOUT_S, clock)  # type: ignore[arg-type]
    _store_ahead(db, clock, starts_in=timedelta(hours=3), lasts=timedelta(hours=2))

    assert outbox.pump() == 2
    life_s = timedelta(hours=5).total_seconds()  # the clock has not moved since it was stored
    assert sorted(t for t, _p, _e in link.sent) == ["t/v1/lanterns/L0/cmd", "t/v1/lanterns/L1/cmd"]
    assert {e for _t, _p, e in link.sent} == {int(life_s)}  # until expires_at, not starts_at
    sent = CommandEnvelope.from_bytes(link.sent[0][1])
    assert sent.starts_at == clock.now + timedelta(hours=3)
    assert _states(db) == {"L0": "published", "L1": "published"}

    # L0 holds it (`received`, reason pending), written as the ack ledger writes it: its final
    # ack (`applied`) is due the ack timeout after its start. Before the start the outbox does
    # not repeat it; once the start has passed without `applied` it asks L0 again (the lantern
    # answers a command it holds with its last ack); it never gives up on it while it lives.
    with db.session() as session:
        envelope = alert_store.envelopes_by_id(session, ["step2"])["step2"]
        due = final_ack_due(acked_command(envelope), clock.now, ACK_TIMEOUT_S)
        move = alert_store.AckedState("step2", "L0", "received", None, None, None, due)
        alert_store.record_acks(session, [move], clock.now)
    assert due == sent.starts_at + timedelta(seconds=ACK_TIMEOUT_S)
    link.sent.clear()
    clock.now = sent.issued_at + timedelta(hours=1)
    outbox.pump()
    assert all("/L0/" not in t for t, _p, _e in link.sent)
    clock.now = sent.issued_at + timedelta(hours=3, minutes=30)
    outbox.pump()
    again = [CommandEnvelope.from_bytes(p) for t, p, _e in link.sent if "/L0/" in t]
    assert [e.id for e in again] == ["step2"]
    for at in (timedelta(hours=3, minutes=30), timedelta(hours=4, minutes=59)):
        clock.now = sent.issued_at + at
        outbox.pump()
        assert _states(db)["L0"] == "received", at
    # L1 never answered: retried with a shrinking expiry, still not failed before expiry.
    expiries = [e for t, _p, e in link.sent if "/L1/" in t]
    assert expiries
    assert None not in expiries  # every retry carries a message expiry
    retries = [e for e in expiries if e is not None]
    assert all(0 < e < life_s for e in retries)
    assert retries == sorted(retries, reverse=True)
    assert _states(db)["L1"] == "published"

    # A reboot loses what the lantern held: the pending command goes out again.
    link.sent.clear()
    outbox.resend({"L0": Return.REBOOT})
    outbox.pump()
    assert [t for t, _p, _e in link.sent if "/L0/" in t] == ["t/v1/lanterns/L0/cmd"]

    # At expiry: L1, never heard from, ends `expired`; L0 gets the grace for its final ack.
    clock.now = sent.expires_at + timedelta(seconds=1)
    outbox.pump()
    assert _states(db) == {"L0": "received", "L1": "expired"}
