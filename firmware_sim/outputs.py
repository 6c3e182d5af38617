"""What a lantern's lights show: factory defaults, the path's motion hold, levels over time. Pure.

A chase (light effect or path mode) is a raised-cosine wave peaking when the wall clock in ms,
minus ``phase_ms``, is a multiple of ``period_ms``: lanterns along a route with rising phases
peak one after the other, so the light runs toward the destination. Every lantern keeps NTP
time, so the waves of neighbours line up without any message between them. A flashing
projection (``ProjectionPayload.flash``) is shown for ``on_ms`` at the start of each period on
the same clock, so neighbouring arrows flash together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lightctl.protocol import Channel, LightPayload, PathPayload, ProjectionPayload

# With every slot empty a lantern is dark: the street light is switched by schedules (slot 15)
# and the footpath light stays off. Projection and audio have no default (nothing shown).
FACTORY_DEFAULTS: Mapping[Channel, Mapping[str, Any]] = {
    "light": {"on": False},
    "path": {"level": 0, "mode": "fixed"},
}
# Motion mode without hold_s: 30 s lights a 40 m stretch for someone walking at 1.3 m/s.
MOTION_HOLD_S = 30
# Chase or blink without period_ms: 2 s, slow enough for a walker to follow the running light.
DEFAULT_PERIOD_MS = 2000


@dataclass(slots=True)
class MotionHold:
    """The footpath's presence sensor: lit until ``until`` after someone passed (motion mode)."""

    until: datetime | None = None
    reported: bool | None = None

    def start(self, payload: PathPayload | None) -> None:
        """What the lantern shows at power-up (no hold yet, so no clock is needed)."""
        self.reported = None if payload is None else payload.level > 0 and payload.mode != "motion"

    def trigger(self, payload: PathPayload | None, now: datetime) -> None:
        if payload is not None and payload.mode == "motion":
            self.until = now + timedelta(seconds=payload.hold_s or MOTION_HOLD_S)

    def lit(self, payload: PathPayload | None, now: datetime) -> bool | None:
        """Whether the footpath light is on now (None: the lantern has no path payload)."""
        if payload is None:
            return None
        if payload.mode == "motion":
            return payload.level > 0 and self.until is not None and now < self.until
        return payload.level > 0

    def settle(self, payload: PathPayload | None, now: datetime) -> bool:
        """Forget a hold that ended or no longer applies; True when ``lit`` changed since the
        last report (the lantern then publishes its state)."""
        if self.until is not None and (
            self.until <= now or payload is None or payload.mode != "motion"
        ):
            self.until = None
        lit = self.lit(payload, now)
        changed = lit != self.reported
        self.reported = lit
        return changed


def _wave(at: datetime, period_ms: int | None, phase_ms: int | None) -> float:
    """Position in the cycle, 0 at the peak, in [0, 1)."""
    period = period_ms or DEFAULT_PERIOD_MS
    now_ms = at.timestamp() * 1000.0
    return ((now_ms - (phase_ms or 0)) % period) / period


def _raised_cosine(x: float) -> float:
    return 0.5 * (1.0 + math.cos(2.0 * math.pi * x))


def light_level(payload: LightPayload, at: datetime) -> float:
    """Brightness in percent the light shows at ``at`` (effects applied, transitions ignored)."""
    if not payload.on:
        return 0.0
    full = float(100 if payload.brightness is None else payload.brightness)
    if payload.effect == "steady":
        return full
    x = _wave(at, payload.period_ms, payload.phase_ms)
    if payload.effect == "blink":
        return full if x < 0.5 else 0.0
    return full * _raised_cosine(x)  # pulse and chase: chase differs only by its phases


def path_level(payload: PathPayload, lit: bool, at: datetime) -> float:
    """Level in percent the footpath light shows at ``at``."""
    if payload.mode == "fixed":
        return float(payload.level)
    if payload.mode == "motion":
        return float(payload.level) if lit else 0.0
    return payload.level * _raised_cosine(_wave(at, payload.period_ms, payload.phase_ms))


def projection_shown(payload: ProjectionPayload, at: datetime) -> bool:
    """Whether the pictogram is on the pavement at ``at``: always when steady; when flashing,
    for ``on_ms`` from the start of each ``period_ms`` of the wall clock (minus ``phase_ms``)."""
    flash = payload.flash
    if flash is None:
        return True
    now_ms = at.timestamp() * 1000.0
    return (now_ms - flash.phase_ms) % flash.period_ms < flash.on_ms
