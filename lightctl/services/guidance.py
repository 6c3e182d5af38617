"""Evacuation guidance from a hazard: the walking graph cached per street-data version, the
hazard and meeting points checked and placed on it, one solve, and per lantern what it shows."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, Polygon, mapping

from lightctl.domain.guidance import MEETING_SNAP_M, EvacuationSpec, Shown, keeps_arrow
from lightctl.domain.targets import TargetSpec
from lightctl.errors import FieldProblem, InvalidRequest, summarise
from lightctl.geo.crs import MetricProjection
from lightctl.geo.evacuation import (
    EDGE_BAND_M,
    Hazard,
    LanternGuide,
    Snapper,
    Solution,
    guide_lanterns,
    solve,
)
from lightctl.geo.limits import MAX_PREVIEW_FEATURES
from lightctl.geo.records import StreetSegment
from lightctl.geo.shapes import Loc, area_lonlat, line_lonlat
from lightctl.geo.streets import StreetIndex
from lightctl.geo.walkgraph import WalkGraph, build_walk_graph
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
# Exits of "leave the area" are the first safe junctions reached; those in one cell of this size
# are one exit in the load report (one street leaving the area, not each of its junctions).
EXIT_CELL_M = 60.0
# One exit takes more than this share while another is nearly as close: say so.
LOAD_SHARE = 0.5
NEARLY_AS_CLOSE = 0.15

# Arrows turn in 5° steps (2.5° at most off the street, invisible on the pavement): lanterns
# pointing the same way share one envelope, so an edit of a 150-lantern evacuation stores
# tens of commands instead of hundreds (each is one signed envelope and one row).
HEADING_STEP_DEG = 5

PICTOGRAM = {
    "arrow": "arrow",
    "neutral": "walk",
    "shelter": "stop",
    "no_entry": "no_entry",
    "exit": "exit",
}


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


@dataclass(frozen=True, slots=True)
class LanternPlan:
    id: str
    lon: float
    lat: float
    kind: str
    pictogram: str | None
    heading_deg: float | None
    exit: str | None
    metres: float | None
    reason: str | None
    changed_at: float


@dataclass(frozen=True, slots=True)
class ExitLoad:
    name: str
    lon: float
    lat: float
    lanterns: int


@dataclass(slots=True)
class GuidancePlan:
    lanterns: list[LanternPlan]
    exits: list[ExitLoad]
    warnings: list[str]
    no_safe_place: bool
    mode: str  # "meeting_points" | "leave_area"
    hazard_lonlat: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.lanterns:
            out[row.kind] = out.get(row.kind, 0) + 1
        return out

    def shown(self) -> dict[str, Shown]:
        return {r.id: Shown(r.kind, r.heading_deg, r.changed_at) for r in self.lanterns}


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
            core = shapely.intersection(core, area) if not core.is_empty else None
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
        exit_name = _exit_names(g, solution, lg, sources, names)
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
        plan.exits, plan.warnings = _loads(g, hazard, solution, lg, exit_name, sources, names)
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
        proj = _projection(g)
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
    projection = _projection(g)
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


# ---- per lantern -------------------------------------------------------------------------------


def lantern_rows(
    ids: Sequence[str],
    lons: np.ndarray,
    lats: np.ndarray,
    lg: LanternGuide,
    exit_name: list[str | None],
    previous: Mapping[str, Shown],
    now: float,
) -> list[LanternPlan]:
    """One row per lantern; an arrow that was shown keeps its way unless ``keeps_arrow`` says
    the new one must win (hysteresis under edits)."""
    out: list[LanternPlan] = []
    for i, lid in enumerate(ids):
        kind = lg.kind[i]
        heading = None if np.isnan(lg.heading_deg[i]) else _rounded(float(lg.heading_deg[i]))
        name = exit_name[i]
        changed_at = now
        before = previous.get(lid)
        if before is not None and kind == "arrow" and before.heading_deg is not None:
            to_v = _angle(before.heading_deg, lg.heading_v[i]) <= _angle(
                before.heading_deg, lg.heading_u[i]
            )
            old_cost = float(lg.cost_v[i] if to_v else lg.cost_u[i])
            best = float(min(lg.cost_u[i], lg.cost_v[i]))
            blocked = bool(lg.blocked_v[i] if to_v else lg.blocked_u[i])
            if keeps_arrow(before, old_cost, best, blocked, now):
                heading = _rounded(float(lg.heading_v[i] if to_v else lg.heading_u[i]))
                if bool(to_v) != bool(lg.toward_v[i]):
                    name = None  # the old way's exit is not the one the new solve names
        if before is not None and before.kind == kind and before.heading_deg == heading:
            changed_at = before.changed_at
        out.append(
            LanternPlan(
                id=lid,
                lon=float(lons[i]),
                lat=float(lats[i]),
                kind=kind,
                pictogram=PICTOGRAM.get(kind),
                heading_deg=float(heading) if heading is not None else None,
                exit=name,
                metres=None if np.isnan(lg.metres[i]) else round(float(lg.metres[i]), 1),
                reason=lg.reason[i],
                changed_at=changed_at,
            )
        )
    return out


def _rounded(heading: float) -> float:
    """An arrow's heading in steps of ``HEADING_STEP_DEG``."""
    return float(round(heading / HEADING_STEP_DEG) * HEADING_STEP_DEG % 360)


