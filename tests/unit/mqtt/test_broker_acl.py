"""The generated ACL as the in-process broker reads it: the same confinement as Mosquitto's."""

from __future__ import annotations

import pytest

from lightctl.security.broker import BrokerCredentials, acl_text
from lightctl.security.broker_acl import allowed, covers, parse_acl

CREDS = BrokerCredentials.generate([], {"sim-00": ["L1", "L2"], "sim-01": ["L3"]})
RULES = parse_acl(acl_text(CREDS, ["lightctl"]))


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b", False),
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/x/c", True),
        ("a/+/c", "a/+/c", True),  # a filter no wider than the pattern
        ("a/+/c", "a/#", False),  # a filter wider than the pattern
        ("a/#", "a/b/c/d", True),
        ("a/#", "a/#", True),
        ("a/b/c", "a/+/c", False),
    ],
)
def test_covers(pattern: str, topic: str, expected: bool) -> None:
    assert covers(pattern, topic) is expected


def test_a_gateway_reads_and_reports_only_for_its_own_lanterns() -> None:
    t = "lightctl/v1"
    assert allowed(RULES, "sim-00", f"{t}/lanterns/L1/cmd", "read")
    assert allowed(RULES, "sim-00", f"{t}/lanterns/L2/ack", "write")
    assert allowed(RULES, "sim-00", f"{t}/gateways/sim-00/availability", "write")
    assert not allowed(RULES, "sim-00", f"{t}/lanterns/L1/cmd", "write")  # commands: service only
    assert not allowed(RULES, "sim-00", f"{t}/lanterns/L3/ack", "write")  # sim-01's lantern
    assert not allowed(RULES, "sim-00", f"{t}/lanterns/+/cmd", "read")  # everyone's commands
    assert not allowed(RULES, "sim-00", "#", "read")
    assert not allowed(RULES, "sim-00", f"{t}/gateways/sim-01/availability", "write")


def test_only_the_service_commands_and_nobody_else_gets_anything() -> None:
    service = CREDS.service[0]
    assert allowed(RULES, service, "lightctl/v1/lanterns/L3/cmd", "write")
    assert allowed(RULES, service, "lightctl/v1/lanterns/+/ack", "read")
    assert not allowed(RULES, service, "other/v1/lanterns/L3/cmd", "write")
    assert not allowed(RULES, None, "lightctl/v1/lanterns/L1/ack", "write")
    assert not allowed(RULES, "stranger", "lightctl/v1/lanterns/L1/ack", "write")


def test_a_line_mosquitto_would_not_read_is_refused() -> None:
    with pytest.raises(ValueError, match="access must be read, write or readwrite"):
        parse_acl("user a\ntopic sometimes a/b\n")
    with pytest.raises(ValueError, match="neither"):
        parse_acl("user a\npattern read a/%u\n")


def test_protocol_v2_gateways_hear_group_copies_and_send_only_their_own_ack_batches() -> None:
    v2 = "lightctl/v2"
    assert allowed(RULES, "sim-00", f"{v2}/groups/street/bahnhofstrasse-1a2b3c/cmd", "read")
    assert allowed(RULES, "sim-00", f"{v2}/lanterns/L1/groups", "read")
    assert allowed(RULES, "sim-00", f"{v2}/gateways/sim-00/acks", "write")
    assert not allowed(RULES, "sim-00", f"{v2}/lanterns/L3/groups", "read")  # sim-01's lantern
    assert not allowed(RULES, "sim-00", f"{v2}/lanterns/L1/groups", "write")  # service only
    assert not allowed(RULES, "sim-00", f"{v2}/groups/street/x/cmd", "write")
    assert not allowed(RULES, "sim-00", f"{v2}/gateways/sim-01/acks", "write")
