"""An update carries over what a lantern already shows: the same held command is not sent
again, anything that differs (payload, slot, expiry, role) or did not arrive is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lightctl.domain.records import Command
from lightctl.protocol import LightPayload, ProjectionPayload
from lightctl.services.alerts import commands as build
from lightctl.services.alerts.carryover import carry_over, sight

T0 = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
ENDS = T0 + timedelta(minutes=10)
ARROW_NORTH = ProjectionPayload(pictogram="arrow", heading_deg=0.0, color="#FF6A00")
ARROW_EAST = ProjectionPayload(pictogram="arrow", heading_deg=90.0, color="#FF6A00")


def _row(payload: Any, *, at: datetime = T0, seq: int = 1, **extra: Any) -> Command:
    fields: dict[str, Any] = {
        "alert_id": "al_1",
        "role": "dispatcher",
        "channel": "projection" if isinstance(payload, ProjectionPayload) else "light",
        "priority": 1,
        "issued_at": at,
        "expires_at": ENDS,
        "exercise": False,
        "payload": payload,
        "seq": seq,
    }
    fields.update(extra)
    return build.stored(build.envelope(**fields))


def test_a_lantern_holding_the_same_arrow_keeps_it_and_only_the_turned_ones_are_sent() -> None:
    north_before = _row(ARROW_NORTH)
    later = T0 + timedelta(seconds=40)
    north_now = _row(ARROW_NORTH, at=later, seq=2)
    east_now = _row(ARROW_EAST, at=later, seq=3)
    assert sight(north_before) == sight(north_now)  # another id, seq and time: the same sight
    holding = {north_before.id: {"A", "B", "C"}}
    carried = carry_over([north_before], [(north_now, ["A", "B", "D"]), (east_now, ["C"])], holding)
    # A and B hold north already; D is new to it; C turns east.
    assert carried.kept == {north_before.id: {"A", "B"}}
    assert carried.commands == [(north_now, ["D"]), (east_now, ["C"])]
    assert carried.kept_count == 2


def test_what_differs_or_did_not_arrive_is_sent_again() -> None:
    before = _row(ARROW_NORTH)
    holding = {before.id: {"A"}}
    differs = [
        _row(ARROW_NORTH, seq=2, priority=2),
        _row(ARROW_NORTH, seq=2, expires_at=ENDS + timedelta(minutes=5)),
        _row(ARROW_NORTH, seq=2, role="feed"),
        _row(ARROW_NORTH, seq=2, exercise=True),
        _row(ProjectionPayload(pictogram="arrow", heading_deg=0.0, color="#FF0000"), seq=2),
    ]
    for row in differs:
        carried = carry_over([before], [(row, ["A"])], holding)
        assert carried.kept == {}, row.envelope
        assert carried.commands == [(row, ["A"])]
    # A delivery that ended badly (rejected, failed, expired) is no longer held: sent again.
    again = _row(ARROW_NORTH, seq=2)
    assert carry_over([before], [(again, ["A"])], {before.id: set()}).commands == [(again, ["A"])]


def test_audio_is_never_carried_over_and_light_is() -> None:
    light_before = _row(LightPayload(on=True, color="#FF6A00", effect="blink", period_ms=2000))
    light_now = _row(LightPayload(on=True, color="#FF6A00", effect="blink", period_ms=2000), seq=2)
    carried = carry_over([light_before], [(light_now, ["A"])], {light_before.id: {"A"}})
    assert carried.kept == {light_before.id: {"A"}}
    assert carried.commands == []
    audio = Command(
        id="cmd_a",
        alert_id="al_1",
        channel="audio",
        op="set",
        priority=1,
        seq=4,
        issued_at=T0,
        expires_at=ENDS,
        envelope='{"channel":"audio","op":"set"}',
    )
    assert sight(audio) is None
    same_audio = replace(audio, id="cmd_b")
    assert carry_over([audio], [(same_audio, ["A"])], {"cmd_a": {"A"}}).commands == [
        (same_audio, ["A"])
    ]
