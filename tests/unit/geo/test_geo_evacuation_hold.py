"""Arrows stay steady under edits: a lantern's arrow turns only when its way now leads into the
danger, or when the other way is clearly (15 %) better and its last change is 30 s old."""

from __future__ import annotations

import numpy as np

from lightctl.domain.guidance import Shown
from lightctl.geo.arrows import guide_lanterns
from lightctl.geo.evacuation import Hazard, solve
from lightctl.geo.snapping import Snapper
from lightctl.geo.walkgraph import WalkGraph, build_walk_graph
from lightctl.services.guidance_plan import LanternPlan, lantern_rows
from tests.unit.geo.evacuation_support import angle_off, circle, lantern_xy, street

EAST, WEST = 90.0, 270.0
T0 = 1_000_000.0


def _graph() -> WalkGraph:
    """A straight street with a junction every 20 m (side streets left out)."""
    xs = range(-400, 400, 20)
    return build_walk_graph([street(f"s{x}", [(x, 0), (x + 20, 0)]) for x in xs])


def _arrow(
    graph: WalkGraph,
    fire_x: float,
    previous: dict[str, Shown],
    now: float,
    core_x: float | None = None,
) -> LanternPlan:
    """The lantern at x = 10 m, with a 100 m fire centred at ``fire_x`` (safe beyond it)."""
    area = circle(graph, fire_x, 0, 100)
    core = circle(graph, core_x, 0, 10) if core_x is not None else None
    hazard = Hazard(area=area, core=core, safe_from=area)
    solution = solve(graph, hazard)
    xs, ys = lantern_xy(graph, [(10, 0)])
    lg = guide_lanterns(graph, solution, Snapper(graph).snap(xs, ys, 30.0), hazard)
    rows = lantern_rows(["L1"], np.array([0.0]), np.array([0.0]), lg, [None], previous, now)
    return rows[0]


def _shown(row: LanternPlan) -> dict[str, Shown]:
    return {row.id: Shown(row.kind, row.heading_deg, row.changed_at)}


def test_a_small_edit_does_not_turn_the_arrow() -> None:
    graph = _graph()
    first = _arrow(graph, 0, {}, T0)
    assert first.kind == "arrow"
    assert angle_off(first.heading_deg or 0, EAST) < 5  # 90 m east against 110 m west
    # The fire moves 15 m east: west is now 95 m against 105 m east, better by only 10 %.
    after = _arrow(graph, 15, _shown(first), T0 + 60)
    assert angle_off(after.heading_deg or 0, EAST) < 5
    assert after.changed_at == first.changed_at
    # Without the previous arrow the same hazard points west: the hold is what kept it.
    fresh = _arrow(graph, 15, {}, T0 + 60)
    assert angle_off(fresh.heading_deg or 0, WEST) < 5


def test_a_clearly_better_way_wins_but_at_most_once_per_30_s() -> None:
    graph = _graph()
    first = _arrow(graph, 0, {}, T0)
    # The fire moves 40 m east: west 70 m against east 130 m, much better; 10 s after the
    # arrow was set it still waits, at 31 s it turns.
    soon = _arrow(graph, 40, _shown(first), T0 + 10)
    assert angle_off(soon.heading_deg or 0, EAST) < 5
    # Its metres (and the running light timed from them) are those of the way it shows (east
    # first, 20 m further than the west way a fresh solve takes), not those of the other way.
    fresh = _arrow(graph, 40, {}, T0 + 10)
    assert angle_off(fresh.heading_deg or 0, WEST) < 5
    assert soon.metres is not None
    assert fresh.metres is not None
    assert abs(soon.metres - (fresh.metres + 20)) < 1, (soon.metres, fresh.metres)
    later = _arrow(graph, 40, _shown(first), T0 + 31)
    assert angle_off(later.heading_deg or 0, WEST) < 5
    assert later.changed_at == T0 + 31


def test_a_way_that_now_leads_through_the_core_turns_at_once() -> None:
    graph = _graph()
    first = _arrow(graph, 0, {}, T0)
    # Same fire, but its core now burns 40 m east of the lantern: the east way is blocked.
    blocked = _arrow(graph, 0, _shown(first), T0 + 1, core_x=50)
    assert angle_off(blocked.heading_deg or 0, WEST) < 5
