"""The issuer's seq keeps rising across a service restart, even when the clock went back:
lanterns remember the highest seq they accepted per key (in flash) and refuse anything older
than their window below it, so a restarted service starting low would be refused everywhere."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from lightctl.protocol import CommandEnvelope, LightPayload
from lightctl.services.alerts import commands as build
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from tests.support import FakeClock


def test_a_restarted_service_continues_above_the_highest_stored_seq(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SequenceCounter, "_last", 0)  # a fresh process
    clock = FakeClock()
    # Sent before the restart by a host whose clock ran 20 minutes fast.
    ahead = time.time_ns() // 1000 + 20 * 60 * 1_000_000
    sent = CommandEnvelope(
        id="before-restart",
        alert_id="al-1",
        channel="light",
        op="set",
        priority=10,
        issued_at=clock.now,
        expires_at=clock.now + timedelta(minutes=5),
        payload=LightPayload(on=True),
        seq=ahead,
    )
    with db.session() as session:
        alert_store.save_commands(session, "al-1", [(build.stored(sent), ["L1"])], now=clock.now)
    with db.session() as session:
        counter = SequenceCounter(alert_store.max_seq(session))  # as every service starts it
    first = counter.next()
    assert first > ahead
    assert counter.next() > first
