"""Evacuation guidance from a hazard: the walking graph cached per street-data version, the
hazard and meeting points checked and placed on it, one solve, and per lantern what it shows."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, Polygon, mapping

from lightctl.domain.guidance import MEETING_SNAP_M, EvacuationSpec, Shown
from lightctl.domain.targets import TargetSpec
from lightctl.errors import FieldProblem, InvalidRequest, summarise
from lightctl.geo.arrows import EDGE_BAND_M, guide_lanterns
from lightctl.geo.evacuation import Hazard, solve
from lightctl.geo.limits import MAX_PREVIEW_FEATURES
from lightctl.geo.records import StreetSegment
from lightctl.geo.shapes import Loc, area_lonlat, line_lonlat
from lightctl.geo.snapping import Snapper
from lightctl.geo.streets import StreetIndex
from lightctl.geo.walkgraph import WalkGraph, build_walk_graph
from lightctl.services.guidance_plan import (
    GuidancePlan,
    exit_loads,
    exit_names,
    lantern_rows,
    projection_of,
)
from lightctl.services.targets import TargetResolver
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from lightctl.store import steering as steering_store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# A lantern counts as on a street within this distance (the inventory's street assignment too).
STREET_REACH_M = 30.0
# A hazard given by streets covers them this wide on each side (pavement and façades).
STREET_HAZARD_M = 15.0
# A hazard given by lanterns covers this around each (half the spacing of city lanterns).
LANTERN_HAZARD_M = 25.0
# The preview guides the lanterns this far beyond where safety starts: people just outside
# see arrows and "no entry" too.
PREVIEW_REACH_M = 100.0
# The street data a walking graph was built from: segments, geometry and name sizes, and the
# segments per class (classes decide what is walkable and how fast).
GraphKey = tuple[tuple[int, int, int], tuple[tuple[str, int], ...]]


@dataclass(slots=True)
class StreetGraph:
    """The walking graph of one street-data version with what is built on it."""

    key: GraphKey
    graph: WalkGraph
    snapper: Snapper
    streets: StreetIndex
    nodes: cKDTree | None
    built_s: float


class GuidanceService:
    """Plans evacuation guidance; the walking graph is rebuilt when the streets change."""

    def __init__(self, db: Database, resolver: TargetResolver, clock: Clock) -> None:
        self._db = db
        self._resolver = resolver
        self._clock = clock
        self._current: StreetGraph | None = None
        self._lock = threading.Lock()

    def street_graph(self) -> StreetGraph:
        """The walking graph of the streets as stored, built once per street-data version."""
        with self._db.session() as session:
            key = (
                lantern_store.street_segments_fingerprint(session),
                lantern_store.street_class_counts(session),
            )
        current = self._current
        if current is not None and current.key == key:
            return current
        with self._lock:
            current = self._current
            if current is not None and current.key == key:
                return current
            started = time.perf_counter()
            with self._db.session() as session:
                rows = lantern_store.all_street_segments(session)
            segments = [
                StreetSegment(sid, name, cls, tuple((float(p[0]), float(p[1])) for p in coords))
                for sid, name, cls, coords in rows
            ]
            built = street_graph(key, segments)
            built.built_s = time.perf_counter() - started
            self._current = built
            log.info(
                "walking graph built: %d nodes, %d edges from %d segments in %.2f s",
                built.graph.node_count,
                built.graph.edge_count,
                len(segments),
                built.built_s,
            )
            return built

    def plan(
        self,
        spec: EvacuationSpec,
        lantern_ids: Sequence[str] | None,
        alert_target: TargetSpec | None = None,
        previous: Mapping[str, Shown] | None = None,
        preview: bool = False,
    ) -> GuidancePlan:
        """Guidance for these lanterns (None: those in and near the hazard); ``alert_target``
        stands in for a missing hazard; ``previous``: what the lanterns show now (hysteresis);
        ``preview``: one row per lantern goes back, so their number is limited as a target
        preview's GeoJSON is."""
        t0 = time.perf_counter()
        sg = self.street_graph()
        g = sg.graph
        if g.node_count == 0 or g.projection is None:
            raise InvalidRequest.at(
                ("hazard",),
                "the street data has no walkable ways: import streets first "
                "(lightctl streets import FILE)",
            )
        hazard_target = spec.hazard or alert_target
        if hazard_target is None or hazard_target.is_empty():
            raise InvalidRequest.at(("hazard",), "give the hazard: a Target (area, circle, ...)")
        problems: list[FieldProblem] = []
        area = _collect(problems, lambda: self._geometry(sg, hazard_target, ("hazard",)))
        core = None
        if spec.core is not None:
            core = _collect(problems, lambda: self._geometry(sg, spec.core, ("core",)))  # type: ignore[arg-type]
        if area is not None and not spec.holes_safe:
            area = _filled(area)
        sources: np.ndarray | None = None
        names: list[str] = []
        if area is not None and spec.meeting_points:
            placed = _collect(problems, lambda: _meeting_nodes(sg, spec, area))
            if placed is not None:
                sources, names = placed
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        if area is None:  # pragma: no cover (a missing area is one of the problems above)
            raise RuntimeError("no hazard geometry")
        if core is not None:
            inside = shapely.intersection(core, area)
            if inside.is_empty:
                raise InvalidRequest.at(
                    ("core",),
                    "the core (where the danger is worst) lies outside the hazard: draw it "
                    "inside the hazard area, or leave it out",
                )
            core = inside
        safe_from = None if spec.meeting_points else area.buffer(spec.buffer_m * g.scale)
        hazard = Hazard(area=area, core=core, safe_from=safe_from)
        t1 = time.perf_counter()
        solution = solve(g, hazard, sources)
        t2 = time.perf_counter()
        ids = list(lantern_ids) if lantern_ids is not None else self._near(sg, hazard, spec)
        if preview and len(ids) > MAX_PREVIEW_FEATURES:
            raise InvalidRequest.at(
                ("lanterns",),
                f"{len(ids):,} lanterns in and near the hazard; a guidance preview lists at most "
                f"{MAX_PREVIEW_FEATURES:,}: narrow the hazard or name the lanterns",
                limit=MAX_PREVIEW_FEATURES,
            )
        with self._db.session() as session:
            positions = steering_store.positions_of(session, ids)
        ids = [i for i in ids if i in positions]
        lons = np.array([positions[i][0] for i in ids], dtype=np.float64)
        lats = np.array([positions[i][1] for i in ids], dtype=np.float64)
        xs, ys = g.projection.to_xy(lons, lats)
        snap = sg.snapper.snap(xs, ys, STREET_REACH_M)
        meeting = sources.tolist() if sources is not None else []
        lg = guide_lanterns(g, solution, snap, hazard, meeting)
        t3 = time.perf_counter()
        exit_name = exit_names(g, solution, lg, sources, names)
        now = self._clock().timestamp()
        rows = lantern_rows(ids, lons, lats, lg, exit_name, previous or {}, now)
        plan = GuidancePlan(
            lanterns=rows,
            exits=[],
            warnings=[],
            no_safe_place=not bool(solution.safe.any()) or not np.isfinite(solution.seconds).any(),
            mode="meeting_points" if spec.meeting_points else "leave_area",
            hazard_lonlat=_lonlat_geojson(g, area),
        )
        plan.exits, plan.warnings = exit_loads(g, hazard, solution, lg, exit_name, sources, names)
        if not ids:
            plan.warnings.append("no lanterns in or near the hazard: nothing to guide")
        elif plan.no_safe_place:
            plan.warnings.insert(
                0,
                "no safe place: the hazard covers every walkable street that can be reached; "
                "every lantern says shelter in place",
            )
        plan.timings_ms = {
            "prepare": (t1 - t0) * 1000,
            "solve": (t2 - t1) * 1000,
            "lanterns": (t3 - t2) * 1000,
        }
        return plan

    # ---- the hazard and where it is safe --------------------------------------------------------

    def _geometry(self, sg: StreetGraph, target: TargetSpec, loc: Loc) -> shapely.Geometry:
        """A Target as a metric surface: areas as drawn, circles and routes as their reach,
        streets and lanterns a few metres around them; ``exclude`` cut out."""
        g = sg.graph
        proj = projection_of(g)
        parts: list[shapely.Geometry] = []

        def metric(geom: shapely.Geometry) -> shapely.Geometry:
            return shapely.transform(geom, lambda c: np.column_stack(proj.to_xy(c[:, 0], c[:, 1])))

        if target.area is not None:
            parts.append(metric(area_lonlat(target.area, (*loc, "area"), target.repair)))
        if target.circle is not None:
            c = target.circle
            x, y = proj.to_xy([c.lon], [c.lat])
            parts.append(shapely.Point(x[0], y[0]).buffer(c.radius_m * g.scale, quad_segs=32))
        if target.route is not None:
            line = metric(line_lonlat(target.route.line, (*loc, "route", "line")))
            parts.append(line.buffer(target.route.width_m * g.scale))
        for i, name in enumerate(target.streets):
            sg.streets.resolve(name, (*loc, "streets", i))
            parts.append(metric(sg.streets.lines_for(name)).buffer(STREET_HAZARD_M * g.scale))
        if target.lanterns or target.groups:
            only = TargetSpec(
                lanterns=target.lanterns,
                groups=target.groups,
                allow_empty=target.allow_empty,
                confirm_large=True,
            )
            with self._db.session() as session:
                ids = self._resolver.resolve(session, only, loc).lantern_ids
                positions = steering_store.positions_of(session, list(ids))
            if positions:
                pts = np.array(list(positions.values()), dtype=np.float64)
                xs, ys = proj.to_xy(pts[:, 0], pts[:, 1])
                parts.append(
                    shapely.union_all(shapely.points(xs, ys)).buffer(LANTERN_HAZARD_M * g.scale)
                )
        if not parts:
            raise InvalidRequest.at(
                loc, "the hazard needs an area, circle, route, streets or lanterns"
            )
        out = shapely.union_all(parts)
        if target.exclude is not None:
            out = shapely.difference(out, self._geometry(sg, target.exclude, (*loc, "exclude")))
        if out.is_empty:
            raise InvalidRequest.at(loc, "the hazard covers no ground (everything is excluded)")
        return out

    def _near(self, sg: StreetGraph, hazard: Hazard, spec: EvacuationSpec) -> list[str]:
        """The lanterns in the hazard and within reach of it (the preview's default)."""
        g = sg.graph
        grow = (spec.buffer_m + max(PREVIEW_REACH_M, EDGE_BAND_M)) * g.scale
        reach = _lonlat_geojson(g, hazard.area.buffer(grow))
        target = TargetSpec(area=reach, allow_empty=True, confirm_large=True, repair=True)
        with self._db.session() as session:
            return list(self._resolver.resolve(session, target).lantern_ids)


