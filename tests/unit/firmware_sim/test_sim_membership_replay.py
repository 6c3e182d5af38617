"""A gateway answers a membership the service sends by announcing its lantern's groups, but not
the retained replay of one it already holds that follows every (re)subscription: that answer
made the service re-send every live command to each lantern of a gateway moving node."""

from __future__ import annotations

from datetime import UTC, datetime

from firmware_sim.transport import BrokerAddress, Gateway
from lightctl.protocol import Membership, Topics

GROUPS = ("groups/cell/1_2", "groups/street/a-1")


def _gateway(announced: list[str]) -> Gateway:
    gateway = Gateway(
        "gw-1",
        BrokerAddress.parse("mqtt://127.0.0.1:1"),
        Topics("t"),
        ["L0"],
        lambda *a: None,
        boot=1,
    )
    gateway._announce = announced.append  # type: ignore[method-assign, assignment]
    gateway.set_groups("L0", GROUPS)  # provisioned before (as the fleet starts it)
    announced.clear()
    return gateway


def _membership(groups: tuple[str, ...]) -> bytes:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    return Membership(lantern="L0", groups=list(groups), issued_at=now).to_bytes()


def test_a_retained_replay_of_the_groups_held_is_not_announced_but_a_change_or_live_one_is() -> (
    None
):
    announced: list[str] = []
    gateway = _gateway(announced)
    gateway._membership("L0", _membership(GROUPS), retained=True)
    assert announced == []
    gateway._membership("L0", _membership(GROUPS), retained=False)  # the service asks again
    assert announced == ["L0"]
    gateway._membership("L0", _membership(GROUPS[:1]), retained=True)  # other groups
    assert announced == ["L0", "L0"]
    assert gateway.lantern_groups["L0"] == GROUPS[:1]
