"""Evacuation guidance as a caller asks for it, and the rule that keeps arrows steady under edits.

Pure: no geometry library, no I/O. The solver lives in ``lightctl.geo.evacuation``, the
orchestration in ``lightctl.services.guidance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lightctl.domain.targets import TargetSpec, target_from_json, target_to_json

# "Leave the area": everything this far outside the hazard counts as safe. 50 m is half a
# city block: out of radiant heat of a building fire and past the cordon tape.
DEFAULT_BUFFER_M = 50.0
# The running light along the way out: a brisk run, visibly ahead of people walking (as steering).
DEFAULT_CHASE_SPEED_MPS = 5.0
# A meeting point more than this from the nearest walkable junction is refused: people could not
# be led to it along the streets (a park's centre 100 m from its paths is still reached).
MEETING_SNAP_M = 150.0
# An arrow turns only when the other way is clearly better: 15 % less walking time.
SWITCH_BETTER = 0.15
# ... and at most once in this many seconds, so people are not sent back and forth.
SWITCH_EVERY_S = 30.0


@dataclass(frozen=True, slots=True)
class MeetingPoint:
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class EvacuationSpec:
    """Where the danger is and where people should go.

    ``hazard`` None: the alert's own target is the hazard. No meeting points: "leave the area",
    anything ``buffer_m`` outside the hazard is safe. Holes of a hazard polygon are hazard too
    unless ``holes_safe``."""

    hazard: TargetSpec | None = None
    core: TargetSpec | None = None
    meeting_points: tuple[MeetingPoint, ...] = ()
    buffer_m: float = DEFAULT_BUFFER_M
    holes_safe: bool = False
    chase_speed_mps: float = DEFAULT_CHASE_SPEED_MPS
    # No way out can be planned (no safe place, no walkable street): warn without guidance
    # instead of refusing the alert (CAP feeds; a dispatcher is told and decides).
    fallback: bool = False


def evacuation_to_json(spec: EvacuationSpec) -> dict[str, Any]:
    return {
        "hazard": target_to_json(spec.hazard) if spec.hazard is not None else None,
        "core": target_to_json(spec.core) if spec.core is not None else None,
        "meeting_points": [[m.name, m.lon, m.lat] for m in spec.meeting_points],
        "buffer_m": spec.buffer_m,
        "holes_safe": spec.holes_safe,
        "chase_speed_mps": spec.chase_speed_mps,
        "fallback": spec.fallback,
    }


def evacuation_from_json(data: dict[str, Any]) -> EvacuationSpec:
    hazard, core = data.get("hazard"), data.get("core")
    return EvacuationSpec(
        hazard=target_from_json(hazard) if hazard is not None else None,
        core=target_from_json(core) if core is not None else None,
        meeting_points=tuple(MeetingPoint(n, lon, lat) for n, lon, lat in data["meeting_points"]),
        buffer_m=float(data["buffer_m"]),
        holes_safe=bool(data["holes_safe"]),
        chase_speed_mps=float(data["chase_speed_mps"]),
        fallback=bool(data.get("fallback", False)),
    )


@dataclass(frozen=True, slots=True)
class Shown:
    """What a lantern shows now: its kind (arrow, shelter, ...), the arrow's bearing, and when it
    last changed (seconds since the epoch)."""

    kind: str
    heading_deg: float | None
    changed_at: float


def keeps_arrow(
    previous: Shown,
    old_way_cost: float,
    best_cost: float,
    old_way_blocked: bool,
    now_s: float,
) -> bool:
    """Whether a lantern that showed an arrow keeps pointing the old way after a recompute.

    It turns at once when the old way is gone or now leads into the danger; it turns for a
    clearly better way (``SWITCH_BETTER``) only when its last change is ``SWITCH_EVERY_S`` old;
    otherwise it keeps the old way, which is still about as good.
    """
    if previous.kind != "arrow" or old_way_blocked or old_way_cost == float("inf"):
        return False
    clearly_better = best_cost * (1.0 + SWITCH_BETTER) < old_way_cost
    if not clearly_better:
        return True
    return now_s - previous.changed_at < SWITCH_EVERY_S