def _angle(a: float, b: float) -> float:
    d = abs(a - float(b)) % 360.0
    return min(d, 360.0 - d)


def _exit_cells(g: WalkGraph, nodes: np.ndarray) -> np.ndarray:
    cells = np.floor(g.node_xy[nodes] / (EXIT_CELL_M * g.scale)).astype(np.int64)
    out: np.ndarray = cells[:, 0] * 1_000_003 + cells[:, 1]
    return out


def _exit_names(
    g: WalkGraph,
    solution: Solution,
    lg: LanternGuide,
    sources: np.ndarray | None,
    names: list[str],
) -> list[str | None]:
    """Per lantern the exit its arrow leads to: the meeting point's name, or in "leave the
    area" the cell of the first safe junction ("exit <lon>,<lat>" of the cell's first one)."""
    out: list[str | None] = [None] * len(lg.kind)
    led = np.flatnonzero(lg.exit_node >= 0)
    if not len(led):
        return out
    if sources is not None:
        by_node = dict(zip(sources.tolist(), names, strict=True))
        for i in led.tolist():
            out[i] = by_node.get(int(lg.exit_node[i]))
        return out
    cells = _exit_cells(g, lg.exit_node[led])
    label: dict[int, str] = {}
    projection = _projection(g)
    for i, cell in zip(led.tolist(), cells.tolist(), strict=True):
        if cell not in label:
            node = int(lg.exit_node[i])
            lon, lat = projection.to_lonlat([g.node_xy[node, 0]], [g.node_xy[node, 1]])
            street = _street_at(g, node)
            label[cell] = f"{street + ' ' if street else ''}({lon[0]:.5f}, {lat[0]:.5f})"
        out[i] = label[cell]
    return out


def _street_at(g: WalkGraph, node: int) -> str | None:
    touching = np.flatnonzero((g.edge_u == node) | (g.edge_v == node))
    named = [g.edge_name[e] for e in touching.tolist() if g.edge_name[e]]
    return named[0] if named else None


def _loads(
    g: WalkGraph,
    hazard: Hazard,
    solution: Solution,
    lg: LanternGuide,
    exit_name: list[str | None],
    sources: np.ndarray | None,
    names: list[str],
) -> tuple[list[ExitLoad], list[str]]:
    """Lanterns per exit (a proxy for people), and a warning when one exit takes more than half
    while another is nearly as close for most of them."""
    count: dict[str, list[int]] = {}
    for i, name in enumerate(exit_name):
        if name is not None:
            count.setdefault(name, []).append(i)
    projection = _projection(g)
    loads = []
    for name, rows in count.items():
        node = int(lg.exit_node[rows[0]])
        lon, lat = projection.to_lonlat([g.node_xy[node, 0]], [g.node_xy[node, 1]])
        loads.append(ExitLoad(name, float(lon[0]), float(lat[0]), len(rows)))
    loads.sort(key=lambda e: (-e.lanterns, e.name))
    warnings: list[str] = []
    total = sum(e.lanterns for e in loads)
    if len(loads) < 2 and not (sources is None and total):
        return loads, warnings
    top = loads[0] if loads else None
    if top is None or top.lanterns <= LOAD_SHARE * total:
        return loads, warnings
    rows = count[top.name]
    top_nodes = np.unique(lg.exit_node[rows])
    if sources is not None:
        rest = np.array([s for s in sources.tolist() if s not in set(top_nodes.tolist())])
        if not len(rest):
            return loads, warnings
        other = solve(g, hazard, rest)
    else:
        cells = _exit_cells(g, np.flatnonzero(solution.safe))
        top_cells = set(_exit_cells(g, top_nodes).tolist())
        keep = np.flatnonzero(solution.safe)[[c not in top_cells for c in cells.tolist()]]
        if not len(keep):
            return loads, warnings
        other = solve(g, hazard, keep)
    best_now = np.minimum(lg.cost_u[rows], lg.cost_v[rows])
    ends = lg.end_node[rows]
    # The same first step, then the other exit: an upper bound on walking there instead.
    first = best_now - solution.seconds[ends]
    alternative = first + other.seconds[ends]
    close = alternative <= best_now * (1.0 + NEARLY_AS_CLOSE)
    if close.sum() * 2 >= len(rows):
        warnings.append(
            f"exit {top.name} takes {top.lanterns} of {total} guided lanterns while another exit "
            f"is nearly as close (within {NEARLY_AS_CLOSE:.0%}) for {int(close.sum())} of them: "
            "consider a second meeting point or splitting the area"
        )
    return loads, warnings


def _projection(g: WalkGraph) -> MetricProjection:
    if g.projection is None:  # pragma: no cover (an empty graph is refused before)
        raise RuntimeError("the walking graph is empty")
    return g.projection


def _lonlat_geojson(g: WalkGraph, geometry: shapely.Geometry) -> dict[str, Any]:
    proj = _projection(g)
    back = shapely.transform(geometry, lambda c: np.column_stack(proj.to_lonlat(c[:, 0], c[:, 1])))
    if not isinstance(back, Polygon | MultiPolygon):
        parts = [p for p in shapely.get_parts(back) if isinstance(p, Polygon)]
        back = MultiPolygon(parts)
    geo: dict[str, Any] = json.loads(json.dumps(mapping(back)))  # tuples as lists
    return geo
