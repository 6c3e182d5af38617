"""The ack consumer against junk: logged, counted, ignored; good acks next to it still count."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightctl.mqtt.consumer import MAX_PAYLOAD_BYTES, Consumer
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import Ack, AckStatus, Availability, Topics
from lightctl.services.delivery.outbox import Return
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store
from tests.unit.mqtt.command_db import T0, database_with_command

TOPICS = Topics("t")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = database_with_command(tmp_path, lanterns=3)
    yield database
    database.dispose()


@pytest.fixture
def returned() -> list[dict[str, Return]]:
    return []


@pytest.fixture
def consumer(db: Database, returned: list[dict[str, Return]]) -> Consumer:
    return Consumer(db, asyncio.Queue(), TOPICS, lambda: T0, on_return=returned.append)


def ack(lantern: str, status: AckStatus = AckStatus.RECEIVED, cmd: str = "cmd-1") -> bytes:
    return Ack(cmd_id=cmd, lantern=lantern, status=status, at=T0).to_bytes()


def msg(topic: str, payload: bytes, retain: bool = False) -> IncomingMessage:
    return IncomingMessage(topic, payload, retain)


def state_of(db: Database, lantern: str) -> str:
    with db.session() as session:
        row = alert_store.get_delivery(session, "cmd-1", lantern)
        assert row is not None
        return row.state


def test_junk_is_counted_by_kind_and_good_acks_in_the_same_batch_still_apply(
    consumer: Consumer, db: Database
) -> None:
    junk = [
        msg(TOPICS.ack("L0"), b"\xff\xfe not utf-8"),
        msg(TOPICS.ack("L0"), b"{not json"),
        msg(TOPICS.ack("L0"), b'{"v": 1, "cmd_id": "cmd-1"}'),  # misses fields
        msg(TOPICS.ack("L0"), b"[" * 5000 + b"]" * 5000),  # deep nesting
        msg(TOPICS.ack("L0"), b"x" * (MAX_PAYLOAD_BYTES + 1)),
        msg(TOPICS.ack("L0"), ack("L1")),  # names another lantern than its topic
        msg(TOPICS.ack("L0"), ack("L0", cmd="cmd-never-sent")),
        msg(TOPICS.state("L0"), b'{"v": 1, "lantern": "L9", "at": "2025-03-01T12:00:00Z"}'),
        msg(TOPICS.state("L0"), b"\x00\x01"),
        msg(TOPICS.availability("L0"), b'{"online": "perhaps"}'),
        msg("t/v1/lanterns/L0/unknown", b"{}"),
        msg("elsewhere/v1/lanterns/L0/ack", ack("L0")),
    ]
    good = [msg(TOPICS.ack("L2"), ack("L2"))]
    changed = consumer.apply(junk + good)
    assert changed == {"al-1"}
    assert state_of(db, "L2") == "received"
    assert state_of(db, "L0") == "planned"
    stats = consumer.stats
    assert stats["dropped_malformed"] == 6
    assert stats["dropped_oversized"] == 1
    assert stats["dropped_lantern_mismatch"] == 2
    assert stats["ack_unknown_command"] == 1
    assert stats["dropped_foreign_topic"] == 2
    assert stats["ack_applied"] == 1


def test_duplicate_and_late_acks_never_move_a_delivery_backwards(
    consumer: Consumer, db: Database
) -> None:
    consumer.apply([msg(TOPICS.ack("L0"), ack("L0", AckStatus.DONE))])
    consumer.apply(
        [
            msg(TOPICS.ack("L0"), ack("L0", AckStatus.DONE)),
            msg(TOPICS.ack("L0"), ack("L0", AckStatus.RECEIVED)),
        ]
    )
    assert state_of(db, "L0") == "done"
    assert consumer.stats["ack_duplicate"] == 2


def test_a_lantern_refusing_a_copy_meant_for_another_keeps_its_own_delivery(
    consumer: Consumer, db: Database
) -> None:
    """L1 refuses L0's copy, replayed onto L1's topic (`wrong_audience`): that is not an answer
    about the copy we sent L1, which may be playing; its delivery goes on."""
    consumer.apply([msg(TOPICS.ack("L1"), ack("L1", AckStatus.RECEIVED))])
    refused = Ack(
        cmd_id="cmd-1", lantern="L1", status=AckStatus.REJECTED, reason="wrong_audience", at=T0
    )
    consumer.apply([msg(TOPICS.ack("L1"), refused.to_bytes())])
    assert state_of(db, "L1") == "received"
    assert consumer.stats["ack_refused_not_our_copy"] == 1
    own = refused.model_copy(update={"reason": "bad_signature"})  # our own copy refused: ends
    consumer.apply([msg(TOPICS.ack("L1"), own.to_bytes())])
    assert state_of(db, "L1") == "rejected"


def test_a_lantern_back_online_is_handed_on_for_re_sending(
    consumer: Consumer, returned: list[dict[str, Return]]
) -> None:
    online = Availability(online=True, boot=7, gateway="g1").to_bytes()
    consumer.apply([msg(TOPICS.availability("L0"), online, retain=True)])
    assert returned == [{"L0": Return.RECONNECT}]  # first seen: it may have missed something
    returned.clear()
    consumer.apply([msg(TOPICS.availability("L0"), online, retain=True)])
    assert returned == []  # the retained copy after our own reconnect: nothing new
    consumer.apply([msg(TOPICS.availability("L0"), online)])
    assert returned == [{"L0": Return.RECONNECT}]  # announced live: it reconnected
    returned.clear()
    rebooted = Availability(online=True, boot=8, gateway="g1").to_bytes()
    consumer.apply([msg(TOPICS.availability("L0"), rebooted, retain=True)])
    assert returned == [{"L0": Return.REBOOT}]  # a new boot: every slot lost
    returned.clear()
    offline = Availability(online=False, boot=8, gateway="g1").to_bytes()
    consumer.apply([msg(TOPICS.availability("L0"), offline, retain=True)])
    consumer.apply([msg(TOPICS.availability("L0"), rebooted, retain=True)])
    assert returned == [{"L0": Return.BACK}]  # known offline: all sent meanwhile was lost


def test_a_retained_online_from_behind_a_dead_gateway_counts_as_offline(
    consumer: Consumer, db: Database, returned: list[dict[str, Return]]
) -> None:
    will = Availability(online=False, boot=1, gateway="g1").to_bytes()
    online = Availability(online=True, boot=1, gateway="g1").to_bytes()
    consumer.apply(
        [
            msg(TOPICS.gateway_availability("g1"), will, retain=True),
            msg(TOPICS.availability("L1"), online, retain=True),
        ]
    )
    with db.session() as session:
        assert lantern_store.offline_ids(session, ["L1"]) == {"L1"}
    assert returned == []


def test_a_poisoned_batch_is_retried_message_by_message(
    consumer: Consumer, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = alert_store.deliveries_by_key

    def flaky(session: object, keys: list[tuple[str, str]]) -> object:
        if any(lantern_id == "L1" for _cmd, lantern_id in keys):
            raise RuntimeError("database says no")
        return real(session, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(alert_store, "deliveries_by_key", flaky)
    batch = [msg(TOPICS.ack(i), ack(i)) for i in ("L0", "L1", "L2")]
    changed = asyncio.run(consumer._apply_safely(batch))
    monkeypatch.undo()
    assert changed == {"al-1"}
    assert [state_of(db, i) for i in ("L0", "L1", "L2")] == ["received", "planned", "received"]
    assert consumer.stats["batch_failed"] == 1
    assert consumer.stats["dropped_unprocessable"] == 1


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["ack", "state", "availability"]),
    lantern=st.sampled_from(["L0", "L1", "L9"]),
    payload=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(str.encode),
        st.dictionaries(
            st.sampled_from(["v", "cmd_id", "lantern", "status", "at", "online", "boot", "x"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
        ).map(lambda d: json.dumps(d).encode()),
    ),
)
def test_random_payloads_never_raise(
    consumer: Consumer, kind: str, lantern: str, payload: bytes
) -> None:
    topic = f"t/v1/lanterns/{lantern}/{kind}"
    consumer.apply([msg(topic, payload)])
