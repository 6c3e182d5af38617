"""The fan-out rule: a group carries a command only while every lantern listening to it is
targeted; lanterns sent a membership count as listening before they confirm it."""

from __future__ import annotations

from lightctl.domain.fanout import GroupBook

STREET = "groups/street/bahnhofstrasse-4f34bd"
CELL = "groups/cell/10_20"


def book() -> GroupBook:
    groups = GroupBook()
    for lantern_id in ("A1", "A2", "A3"):
        groups.report(lantern_id, (STREET, CELL))
    groups.report("B1", ("groups/street/rennweg-d34839", CELL))  # another street, same cell
    groups.report("V1", None)  # protocol v1
    groups.ready = True
    return groups


def test_a_street_is_covered_by_its_group_and_a_shared_cell_is_never_used() -> None:
    plan = book().plan({"A1", "A2", "A3"})
    assert plan.groups == {STREET: frozenset({"A1", "A2", "A3"})}
    assert plan.singles == frozenset()


def test_a_target_missing_one_listener_falls_back_to_own_topics() -> None:
    plan = book().plan({"A1", "A2", "V1"})  # A3 listens to the street too, but is not targeted
    assert plan.groups == {}
    assert plan.singles == frozenset({"A1", "A2", "V1"})


def test_a_whole_cell_goes_by_the_cell_or_street_and_v1_lanterns_by_their_own_topic() -> None:
    plan = book().plan({"A1", "A2", "A3", "B1", "V1"})
    covered = {lid for members in plan.groups.values() for lid in members}
    assert covered | plan.singles == {"A1", "A2", "A3", "B1", "V1"}
    assert "V1" in plan.singles
    assert not covered & plan.singles


def test_a_lantern_being_provisioned_counts_as_listening_until_it_confirms() -> None:
    groups = book()
    groups.provisioning("C9", (STREET,))  # sent, not yet confirmed
    assert groups.plan({"A1", "A2", "A3"}).groups == {}  # C9 might hear the street copy
    groups.report("C9", ())  # an older report crossing the membership on the way
    assert groups.plan({"A1", "A2", "A3"}).groups == {}
    groups.report("C9", (STREET,))
    assert STREET in groups.plan({"A1", "A2", "A3", "C9"}).groups


def test_no_group_is_used_before_the_fleet_reports_have_been_read() -> None:
    groups = book()
    groups.ready = False
    assert groups.plan({"A1", "A2", "A3"}).groups == {}


def test_confirmed_counts_only_lanterns_that_report_exactly_their_groups() -> None:
    groups = book()
    expected = {
        "A1": (STREET, CELL),
        "A2": (CELL, STREET),  # the same groups in another order
        "A3": (STREET,),  # reports the cell too: not what it was given
        "B1": ("groups/street/rennweg-d34839", CELL),
        "N1": (CELL,),  # never reported
        "V1": (CELL,),  # protocol v1: reports none
    }
    assert groups.confirmed(expected) == 3
    groups.report("N1", ())  # reported, but no group yet (its membership not received)
    assert groups.confirmed(expected) == 3
    groups.report("N1", (CELL,))
    assert groups.confirmed(expected) == 4


def test_an_inventory_member_not_heard_from_keeps_its_group_from_carrying_a_copy() -> None:
    groups = book()
    # The inventory puts N7 on the street too; its report has not reached the service (lost,
    # or queued behind the fleet's), but it may hold the membership it was sent last week.
    inventory = {lid: (STREET, CELL) for lid in ("A1", "A2", "A3", "N7")}
    plan = groups.plan({"A1", "A2", "A3"}, inventory)
    assert plan.groups == {}
    assert plan.singles == frozenset({"A1", "A2", "A3"})
    # Targeting N7 as well, the street group covers all four (N7 gets the copy it may hear,
    # and its own copy goes nowhere it is not wanted).
    plan = groups.plan({"A1", "A2", "A3", "N7"}, inventory)
    assert plan.groups == {STREET: frozenset({"A1", "A2", "A3"})}
    assert plan.singles == frozenset({"N7"})
    # A changed inventory (a new mapping) is read afresh: N7 moved to another street.
    moved = {**inventory, "N7": ("groups/street/rennweg-d34839", CELL)}
    assert groups.plan({"A1", "A2", "A3"}, moved).groups == {STREET: frozenset({"A1", "A2", "A3"})}
