"""Steering of visitor flows and emergency guidance, as a caller asks for it; the pure checks.

A steering writes light, projection and path settings into one slot of the lanterns it targets
until its end time. The slot is 10 for city apps; dispatchers use the same mechanism at slot 3 for
emergency corridors. Slots 1 and 2 belong to warnings and are never written by a steering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from lightctl.domain import priorities as slot
from lightctl.domain.targets import TargetSpec
from lightctl.errors import InvalidRequest

Direction = Literal["forward", "backward"]

# The highest slot a steering may take: emergency guidance. Warnings (1, 2) are alerts only.
STEERING_FLOOR = slot.EMERGENCY_GUIDANCE
# Without a caller's own ceiling (roles arrive with issue 7) a steering takes slot 4 or lower:
# emergency guidance at 3 is the dispatcher's.
DEFAULT_CEILING = slot.EMERGENCY_GUIDANCE + 1
# A festival weekend is the longest visitor flow we plan for; lanterns hold the slot until then
# even without the service, so the end must not lie further out.
MAX_DURATION_S = 7 * 86400
# Running light along a route: 5 m/s is a brisk run, visibly ahead of people walking (1.3 m/s).
DEFAULT_CHASE_SPEED_MPS = 5.0


@dataclass(frozen=True, slots=True)
class Guidance:
    """How to follow the target's route: toward which end, and how fast the light runs."""

    direction: Direction | None = None  # forward: toward the line's last position
    destination: tuple[float, float] | None = None  # lon, lat near one end of the line
    chase_speed_mps: float = DEFAULT_CHASE_SPEED_MPS


@dataclass(frozen=True, slots=True)
class SteeringSpec:
    """What a caller asks for; channel settings as plain JSON, checked against the wire models."""

    target: TargetSpec
    light: dict[str, Any] | None = None
    projection: dict[str, Any] | None = None
    path: dict[str, Any] | None = None
    guidance: Guidance | None = None
    priority: int = slot.VISITOR_STEERING
    ends_at: datetime | None = None
    ends_in_s: int | None = None
    label: str = ""

    def channels(self) -> dict[str, dict[str, Any]]:
        """The channel settings given, in channel order."""
        given = {"light": self.light, "projection": self.projection, "path": self.path}
        return {channel: value for channel, value in given.items() if value is not None}


def purpose(priority: int) -> str:
    """What a slot is for (ARCHITECTURE.md, Priorities), as shown to people reading a steering."""
    if priority <= slot.EMERGENCY_GUIDANCE:
        return "emergency_guidance"
    if priority <= slot.OPERATOR_OVERRIDE:
        return "operator_override"
    if priority <= slot.VISITOR_STEERING:
        return "visitor_steering"
    return "background"


def check_priority(priority: int, ceiling: int) -> None:
    """Refuse a priority outside 1..16, in a warning's slot, or above the caller's ceiling."""
    if not slot.HIGHEST <= priority <= slot.LOWEST:
        raise InvalidRequest.at(("priority",), "must be within 1..16", priority)
    if priority < STEERING_FLOOR:
        raise InvalidRequest.at(
            ("priority",),
            f"slots 1 and 2 belong to warnings (POST /alerts); a steering takes "
            f"{STEERING_FLOOR}..16",
            priority,
        )
    allowed = max(ceiling, STEERING_FLOOR)
    if priority < allowed:
        raise InvalidRequest.at(
            ("priority",),
            f"is above this caller's ceiling: use {allowed}..16 (a smaller number is a higher "
            "priority)",
            priority,
        )


def end_time(now: datetime, ends_at: datetime | None, ends_in_s: int | None) -> datetime:
    """When the steering ends: given as a time or a duration, in the future, within 7 days."""
    if ends_at is not None and ends_in_s is not None:
        raise InvalidRequest.at(("ends_at",), "give ends_at or ends_in_s, not both")
    if ends_at is None and ends_in_s is None:
        raise InvalidRequest.at(("ends_at",), "give an end time (ends_at) or ends_in_s")
    if ends_at is not None:
        if ends_at.tzinfo is None:
            raise InvalidRequest.at(("ends_at",), "must carry a time zone", str(ends_at))
        at, field = ends_at, "ends_at"
    else:
        if (ends_in_s or 0) > MAX_DURATION_S:  # before the sum: 1e15 s overflows a datetime
            raise InvalidRequest.at(("ends_in_s",), "is more than 7 days ahead", ends_in_s)
        at, field = now + timedelta(seconds=ends_in_s or 0), "ends_in_s"
    if at <= now:
        raise InvalidRequest.at((field,), "lies in the past", at.isoformat())
    if at > now + timedelta(seconds=MAX_DURATION_S):
        raise InvalidRequest.at((field,), "is more than 7 days ahead", at.isoformat())
    return at
