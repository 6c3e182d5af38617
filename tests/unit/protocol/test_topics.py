"""Topics are built and parsed in one place; anything foreign parses to None."""

from __future__ import annotations

import pytest

from lightctl.protocol import TopicKind, Topics, parse_group_audience
from lightctl.protocol.topics import ParsedTopic


def test_build_and_parse_every_kind() -> None:
    topics = Topics("city")
    v1 = (TopicKind.CMD, TopicKind.ACK, TopicKind.STATE, TopicKind.AVAILABILITY)
    for kind in v1:
        topic = topics.lantern("LEU118741", kind)
        assert topic == f"city/v1/lanterns/LEU118741/{kind.value}"
        parsed = topics.parse(topic)
        assert parsed is not None
        assert (parsed.kind, parsed.lantern_id) == (kind, "LEU118741")
    gateway = topics.parse(topics.gateway_availability("sim-00"))
    assert gateway is not None
    assert gateway.gateway_id == "sim-00"


def test_protocol_v2_topics_build_and_parse() -> None:
    topics = Topics("city")
    assert topics.groups("L1") == "city/v2/lanterns/L1/groups"
    assert topics.parse("city/v2/lanterns/L1/groups") == ParsedTopic(TopicKind.GROUPS, "L1")
    assert topics.gateway_acks("gw-1") == "city/v2/gateways/gw-1/acks"
    parsed = topics.parse(topics.gateway_acks("gw-1"))
    assert parsed == ParsedTopic(TopicKind.ACKS, gateway_id="gw-1")
    assert topics.group_cmd("street", "bahnhofstrasse-4f34bd") == (
        "city/v2/groups/street/bahnhofstrasse-4f34bd/cmd"
    )
    # v2 leaves exist only under v2, v1 leaves only under v1.
    for foreign in ("city/v1/lanterns/L1/groups", "city/v1/gateways/g/acks", "city/v2/x/L1/acks"):
        assert topics.parse(foreign) is None
    # A fan-out topic name that does not parse addresses nobody.
    for bad in (
        "city/v2/groups/street/cmd",
        "city/v2/groups/st reet/x/cmd",
        "city/v2/groups/a/b/c/cmd",
    ):
        assert topics.audience_of_cmd(bad) is None
    assert parse_group_audience("groups/street/x") == ("street", "x")
    for bad_audience in ("groups/district/x", "groups/street/a b", "lanterns/L1", "groups/cell"):
        assert parse_group_audience(bad_audience) is None


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/lanterns/L1/ack",
        "city/v2/lanterns/L1/ack",
        "city/v1/lanterns/L1/unknown",
        "city/v1/lanterns/L1/ack/extra",
        "city/v1/poles/L1/ack",
        "city/v1/lanterns/+/ack",
    ],
)
def test_foreign_topics_parse_to_none(topic: str) -> None:
    assert Topics("city").parse(topic) is None


@pytest.mark.parametrize("bad", ["a/b", "a+b", "#", "", "x" * 65, "with space"])
def test_ids_that_are_not_one_topic_level_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="topic level"):
        Topics().cmd(bad)


def test_wildcard_filters() -> None:
    assert Topics().all_lanterns(TopicKind.ACK) == "lightctl/v1/lanterns/+/ack"
    assert Topics().all_gateways() == "lightctl/v1/gateways/+/availability"
