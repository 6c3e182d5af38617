"""A lantern that confirmed a warning but whose final ack never came (lost with a broker node, or
sent at QoS 0 while the service moved node) is asked again once the program should have ended,
not left to end `expired`; one that answered is never asked again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from lightctl.mqtt.consumer import Consumer
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import Ack, AckStatus, AudioPayload, CommandEnvelope, Topics
from lightctl.protocol.wire import SpeechItem, ToneItem
from lightctl.services.alerts import commands as build
from lightctl.services.delivery.outbox import Outbox
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from tests.support import FakeClock, RecordingLink

TOPICS = Topics("t")
ACK_TIMEOUT_S = 3.0
CLIP = "ab" * 32
# Tone 2 s + speech 4 s, twice, 1 s apart: the lantern is busy for 13 s once it has it.
PROGRAM_S = (2.0 + 4.0) * 2 + 1.0


def _store_warning(db: Database, clock: FakeClock) -> None:
    env = CommandEnvelope(
        id="warn",
        alert_id="al-1",
        channel="audio",
        op="set",
        priority=1,
        issued_at=clock.now,
        expires_at=clock.now + timedelta(minutes=10),
        payload=AudioPayload(
            program=[
                ToneItem(signal="warning", duration_s=2.0),
                SpeechItem(lang="de", url="http://x/a.wav", sha256=CLIP, duration_s=4.0),
            ],
            repeat=2,
            interval_s=1.0,
        ),
        seq=SequenceCounter(0).next(),
    )
    with db.session() as session:
        alert_store.save_commands(
            session, "al-1", [(build.stored(env), ["L0", "L1"])], now=clock.now
        )


def _ack(clock: FakeClock, lantern: str, status: AckStatus) -> IncomingMessage:
    played = [CLIP, CLIP] if status is AckStatus.DONE else None
    body = Ack(cmd_id="warn", lantern=lantern, status=status, at=clock.now, played=played)
    return IncomingMessage(TOPICS.ack(lantern), body.to_bytes(), False)


def _state(db: Database, lantern: str) -> str:
    with db.session() as session:
        delivery = alert_store.get_delivery(session, "warn", lantern)
        assert delivery is not None
        return delivery.state


def _asked(link: RecordingLink) -> list[tuple[str, str]]:
    """(lantern, command id) of every copy published since the last clear."""
    out = []
    for topic, payload, _expiry in link.sent:
        out.append((topic.split("/")[3], CommandEnvelope.from_bytes(payload).id))
    link.sent.clear()
    return out


def test_a_missing_final_ack_is_asked_for_once_the_program_should_have_ended(
    db: Database,
) -> None:
    clock, link = FakeClock(), RecordingLink()
    outbox = Outbox(db, link, TOPICS, ACK_TIMEOUT_S, clock)  # type: ignore[arg-type]
    consumer = Consumer(db, asyncio.Queue(), TOPICS, clock, ack_timeout_s=ACK_TIMEOUT_S)
    _store_warning(db, clock)
    outbox.pump()
    assert sorted(_asked(link)) == [("L0", "warn"), ("L1", "warn")]

    # Both say `received`, then nothing more reaches the service.
    consumer.apply([_ack(clock, "L0", AckStatus.RECEIVED), _ack(clock, "L1", AckStatus.RECEIVED)])
    received_at = clock.now
    due = received_at + timedelta(seconds=PROGRAM_S + ACK_TIMEOUT_S)

    # While the program may still be playing, nobody is asked again.
    clock.now = due - timedelta(seconds=1)
    outbox.pump()
    assert _asked(link) == []

    # Past it, each is asked again with the same command (it answers with its last ack).
    clock.now = due + timedelta(seconds=1)
    outbox.pump()
    assert sorted(_asked(link)) == [("L0", "warn"), ("L1", "warn")]
    assert outbox.asked_again_total == 2
    assert {_state(db, "L0"), _state(db, "L1")} == {"received"}

    # L0 answers `done`: it is finished and never asked again; L1 stays silent and is asked
    # again after the back-off (twice the ack timeout), not on every pump.
    consumer.apply([_ack(clock, "L0", AckStatus.DONE)])
    assert _state(db, "L0") == "done"
    clock.now += timedelta(seconds=ACK_TIMEOUT_S)
    outbox.pump()
    assert _asked(link) == []
    clock.now += timedelta(seconds=ACK_TIMEOUT_S + 1)
    outbox.pump()
    assert _asked(link) == [("L1", "warn")]
    assert _state(db, "L1") == "received"
