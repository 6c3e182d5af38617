"""The ack consumer believes a lantern with an ack key only when it signed, and any lantern only
in an order that fits what was sent (real SQLite, the stored envelope as the outbox stores it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from lightctl.mqtt.consumer import Consumer
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import (
    Ack,
    AckStatus,
    AudioPayload,
    CommandEnvelope,
    SpeechItem,
    ToneItem,
    Topics,
)
from lightctl.security.ack_keys import AckKey
from lightctl.services.access.ack_trust import AckTrust
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lantern_keys as key_store
from lightctl.store.tables import DeliveryRow
from tests.unit.mqtt.command_db import T0, database_with_command

TOPICS = Topics("t")
DE, EN = "d" * 64, "e" * 64
CLIPS = [DE, EN, DE, EN]  # two languages, repeated twice
KEYED = {"L0": AckKey.generate("L0"), "L1": AckKey.generate("L1")}


def envelope() -> CommandEnvelope:
    program = [
        ToneItem(signal="warning", duration_s=2),
        SpeechItem(lang="de", url="http://x/de.wav", sha256=DE, duration_s=3),
        SpeechItem(lang="en", url="http://x/en.wav", sha256=EN, duration_s=3),
    ]
    return CommandEnvelope(
        id="cmd-1",
        alert_id="al-1",
        channel="audio",
        op="set",
        priority=1,
        issued_at=T0,
        expires_at=T0 + timedelta(hours=1),
        payload=AudioPayload(program=program, repeat=2),
        seq=1,
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = database_with_command(tmp_path, lanterns=4, envelope=envelope().to_bytes().decode())
    with database.session() as session:
        keys = [key_store.LanternKey(i, k.kid, k.public.public_key) for i, k in KEYED.items()]
        key_store.add_keys(session, keys, T0)
    yield database
    database.dispose()


def consumer(db: Database, require: bool = False) -> Consumer:
    return Consumer(db, asyncio.Queue(), TOPICS, lambda: T0, trust=AckTrust(require))


def ack(lantern: str, status: AckStatus, played: list[str] | None = None, **kw: str) -> Ack:
    return Ack(cmd_id="cmd-1", lantern=lantern, status=status, at=T0, played=played, **kw)


def msg(a: Ack) -> IncomingMessage:
    return IncomingMessage(TOPICS.ack(a.lantern), a.to_bytes(), False)


def state_of(db: Database, lantern: str) -> str:
    with db.session() as session:
        row = alert_store.get_delivery(session, "cmd-1", lantern)
        assert row is not None
        return row.state


def test_a_keyed_lantern_is_believed_signed_with_its_own_key_only(db: Database) -> None:
    c = consumer(db)
    c.apply(
        [
            msg(ack("L0", AckStatus.RECEIVED)),  # unsigned
            msg(KEYED["L1"].sign(ack("L0", AckStatus.RECEIVED))),  # L1's key
            msg(
                AckKey("L0", KEYED["L0"].kid, AckKey.generate("x").private).sign(
                    ack("L0", AckStatus.RECEIVED)
                )
            ),  # L0's kid, another private key
            # A genuine signature, altered afterwards (the played list swapped).
            msg(
                KEYED["L0"]
                .sign(ack("L0", AckStatus.DONE, CLIPS))
                .model_copy(update={"played": [EN, DE, EN, DE]})
            ),
        ]
    )
    assert state_of(db, "L0") == "planned"
    assert c.stats["ack_refused_unsigned"] == 1
    assert c.stats["ack_refused_foreign_key"] == 1
    assert c.stats["ack_refused_bad_signature"] == 2
    c.apply([msg(KEYED["L0"].sign(ack("L0", AckStatus.DONE, CLIPS)))])
    assert state_of(db, "L0") == "done"
    assert c.stats["ack_signed"] == 1


def test_a_lantern_without_a_key_is_believed_unsigned_unless_all_must_sign(db: Database) -> None:
    consumer(db).apply([msg(ack("L2", AckStatus.RECEIVED))])
    assert state_of(db, "L2") == "received"
    strict = consumer(db, require=True)
    strict.apply([msg(ack("L3", AckStatus.RECEIVED))])
    assert state_of(db, "L3") == "planned"
    assert strict.stats["ack_refused_unsigned"] == 1


def test_order_rules_hold_for_unsigned_lanterns_too(db: Database) -> None:
    with db.session() as session:
        row = session.get(DeliveryRow, ("cmd-1", "L3"))  # arranging: the table itself
        assert row is not None
        row.state = "held"  # waiting for a second person's approval: never published
        session.add(row)
    c = consumer(db)
    c.apply(
        [
            msg(ack("L3", AckStatus.DONE, CLIPS)),
            msg(ack("L2", AckStatus.APPLIED)),  # audio is never "applied"
            msg(ack("L2", AckStatus.DONE, [DE, EN])),  # only half of what was sent
            msg(ack("L2", AckStatus.DONE)),  # no proof at all
        ]
    )
    assert state_of(db, "L3") == "held"
    assert state_of(db, "L2") == "planned"
    assert c.stats["ack_refused_not_sent"] == 1
    assert c.stats["ack_refused_status_not_for_command"] == 1
    assert c.stats["ack_refused_played_mismatch"] == 2
    c.apply([msg(ack("L2", AckStatus.PLAYING)), msg(ack("L2", AckStatus.DONE, CLIPS))])
    assert state_of(db, "L2") == "done"
    with db.session() as session:
        delivery = alert_store.get_delivery(session, "cmd-1", "L2")
        assert delivery is not None
        assert delivery.played == tuple(CLIPS)


def test_a_signature_the_service_cannot_check_proves_nothing_either_way(db: Database) -> None:
    """L2 has no stored key: signed by a key of its own the service never got, it is believed as
    an unsigned ack would be (counted apart); under L0's key it is refused as a forgery."""
    c = consumer(db)
    c.apply(
        [
            msg(KEYED["L0"].sign(ack("L2", AckStatus.RECEIVED))),
            msg(AckKey.generate("L2").sign(ack("L2", AckStatus.PLAYING))),
        ]
    )
    assert state_of(db, "L2") == "playing"
    assert c.stats["ack_refused_foreign_key"] == 1
    assert c.stats["ack_unverified"] == 1
    strict = consumer(db, require=True)
    strict.apply([msg(AckKey.generate("L3").sign(ack("L3", AckStatus.RECEIVED)))])
    assert state_of(db, "L3") == "planned"
    assert strict.stats["ack_refused_unknown_key"] == 1
