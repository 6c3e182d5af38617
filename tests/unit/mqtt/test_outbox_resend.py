"""The outbox against a fake link: what is re-sent to a returning lantern, what is re-signed,
and that nothing expired ever goes out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lightctl.protocol import CommandEnvelope, Topics
from lightctl.services.delivery.outbox import Outbox, Return
from lightctl.services.sequence import SequenceCounter
from lightctl.settings import Settings
from lightctl.signing import CommandSigner, KeyStore, NoSigningKey
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store.tables import DeliveryRow
from tests.support import FakeClock, RecordingLink, red_light

TOPICS = Topics("t")


def store_command(db: Database, cmd_id: str, clock: FakeClock, ttl_s: float, priority: int) -> None:
    row = red_light(cmd_id, "al-1", clock.now, ttl_s, priority)
    with db.session() as session:
        alert_store.save_commands(session, "al-1", [(row, ["L0", "L1", "L2"])], now=clock.now)


def test_unsigned_commands_are_signed_once_expired_ones_never_sent_and_returns_re_sent(
    db: Database, tmp_path: Path
) -> None:
    clock = FakeClock()
    keys = KeyStore.in_data_dir(tmp_path, clock)
    keys.generate()
    signer = CommandSigner(keys, clock, SequenceCounter(0).next)
    link = RecordingLink()
    outbox = Outbox(db, link, TOPICS, 10.0, clock, signer=signer)  # type: ignore[arg-type]
    store_command(db, "live", clock, 600, priority=1)
    store_command(db, "short", clock, 5, priority=10)

    outbox.pump()
    assert len(link.sent) == 6
    assert signer.signed_total == 2  # the stored commands, signed once each
    assert signer.addressed_total == 6  # and one copy per lantern, naming it inside what is signed
    for topic, payload, _expiry in link.sent:
        assert CommandEnvelope.from_bytes(payload).aud == f"lanterns/{topic.split('/')[3]}"
    live = [CommandEnvelope.from_bytes(p) for t, p, _ in link.sent if b'"live"' in p]
    assert {e.kid for e in live} == {keys.load().signing("life_safety", clock.now).kid}  # type: ignore[union-attr]
    assert {e.sig for e in live} != {None}
    assert max(e for _t, _p, e in link.sent if e is not None) <= 600  # message expiry
    with db.session() as session:
        stored = CommandEnvelope.from_bytes(alert_store.commands_of(session, "al-1")[0].envelope)
    assert stored.sig is not None  # what goes out again is what was signed

    # A plain reconnect does not repeat what was sent a moment ago (it may have crossed the
    # lantern's announcement); the retry timer covers it.
    clock.now += timedelta(seconds=1)
    link.sent.clear()
    outbox.resend({"L2": Return.RECONNECT})
    outbox.pump()
    assert link.sent == []

    # L0 acked and applied "live"; then the short command expires.
    with db.session() as session:
        for cmd in ("live",):
            row = session.get(DeliveryRow, (cmd, "L0"))  # arranging: the table itself
            assert row is not None
            row.state = "applied"
            session.add(row)
    clock.now += timedelta(seconds=6)
    link.sent.clear()
    outbox.resend({"L0": Return.REBOOT, "L1": Return.BACK})
    outbox.pump()
    sent = {(t.split("/")[3], b'"live"' in p) for t, p, _ in link.sent}
    # L0 rebooted: its held light goes again; L1 came back: its unconfirmed command goes again.
    assert sent == {("L0", True), ("L1", True)}
    # A rebooted lantern kept every seq it accepted (flash) but no command id: "live" is signed
    # once more with a fresh seq, or L0 would refuse our own re-send as a replay.
    assert signer.signed_total == 3
    resent = {CommandEnvelope.from_bytes(p).seq for _t, p, _e in link.sent}
    assert len(resent) == 1
    assert resent.pop() > max(e.seq for e in live)
    with db.session() as session:
        short = {r.lantern_id: r.state for r in alert_store.deliveries(session, "short")}
    assert set(short.values()) == {"expired"}  # online all along, never acked: expired


def test_production_needs_keys_and_development_makes_them(tmp_path: Path) -> None:
    from lightctl.runtime import Runtime

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    production = Runtime(Settings(environment="production", data_dir=tmp_path / "p"), db)
    with pytest.raises(NoSigningKey, match="lightctl keys generate"):
        production._signer()
    development = Runtime(Settings(data_dir=tmp_path / "d"), db)
    signer = development._signer()
    assert development.keys.exists()
    assert signer.replay_window_s == 600
    db.dispose()
