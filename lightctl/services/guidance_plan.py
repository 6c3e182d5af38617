"""An evacuation plan as the API and alerts see it: one row per lantern (with the hysteresis
that keeps arrows steady under edits), the exits they lead to and the load on each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lightctl.domain.guidance import Shown, keeps_arrow
from lightctl.geo.arrows import LanternGuide
from lightctl.geo.crs import MetricProjection
from lightctl.geo.evacuation import Hazard, Solution, solve
from lightctl.geo.walkgraph import WalkGraph

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


def projection_of(g: WalkGraph) -> MetricProjection:
    if g.projection is None:  # pragma: no cover (an empty graph is refused before)
        raise RuntimeError("the walking graph is empty")
    return g.projection


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
        metres = None if np.isnan(lg.metres[i]) else float(lg.metres[i])
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
                    # The running light and the metres follow the way the arrow points.
                    held_metres = float(lg.metres_v[i] if to_v else lg.metres_u[i])
                    metres = held_metres if np.isfinite(held_metres) else None
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
                metres=None if metres is None else round(metres, 1),
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


def exit_names(
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
    projection = projection_of(g)
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


def exit_loads(
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
    projection = projection_of(g)
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
