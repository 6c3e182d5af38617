"""What a simulated lantern's lights show: defaults at slot 16, path modes, effects over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firmware_sim.lantern import Effect, Lantern, PublishState
from firmware_sim.outputs import MOTION_HOLD_S, light_level, path_level
from lightctl.protocol import CommandEnvelope, LightPayload, PathPayload

T0 = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)


def _set(
    lantern: Lantern, cmd_id: str, channel: str, payload: Any, priority: int = 10
) -> list[Effect]:
    env = CommandEnvelope(
        id=cmd_id,
        channel=channel,
        op="set",
        priority=priority,
        issued_at=T0,
        expires_at=T0 + timedelta(hours=1),
        payload=payload,
        seq=1,
    )
    return lantern.handle(env.to_bytes(), T0)


def test_with_every_slot_empty_the_default_drives_light_and_path_at_slot_16() -> None:
    state = Lantern("L1").state(T0)
    assert (state.channels["light"].priority, state.channels["light"].value) == (
        16,
        {"on": False},
    )
    path = state.channels["path"]
    assert (path.priority, path.cmd_id, path.lit) == (16, None, False)
    # Nothing is projected and nothing plays by default: no slot drives those channels.
    assert state.channels["projection"].priority is None
    assert state.channels["audio"].priority is None


def test_motion_mode_lights_the_path_when_someone_passes_and_holds_it() -> None:
    lantern = Lantern("L1")
    _set(lantern, "p1", "path", PathPayload(level=60, mode="motion", hold_s=20))
    assert lantern.state(T0).channels["path"].lit is False
    effects = lantern.motion(T0 + timedelta(seconds=5))
    assert PublishState() in effects
    assert lantern.state(T0 + timedelta(seconds=6)).channels["path"].lit is True
    assert lantern.next_deadline() == T0 + timedelta(seconds=25)
    again = lantern.motion(T0 + timedelta(seconds=15))  # a second walker extends the hold
    assert PublishState() not in again
    assert lantern.next_deadline() == T0 + timedelta(seconds=35)
    assert lantern.tick(T0 + timedelta(seconds=30)) == []
    assert PublishState() in lantern.tick(T0 + timedelta(seconds=35))
    assert lantern.state(T0 + timedelta(seconds=35)).channels["path"].lit is False
    assert lantern.next_deadline() == T0 + timedelta(hours=1)  # only the command's expiry left


def test_motion_without_hold_uses_the_default_hold_and_fixed_mode_ignores_motion() -> None:
    lantern = Lantern("L1")
    _set(lantern, "p1", "path", PathPayload(level=60, mode="motion"))
    lantern.motion(T0)
    assert lantern.next_deadline() == T0 + timedelta(seconds=MOTION_HOLD_S)
    _set(lantern, "p2", "path", PathPayload(level=40, mode="fixed"))
    assert lantern.state(T0).channels["path"].lit is True
    assert lantern.motion(T0) == []  # nothing changes: a fixed path is lit anyway


def test_a_lantern_without_path_light_ignores_motion() -> None:
    lantern = Lantern("L1", frozenset({"rgb"}))
    assert lantern.motion(T0) == []


def test_path_levels_per_mode() -> None:
    assert path_level(PathPayload(level=70), lit=False, at=T0) == 70
    assert path_level(PathPayload(level=70, mode="motion"), lit=False, at=T0) == 0
    assert path_level(PathPayload(level=70, mode="motion"), lit=True, at=T0) == 70
    chase = PathPayload(level=80, mode="chase", period_ms=2000, phase_ms=500)
    peak = datetime.fromtimestamp(1_700_000_000.5, UTC)  # whole periods + 500 ms
    assert path_level(chase, True, peak) == pytest.approx(80)
    assert path_level(chase, True, peak + timedelta(milliseconds=1000)) == pytest.approx(0)


def test_a_chase_runs_toward_larger_phases() -> None:
    """The lantern further along (larger phase) peaks later: the light runs toward it."""
    near = PathPayload(level=100, mode="chase", period_ms=4000, phase_ms=0)
    far = near.model_copy(update={"phase_ms": 400})
    start = datetime.fromtimestamp(1_700_000_000, UTC)
    times = [start + timedelta(milliseconds=m) for m in range(0, 1000, 10)]
    peak_near = max(times, key=lambda t: path_level(near, True, t))
    peak_far = max(times, key=lambda t: path_level(far, True, t))
    assert (peak_far - peak_near) == timedelta(milliseconds=400)


@pytest.mark.parametrize(
    ("payload", "offset_ms", "level"),
    [
        (LightPayload(on=False, brightness=80), 0, 0),
        (LightPayload(on=True), 0, 100),
        (LightPayload(on=True, brightness=40), 0, 40),
        (LightPayload(on=True, brightness=40, effect="blink", period_ms=1000), 200, 40),
        (LightPayload(on=True, brightness=40, effect="blink", period_ms=1000), 700, 0),
        (LightPayload(on=True, brightness=40, effect="pulse", period_ms=1000), 500, 0),
        (LightPayload(on=True, effect="chase", period_ms=1000, phase_ms=250), 250, 100),
    ],
)
def test_light_effects(payload: LightPayload, offset_ms: int, level: float) -> None:
    at = datetime.fromtimestamp(1_700_000_000, UTC) + timedelta(milliseconds=offset_ms)
    assert light_level(payload, at) == pytest.approx(level, abs=1e-6)
