"""Evacuation guidance on the real Zürich streets (the demo's street file) around a fire on
Bahnhofstrasse: no arrow leads into the core from outside it, and following the arrows from
every lantern leaves the hazard, never loops and ends at a safe junction."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest
import shapely

from lightctl.geo.arrows import LanternGuide, guide_lanterns
from lightctl.geo.evacuation import Hazard, Solution, solve
from lightctl.geo.records import StreetSegment
from lightctl.geo.snapping import Snapper
from lightctl.geo.walkgraph import WalkGraph, build_walk_graph
from lightctl.paths import DEMO_LANTERNS, DEMO_STREETS

# A point on Bahnhofstrasse between Paradeplatz and Rennweg.
FIRE_LON, FIRE_LAT = 8.53920, 47.37150


@lru_cache(maxsize=1)
def _zurich() -> tuple[WalkGraph, np.ndarray, np.ndarray]:
    streets = json.loads(DEMO_STREETS.read_text(encoding="utf-8"))["features"]
    segments = [
        StreetSegment(
            f["properties"]["id"],
            f["properties"].get("name"),
            f["properties"].get("class"),
            tuple((float(x), float(y)) for x, y in f["geometry"]["coordinates"]),
        )
        for f in streets
        if f["geometry"]["type"] == "LineString"
    ]
    lanterns = json.loads(DEMO_LANTERNS.read_text(encoding="utf-8"))["features"]
    lonlat = np.array([f["geometry"]["coordinates"][:2] for f in lanterns], dtype=np.float64)
    return build_walk_graph(segments), lonlat[:, 0], lonlat[:, 1]


def _run(radius_m: float, core_m: float) -> tuple[WalkGraph, Hazard, Solution, LanternGuide]:
    graph, lons, lats = _zurich()
    assert graph.projection is not None
    x, y = graph.projection.to_xy([FIRE_LON], [FIRE_LAT])
    centre = shapely.Point(x[0], y[0])
    area = centre.buffer(radius_m * graph.scale, quad_segs=32)
    core = centre.buffer(core_m * graph.scale, quad_segs=32)
    hazard = Hazard(area=area, core=core, safe_from=area.buffer(30 * graph.scale))
    solution = solve(graph, hazard)
    xs, ys = graph.projection.to_xy(lons, lats)
    near = np.flatnonzero(np.hypot(xs - x[0], ys - y[0]) < (radius_m + 150) * graph.scale)
    snap = Snapper(graph).snap(xs[near], ys[near], 30.0)
    return graph, hazard, solution, guide_lanterns(graph, solution, snap, hazard)


def test_the_graph_is_the_walkable_city() -> None:
    graph, _lons, _lats = _zurich()
    assert graph.node_count > 2000
    assert graph.edge_count > graph.node_count  # a city's streets meet in loops
    assert graph.skipped_not_walkable == 0  # the old town has no motorway
    assert (~graph.edge_step_free).sum() > 100  # its stairs are many


@pytest.mark.parametrize(("radius_m", "core_m"), [(150.0, 40.0), (250.0, 60.0)])
def test_arrows_lead_out_of_a_fire_on_bahnhofstrasse(radius_m: float, core_m: float) -> None:
    graph, hazard, solution, lg = _run(radius_m, core_m)
    kinds = np.array(lg.kind)
    arrows = np.flatnonzero(kinds == "arrow")
    assert len(arrows) > 50
    assert np.count_nonzero(lg.inside[arrows]) > 20
    core_nodes = shapely.intersects_xy(hazard.core, graph.node_xy[:, 0], graph.node_xy[:, 1])
    for i in arrows.tolist():
        path = solution.path_from(int(lg.end_node[i]))
        assert len(path) == len(set(path)), "the arrows loop"
        assert solution.safe[path[-1]], "the arrows end somewhere unsafe"
        assert not solution.inside[path[-1]]
        if not lg.inside[i]:
            # From outside the hazard no arrow leads into it, let alone into its core.
            assert not core_nodes[path].any()
            assert not solution.inside[path].any()
        else:
            # From inside: once out of the core, the way never enters it again.
            assert not core_nodes[path[1:]].any() or core_nodes[path[0]]
    # Arrows lead out: the way to safety ends farther from the fire than it starts.
    assert hazard.core is not None
    cx, cy = np.asarray(shapely.get_coordinates(hazard.core.centroid))[0]
    for i in arrows[lg.inside[arrows]].tolist():
        end = solution.path_from(int(lg.end_node[i]))[-1]
        start = int(lg.end_node[i])
        d0 = np.hypot(*(graph.node_xy[start] - (cx, cy)))
        d1 = np.hypot(*(graph.node_xy[end] - (cx, cy)))
        assert d1 >= d0
