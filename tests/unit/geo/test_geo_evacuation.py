"""Evacuation guidance on hand-made street graphs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lightctl.geo.arrows import LanternGuide, guide_lanterns
from lightctl.geo.evacuation import Hazard, Solution, solve
from lightctl.geo.snapping import Snapper
from lightctl.geo.walkgraph import WalkGraph, build_walk_graph
from tests.unit.geo.evacuation_support import angle_off, circle, lantern_xy, leave, metric, street


def _guide(
    graph: WalkGraph,
    hazard: Hazard,
    points: list[tuple[float, float]],
    sources: list[int] | None = None,
    meeting: tuple[int, ...] | list[int] = (),
) -> tuple[Solution, LanternGuide]:
    solution = solve(graph, hazard, None if sources is None else np.array(sources))
    xs, ys = lantern_xy(graph, points)
    snap = Snapper(graph).snap(xs, ys, 30.0)
    return solution, guide_lanterns(graph, solution, snap, hazard, meeting)


def test_t_junction_points_out_of_the_area_along_each_street() -> None:
    graph = build_walk_graph(
        [street("main", [(-200, 0), (0, 0), (200, 0)]), street("stem", [(0, 0), (0, 200)])]
    )
    hazard = leave(graph, circle(graph, 0, 0, 50))
    _sol, lg = _guide(graph, hazard, [(0, 30), (30, 0), (-30, 0), (0, 45)])
    assert lg.kind == ["arrow", "arrow", "arrow", "arrow"]
    for got, want in zip(lg.heading_deg.tolist(), [0.0, 90.0, 270.0, 0.0], strict=True):
        assert angle_off(got, want) < 5.0


def test_t_junction_toward_a_meeting_point_turns_at_the_corner() -> None:
    graph = build_walk_graph(
        [street("main", [(-200, 0), (0, 0), (200, 0)]), street("stem", [(0, 0), (0, 200)])]
    )
    west_end = int(np.argmin(graph.node_xy[:, 0]))
    hazard = Hazard(area=circle(graph, 0, 100, 30))  # on the stem, away from the junction
    _sol, lg = _guide(graph, hazard, [(0, 50), (30, 0), (-100, 0)], [west_end], [west_end])
    assert lg.kind == ["arrow", "arrow", "arrow"]
    for got, want in zip(lg.heading_deg.tolist(), [180.0, 270.0, 270.0], strict=True):
        assert angle_off(got, want) < 5.0
    assert set(lg.exit_node.tolist()) == {west_end}


def test_dead_end_behind_the_core_shelters_in_place_and_the_rest_walks_out() -> None:
    graph = build_walk_graph(
        [street("main", [(-300, 0), (0, 0), (300, 0)]), street("dead", [(0, 0), (0, 60)])]
    )
    area = circle(graph, 0, 0, 80)
    hazard = Hazard(area=area, core=circle(graph, 0, 0, 15), safe_from=area.buffer(20))
    _sol, lg = _guide(graph, hazard, [(0, 40), (0, 55), (40, 0), (-40, 0)])
    assert lg.kind[:2] == ["shelter", "shelter"]
    assert lg.reason[0] == "every way out leads through the hazard's core"
    assert lg.kind[2:] == ["arrow", "arrow"]
    assert angle_off(float(lg.heading_deg[2]), 90.0) < 5.0
    assert angle_off(float(lg.heading_deg[3]), 270.0) < 5.0


def test_loop_takes_the_shorter_way_round() -> None:
    graph = build_walk_graph(
        [
            street("s", [(0, 0), (100, 0)]),
            street("e", [(100, 0), (100, 100)]),
            street("n", [(100, 100), (0, 100)]),
            street("w", [(0, 100), (0, 0)]),
            street("out", [(100, 0), (400, 0)]),
        ]
    )
    hazard = leave(graph, circle(graph, 50, 50, 90))
    _sol, lg = _guide(graph, hazard, [(0, 30), (70, 100), (100, 60), (30, 0)])
    assert lg.kind == ["arrow"] * 4
    for got, want in zip(lg.heading_deg.tolist(), [180.0, 90.0, 180.0, 90.0], strict=True):
        assert angle_off(got, want) < 5.0


def test_both_ways_equally_good_is_neutral_not_a_guess() -> None:
    graph = build_walk_graph([street("long", [(-300, 0), (300, 0)])])
    hazard = leave(graph, circle(graph, 0, 0, 60))
    _sol, lg = _guide(graph, hazard, [(0, 0), (40, 0)])
    assert lg.kind == ["neutral", "arrow"]
    assert np.isnan(lg.heading_deg[0])
    assert angle_off(float(lg.heading_deg[1]), 90.0) < 5.0


def test_an_even_tie_with_the_core_on_one_side_points_the_other_way() -> None:
    graph = build_walk_graph([street("long", [(-300, 0), (300, 0)])])
    area = circle(graph, 0, 0, 60)
    # The fire itself is just east of the lantern: as far to walk either way, but not through it.
    hazard = Hazard(area=area, core=circle(graph, 20, 0, 12), safe_from=area.buffer(20))
    _sol, lg = _guide(graph, hazard, [(0, 0)])
    assert lg.kind == ["arrow"]
    assert angle_off(float(lg.heading_deg[0]), 270.0) < 5.0


def test_no_safe_place_anywhere_is_shelter_in_place() -> None:
    graph = build_walk_graph([street("a", [(-100, 0), (100, 0)])])
    hazard = leave(graph, circle(graph, 0, 0, 500))
    _sol, lg = _guide(graph, hazard, [(0, 0), (50, 0)])
    assert lg.kind == ["shelter", "shelter"]
    assert lg.reason[0] == "no way out: no safe place can be reached on foot"


def test_lanterns_just_outside_show_no_entry_turned_toward_the_danger() -> None:
    # A straight street with a junction every 20 m; the hazard spans x = -210..-90.
    graph = build_walk_graph([street(f"s{x}", [(x, 0), (x + 20, 0)]) for x in range(-400, 200, 20)])
    hazard = leave(graph, circle(graph, -150, 0, 60), buffer_m=40)
    _sol, lg = _guide(graph, hazard, [(-80, 0), (-225, 0), (-150, 0), (-30, 0), (-120, 0)])
    assert lg.kind == ["no_entry", "no_entry", "neutral", "safe", "arrow"]
    assert angle_off(float(lg.heading_deg[0]), 270.0) < 5.0  # west: into the hazard
    assert angle_off(float(lg.heading_deg[1]), 90.0) < 5.0
    assert angle_off(float(lg.heading_deg[4]), 90.0) < 5.0  # inside: out by the nearer side


def test_lantern_far_from_any_street_gets_no_arrow() -> None:
    graph = build_walk_graph([street("a", [(-100, 0), (100, 0)])])
    hazard = leave(graph, circle(graph, 0, 0, 30))
    _sol, lg = _guide(graph, hazard, [(0, 80)])
    assert lg.kind == ["no_street"]
    assert np.isnan(lg.heading_deg[0])


def test_motorways_are_not_walked_and_steps_are_not_step_free() -> None:
    graph = build_walk_graph(
        [
            street("m", [(0, 0), (500, 0)], "motorway"),
            street("s", [(0, 0), (0, 30)], "steps"),
            street("f", [(0, 30), (0, 100)], "footway"),
        ]
    )
    assert graph.skipped_not_walkable == 1
    assert sorted(graph.edge_class) == ["footway", "steps"]
    steps = graph.edge_class.index("steps")
    assert not graph.edge_step_free[steps]
    assert graph.edge_seconds[steps] > graph.edge_length_m[steps] / 1.3 * 1.5


def test_an_empty_street_file_gives_an_empty_graph() -> None:
    graph = build_walk_graph([street("m", [(0, 0), (500, 0)], "motorway")])
    assert graph.node_count == 0
    solution = solve(graph, Hazard(area=circle_at_origin()))
    assert len(solution.seconds) == 0


def circle_at_origin() -> shapely.Geometry:
    return shapely.Point(0, 0).buffer(10)


@pytest.mark.parametrize("x", [10.0, 90.0, 150.0])
def test_following_next_steps_ends_at_a_safe_node(x: float) -> None:
    graph = build_walk_graph(
        [street("main", [(-200, 0), (0, 0), (200, 0)]), street("stem", [(0, 0), (0, 200)])]
    )
    hazard = leave(graph, circle(graph, 0, 0, 100))
    sol, lg = _guide(graph, hazard, [(x, 0)])
    path = sol.path_from(int(lg.end_node[0]))
    assert len(path) == len(set(path))
    assert sol.safe[path[-1]]
    _ = metric


def test_a_longer_way_around_beats_a_short_way_through_the_hazard() -> None:
    # Straight east to the meeting point is 400 m, 100 m of them through the fire; the way
    # round by the north is 700 m, all of it clear: people outside are sent round.
    graph = build_walk_graph(
        [
            street("main", [(-200, 0), (0, 0), (200, 0)]),
            street("up", [(-200, 0), (-200, 150)]),
            street("north", [(-200, 150), (200, 150)]),
            street("down", [(200, 150), (200, 0)]),
        ]
    )
    east = int(np.argmax(graph.node_xy[:, 0] - graph.node_xy[:, 1]))  # the (200, 0) corner
    hazard = Hazard(area=circle(graph, 0, 0, 50))
    _sol, lg = _guide(graph, hazard, [(-150, 0), (-200, 100)], [east], [east])
    assert lg.kind == ["arrow", "arrow"]
    assert angle_off(float(lg.heading_deg[0]), 270.0) < 5.0  # west, away from the fire
    assert angle_off(float(lg.heading_deg[1]), 0.0) < 5.0  # then north, round it
