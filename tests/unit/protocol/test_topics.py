"""Topics are built and parsed in one place; anything foreign parses to None."""

from __future__ import annotations

import pytest

from lightctl.protocol import TopicKind, Topics


def test_build_and_parse_every_kind() -> None:
    topics = Topics("city")
    for kind in TopicKind:
        topic = topics.lantern("LEU118741", kind)
        assert topic == f"city/v1/lanterns/LEU118741/{kind.value}"
        parsed = topics.parse(topic)
        assert parsed is not None
        assert (parsed.kind, parsed.lantern_id) == (kind, "LEU118741")
    gateway = topics.parse(topics.gateway_availability("sim-00"))
    assert gateway is not None
    assert gateway.gateway_id == "sim-00"


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
