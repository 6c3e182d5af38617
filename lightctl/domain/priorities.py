"""Slots of the per-channel priority array (BACnet-style, 1 = highest), see ARCHITECTURE.md."""

from __future__ import annotations

LIFE_SAFETY_MANUAL = 1
LIFE_SAFETY_AUTOMATIC = 2
EMERGENCY_GUIDANCE = 3
OPERATOR_OVERRIDE = 8
VISITOR_STEERING = 10
SCHEDULE = 15
LANTERN_DEFAULT = 16

HIGHEST = 1
LOWEST = 16


def outranks(a: int, b: int) -> bool:
    """True when priority ``a`` is higher than ``b`` (a smaller slot number wins)."""
    return a < b
