"""Protocol v2 input: gateway ack batches and group reports, good and bad, never a lost lantern."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightctl.domain.fanout import GroupBook
from lightctl.mqtt.consumer import Consumer
from lightctl.protocol import Ack, AckBatch, AckStatus, Availability, Membership
from lightctl.services.delivery.outbox import Return
from lightctl.store import Database
from tests.unit.mqtt.command_db import T0, database_with_command
from tests.unit.mqtt.test_consumer_input import TOPICS, msg, state_of


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """Three lanterns, one command sent to all three."""
    database = database_with_command(tmp_path, lanterns=3)
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


def test_a_batch_of_reports_looks_the_inventory_groups_up_once_and_provisions_in_one_call(
    db: Database,
) -> None:
    """At 100,000 lanterns every lantern reports twice on start; a lookup per report (an
    inventory version query each) kept the consumer busy for minutes (issue 14)."""
    lookups: list[int] = []
    expected: dict[str, tuple[str, ...]] = {f"L{i}": ("groups/cell/1_2",) for i in range(3)}

    def memberships() -> dict[str, tuple[str, ...]]:
        lookups.append(1)
        return expected

    asked: list[list[str]] = []
    book = GroupBook()
    consumer = Consumer(
        db,
        asyncio.Queue(),
        TOPICS,
        lambda: T0,
        groups=book,
        memberships=memberships,
        on_provision=asked.append,
    )
    reports = [
        msg(TOPICS.availability(f"L{i}"), Availability(online=True, groups=groups).to_bytes())
        for i, groups in enumerate([[], ["groups/cell/1_2"], ["groups/cell/9_9"]])
    ]
    consumer.apply(reports * 100)  # 300 reports in one batch
    assert len(lookups) == 1
    assert asked == [["L0", "L2"]]  # the two that hold other groups, once each
    assert book.confirmed(expected) == 1


def test_v2_wire_models_round_trip() -> None:
    membership = Membership(lantern="L1", groups=["groups/street/a-1"], issued_at=T0)
    assert Membership.from_bytes(membership.to_bytes()) == membership
    acks = AckBatch.from_bytes(batch("gw-1", "L0", "L1"))
    assert [a.lantern for a in acks.acks] == ["L0", "L1"]
    status = Availability(online=True, boot=3, gateway="gw-1", groups=["groups/cell/1_2"])
    assert Availability.from_bytes(status.to_bytes()) == status
    assert Availability.from_bytes(b'{"online": true}').groups is None  # a v1 lantern


def test_a_lanterns_answer_to_its_membership_is_no_reconnect_but_a_repeated_report_is(
    db: Database,
) -> None:
    """A v2 lantern that reports the groups it was just sent, on the same link, was never away:
    re-sending it every live command (as for a gateway that reconnected) doubled a warning's
    traffic when 2,000 lanterns were provisioned just before it. The same groups announced
    again live are what a reconnecting gateway says, and still count as a return."""
    returned: list[dict[str, Return]] = []
    consumer = Consumer(db, asyncio.Queue(), TOPICS, lambda: T0, on_return=returned.append)
    cell, street = "groups/cell/1_2", "groups/street/a-1"

    def announce(groups: list[str]) -> None:
        body = Availability(online=True, boot=7, gateway="gw-1", groups=groups).to_bytes()
        consumer.apply([msg(TOPICS.availability("L0"), body)])

    announce([cell])  # first seen
    assert returned == [{"L0": Return.RECONNECT}]
    announce([street, cell])  # its answer to the membership: other groups, same boot and link
    assert returned == [{"L0": Return.RECONNECT}]
    announce([street, cell])  # the same groups again: its gateway reconnected
    assert returned == [{"L0": Return.RECONNECT}, {"L0": Return.RECONNECT}]
