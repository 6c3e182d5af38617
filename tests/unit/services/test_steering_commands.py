"""Steering payloads: checked against the wire models with the field named, made per lantern
along a route, grouped by identical payload."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lightctl.errors import InvalidRequest
from lightctl.geo.guidance import RouteGuide
from lightctl.protocol import LightPayload, PathPayload, ProjectionPayload
from lightctl.services.steering import commands as plan


def _refused(settings: dict[str, Any], has_route: bool = False) -> list[list[str | int]]:
    with pytest.raises(InvalidRequest) as caught:
        plan.checked_payloads(settings, has_route)
    return [list(p.loc) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("settings", "loc"),
    [
        ({"light": {"on": True, "color": "green"}}, ["light", "color"]),
        ({"light": {"on": True, "color": "#00FF0"}}, ["light", "color"]),
        ({"light": {"on": True, "brightness": 101}}, ["light", "brightness"]),
        ({"light": {"on": True, "brightness": -1}}, ["light", "brightness"]),
        ({"light": {"on": True, "cct_k": 1700}}, ["light", "cct_k"]),
        ({"light": {"on": True, "cct_k": 10001}}, ["light", "cct_k"]),
        ({"light": {"on": True, "color": "#FFFFFF", "cct_k": 3000}}, ["light", "cct_k"]),
        ({"projection": {"pictogram": "smiley", "heading_deg": 0}}, ["projection", "pictogram"]),
        ({"projection": {"pictogram": "arrow", "heading_deg": 361}}, ["projection", "heading_deg"]),
        ({"projection": {"pictogram": "arrow", "heading_deg": -1}}, ["projection", "heading_deg"]),
        ({"projection": {"pictogram": "arrow"}}, ["projection", "heading_deg"]),
        ({"projection": {"pictogram": "text"}}, ["projection", "text"]),
        ({"path": {"level": 50, "mode": "blink"}}, ["path", "mode"]),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    settings: dict[str, Any], loc: list[str | int]
) -> None:
    assert loc in _refused(settings)


def test_every_mistake_is_named_at_once() -> None:
    locs = _refused(
        {"light": {"on": True, "brightness": 200}, "projection": {"pictogram": "arrow"}}
    )
    assert locs == [["light", "brightness"], ["projection", "heading_deg"]]


def test_an_arrow_may_take_its_heading_from_the_route() -> None:
    payloads = plan.checked_payloads({"projection": {"pictogram": "arrow"}}, has_route=True)
    assert payloads["projection"] == ProjectionPayload(pictogram="arrow")


def test_group_by_payload_keeps_first_appearance_order() -> None:
    a, b = LightPayload(on=True, color="#00FF00"), LightPayload(on=True, color="#FF0000")
    same_as_a = LightPayload(on=True, color="#00FF00")
    groups = plan.group_by_payload([("L1", a), ("L2", b), ("L3", same_as_a), ("L4", a)])
    assert groups == [(a, ["L1", "L3", "L4"]), (b, ["L2"])]


def _guide(headings: list[float], along: list[float], length: float = 500.0) -> RouteGuide:
    return RouteGuide(np.array(headings), np.array(along), length)


def test_arrows_take_each_lanterns_heading_and_chases_their_distance() -> None:
    guide = _guide([10.4, 10.6, 359.7], [0.0, 10.0, 20.0])
    arrows = plan.per_lantern(
        "projection", ProjectionPayload(pictogram="arrow"), ["A", "B", "C"], guide, 200.0
    )
    assert [p.heading_deg for _lid, p in arrows] == [10.0, 11.0, 0.0]  # type: ignore[union-attr]
    chase = plan.per_lantern(
        "path", PathPayload(level=60, mode="chase"), ["A", "B", "C"], guide, 200.0
    )
    assert [p.phase_ms for _lid, p in chase] == [0, 2000, 4000]  # type: ignore[union-attr]
    assert {p.period_ms for _lid, p in chase} == {plan.DEFAULT_PERIOD_MS}  # type: ignore[union-attr]


def test_a_steady_payload_is_the_same_for_every_lantern_of_the_route() -> None:
    guide = _guide([10.0, 80.0], [0.0, 300.0])
    light = LightPayload(on=True, color="#00FF00")
    commands, unsupported = plan.plan(
        {"light": light},
        ["A", "B"],
        {"A": frozenset({"rgb"}), "B": frozenset({"rgb"})},
        guide,
        200.0,
    )
    assert [(c.payload, c.lantern_ids) for c in commands] == [(light, ("A", "B"))]
    assert unsupported == {}


def test_lanterns_without_the_hardware_get_nothing_and_are_named() -> None:
    guide = _guide([10.0, 80.0, 90.0], [0.0, 30.0, 60.0])
    commands, unsupported = plan.plan(
        {"projection": ProjectionPayload(pictogram="arrow")},
        ["A", "B", "C"],
        {"A": frozenset({"projector"}), "B": frozenset({"rgb"}), "C": frozenset({"projector"})},
        guide,
        200.0,
    )
    assert [(c.lantern_ids, c.payload.heading_deg) for c in commands] == [  # type: ignore[union-attr]
        (("A",), 10.0),
        (("C",), 90.0),
    ]
    assert unsupported == {"projection": ["B"]}


def test_a_long_route_runs_faster_so_phases_stay_within_the_wire_limit() -> None:
    guide = _guide([0.0], [0.0], length=10_000.0)
    pace = plan.ms_per_metre(guide, speed_mps=5.0)
    assert pace == plan.MAX_PHASE_MS / 10_000.0
    assert plan.ms_per_metre(_guide([0.0], [0.0], 100.0), 5.0) == 200.0
