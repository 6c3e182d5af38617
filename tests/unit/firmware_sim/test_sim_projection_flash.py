"""Flashing projections (issue 18) on a simulated lantern: it reports the flash it shows and
that it understands flashing; firmware from before refuses it and still shows steady arrows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firmware_sim.lantern import Effect, Lantern, SendAck
from firmware_sim.outputs import projection_shown
from lightctl.protocol import (
    FEATURE_PROJECTION_FLASH,
    AckStatus,
    CommandEnvelope,
    ProjectionFlash,
    ProjectionPayload,
)

# A whole second on the wall clock, so the flash cycles start exactly here.
T0 = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)
FLASH = ProjectionFlash(period_ms=1000, on_ms=700)


def _project(lantern: Lantern, cmd_id: str, payload: ProjectionPayload) -> list[Effect]:
    env = CommandEnvelope(
        id=cmd_id,
        channel="projection",
        op="set",
        priority=1,
        issued_at=T0,
        expires_at=T0 + timedelta(minutes=10),
        payload=payload,
        seq=1,
    )
    return lantern.handle(env.to_bytes(), T0)


def _acks(effects: list[Effect]) -> list[tuple[str, AckStatus, str | None]]:
    return [(e.cmd_id, e.status, e.reason) for e in effects if isinstance(e, SendAck)]


def test_a_flashing_arrow_is_applied_and_reported_with_its_flash() -> None:
    lantern = Lantern("L1")
    assert lantern.state(T0).features == [FEATURE_PROJECTION_FLASH]
    arrow = ProjectionPayload(pictogram="arrow", heading_deg=35, flash=FLASH)
    assert _acks(_project(lantern, "c1", arrow)) == [("c1", AckStatus.APPLIED, None)]
    shown = lantern.state(T0).channels["projection"]
    assert shown.priority == 1
    assert shown.value == {
        "pictogram": "arrow",
        "heading_deg": 35.0,
        "flash": {"period_ms": 1000, "on_ms": 700, "phase_ms": 0},
    }


def test_the_arrow_is_on_the_pavement_for_the_first_700_ms_of_every_second() -> None:
    arrow = ProjectionPayload(pictogram="arrow", heading_deg=35, flash=FLASH)
    at = [T0 + timedelta(milliseconds=ms) for ms in (0, 350, 699, 700, 999, 1000, 2650, 2750)]
    assert [projection_shown(arrow, t) for t in at] == [
        True,
        True,
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    # A steady pictogram is always shown.
    steady = ProjectionPayload(pictogram="arrow", heading_deg=35)
    assert all(projection_shown(steady, t) for t in at)
    # A phase shifts the cycle on the same clock.
    late = ProjectionPayload(
        pictogram="arrow", flash=ProjectionFlash(period_ms=1000, on_ms=700, phase_ms=500)
    )
    assert [projection_shown(late, T0 + timedelta(milliseconds=ms)) for ms in (0, 300, 500)] == [
        True,
        False,
        True,
    ]


def test_firmware_before_flashing_refuses_a_flash_and_still_shows_a_steady_arrow() -> None:
    old = Lantern("L2", projection_flash=False)
    assert old.state(T0).features is None  # so the service sends it no flash
    flashing = ProjectionPayload(pictogram="arrow", heading_deg=35, flash=FLASH)
    assert _acks(_project(old, "c1", flashing)) == [("c1", AckStatus.REJECTED, "invalid_envelope")]
    assert old.state(T0).channels["projection"].value is None
    steady = ProjectionPayload(pictogram="arrow", heading_deg=35)
    assert _acks(_project(old, "c2", steady)) == [("c2", AckStatus.APPLIED, None)]
    assert old.state(T0).channels["projection"].value == {"pictogram": "arrow", "heading_deg": 35.0}
