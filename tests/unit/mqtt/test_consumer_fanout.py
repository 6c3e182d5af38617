"""Protocol v2 input: gateway ack batches and group reports, good and bad, never a lost lantern."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from lightctl.domain.fanout import GroupBook
from lightctl.mqtt.consumer import Consumer
from lightctl.protocol import Ack, AckBatch, AckStatus, Availability, Membership
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store
from lightctl.store.tables import CommandRow
from tests.unit.mqtt.test_consumer_input import T0, TOPICS, msg, state_of


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """Three lanterns, one command sent to all three (as test_consumer_input sets it up)."""
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    database.create_all()
    with database.session() as session:
        lantern_store.upsert_lanterns(
            session, [{"id": f"L{i}", "lon": 8.5, "lat": 47.3} for i in range(3)]
        )
        command = CommandRow(
            id="cmd-1",
            alert_id="al-1",
            channel="audio",
            op="set",
            priority=1,
            seq=1,
            issued_at=T0,
            expires_at=T0 + timedelta(hours=1),
            envelope="{}",
        )
        alert_store.save_commands(session, "al-1", [(command, ["L0", "L1", "L2"])], now=T0)
    yield database
    database.dispose()


def batch(gateway: str, *lanterns: str, cmd: str = "cmd-1") -> bytes:
    acks = [Ack(cmd_id=cmd, lantern=lid, status=AckStatus.RECEIVED, at=T0) for lid in lanterns]
    return AckBatch(gateway=gateway, acks=acks).to_bytes()


def test_a_batch_applies_each_ack_and_skips_an_unknown_lantern_with_a_count(db: Database) -> None:
    consumer = Consumer(db, asyncio.Queue(), TOPICS, lambda: T0)
    changed = consumer.apply([msg(TOPICS.gateway_acks("gw-1"), batch("gw-1", "L0", "GHOST", "L2"))])
    assert changed == {"al-1"}
    assert (state_of(db, "L0"), state_of(db, "L1"), state_of(db, "L2")) == (
        "received",
        "planned",
        "received",
    )
    assert consumer.stats["ack_batches"] == 1
    assert consumer.stats["ack_unknown_lantern"] == 1
    assert consumer.stats["ack_applied"] == 2


def test_a_batch_naming_another_gateway_or_malformed_is_dropped_with_its_reason(
    db: Database,
) -> None:
    consumer = Consumer(db, asyncio.Queue(), TOPICS, lambda: T0)
    consumer.apply(
        [
            msg(TOPICS.gateway_acks("gw-1"), batch("gw-2", "L0")),
            msg(TOPICS.gateway_acks("gw-1"), b'{"v": 2, "gateway": "gw-1", "acks": []}'),
        ]
    )
    assert state_of(db, "L0") == "planned"
    assert consumer.stats["dropped_gateway_mismatch"] == 1
    assert consumer.stats["dropped_malformed"] == 1


def test_group_reports_feed_the_book_a_bad_name_is_skipped_and_a_stale_lantern_provisioned(
    db: Database,
) -> None:
    book = GroupBook()
    asked: list[list[str]] = []
    expected = {"L0": ("groups/street/a-1", "groups/cell/1_2"), "L1": ("groups/cell/1_2",)}
    consumer = Consumer(
        db,
        asyncio.Queue(),
        TOPICS,
        lambda: T0,
        groups=book,
        memberships=lambda: expected,
        on_provision=asked.append,
    )
    reports = {
        "L0": Availability(online=True, groups=["groups/street/a-1", "groups/cell/1_2"]),
        "L1": Availability(online=True, groups=["groups/cell/1_2", "groups/st reet/x"]),
        "L2": Availability(online=True),  # protocol v1
    }
    consumer.apply([msg(TOPICS.availability(k), v.to_bytes()) for k, v in reports.items()])
    assert book.held("L0") == expected["L0"]
    assert book.held("L1") == ("groups/cell/1_2",)  # the unparsable name skipped
    assert book.held("L2") is None
    assert consumer.stats["dropped_bad_group"] == 1
    assert asked == []  # both hold what their inventory gives them
    consumer.apply(
        [msg(TOPICS.availability("L1"), Availability(online=True, groups=[]).to_bytes())]
    )
    assert asked == [["L1"]]


def test_a_fleet_announcing_itself_is_looked_up_and_provisioned_once_per_batch(
    db: Database,
) -> None:
    """A fleet coming online sends thousands of reports in a few batches: the memberships (an
    inventory version query) are read once per batch and the outbox woken once per batch."""
    lookups: list[int] = []
    asked: list[list[str]] = []
    expected: dict[str, tuple[str, ...]] = {f"L{i}": ("groups/cell/1_2",) for i in range(3)}

    def memberships() -> dict[str, tuple[str, ...]]:
        lookups.append(1)
        return expected

    consumer = Consumer(
        db,
        asyncio.Queue(),
        TOPICS,
        lambda: T0,
        memberships=memberships,
        on_provision=asked.append,
    )
    fresh = Availability(online=True, groups=[]).to_bytes()  # no groups yet: all provisioned
    consumer.apply([msg(TOPICS.availability(f"L{i}"), fresh) for i in range(3)])
    assert (len(lookups), asked) == (1, [["L0", "L1", "L2"]])
    consumer.apply([msg(TOPICS.availability("L1"), fresh)])
    assert (len(lookups), asked[1:]) == (2, [["L1"]])


def test_v2_wire_models_round_trip() -> None:
    membership = Membership(lantern="L1", groups=["groups/street/a-1"], issued_at=T0)
    assert Membership.from_bytes(membership.to_bytes()) == membership
    acks = AckBatch.from_bytes(batch("gw-1", "L0", "L1"))
    assert [a.lantern for a in acks.acks] == ["L0", "L1"]
    status = Availability(online=True, boot=3, gateway="gw-1", groups=["groups/cell/1_2"])
    assert Availability.from_bytes(status.to_bytes()) == status
    assert Availability.from_bytes(b'{"online": true}').groups is None  # a v1 lantern