def street_graph(key: GraphKey, segments: Sequence[StreetSegment]) -> StreetGraph:
    """The walking graph of these segments with its lantern snapper and junction tree."""
    graph = build_walk_graph(segments)
    nodes = cKDTree(graph.node_xy) if graph.node_count else None
    return StreetGraph(key, graph, Snapper(graph), StreetIndex(segments), nodes, 0.0)


def _collect(problems: list[FieldProblem], step: Callable[[], Any]) -> Any:
    try:
        return step()
    except InvalidRequest as exc:
        problems.extend(exc.problems or [FieldProblem((), exc.message)])
        return None


def _filled(area: shapely.Geometry) -> shapely.Geometry:
    """The hazard with its holes filled: a courtyard inside a fire is not a safe place unless
    the caller says so (``holes_safe``)."""
    polys = [p for p in shapely.get_parts(area) if isinstance(p, Polygon)]
    if not polys:
        return area
    return shapely.union_all([Polygon(p.exterior) for p in polys])


def _meeting_nodes(
    sg: StreetGraph, spec: EvacuationSpec, area: shapely.Geometry
) -> tuple[np.ndarray, list[str]]:
    """The junction nearest each meeting point (refused beyond ``MEETING_SNAP_M`` or inside the
    hazard), and per junction the meeting point's name."""
    g = sg.graph
    projection = projection_of(g)
    if sg.nodes is None:  # pragma: no cover (an empty graph is refused before)
        raise RuntimeError("no junctions")
    problems: list[FieldProblem] = []
    nodes: list[int] = []
    names: list[str] = []
    for i, point in enumerate(spec.meeting_points):
        x, y = projection.to_xy([point.lon], [point.lat])
        dist, node = sg.nodes.query([x[0], y[0]])
        metres = float(dist) / g.scale
        loc = ("meeting_points", i)
        if metres > MEETING_SNAP_M:
            problems.append(
                FieldProblem(
                    loc,
                    f"{point.name!r} is {metres:.0f} m from the nearest walkable street junction; "
                    f"at most {MEETING_SNAP_M:.0f} m: move it onto a street or square",
                    point.name,
                    limit=MEETING_SNAP_M,
                )
            )
            continue
        if shapely.intersects_xy(area, float(g.node_xy[node, 0]), float(g.node_xy[node, 1])):
            problems.append(FieldProblem(loc, f"{point.name!r} lies inside the hazard", point.name))
            continue
        nodes.append(int(node))
        names.append(point.name)
    if problems:
        raise InvalidRequest(summarise(problems), problems)
    return np.array(nodes, dtype=np.intp), names


def _lonlat_geojson(g: WalkGraph, geometry: shapely.Geometry) -> dict[str, Any]:
    proj = projection_of(g)
    back = shapely.transform(geometry, lambda c: np.column_stack(proj.to_lonlat(c[:, 0], c[:, 1])))
    if not isinstance(back, Polygon | MultiPolygon):
        parts = [p for p in shapely.get_parts(back) if isinstance(p, Polygon)]
        back = MultiPolygon(parts)
    geo: dict[str, Any] = json.loads(json.dumps(mapping(back)))  # tuples as lists
    return geo
