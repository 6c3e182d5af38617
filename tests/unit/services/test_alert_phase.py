"""The phase of a warning on the street, from its commands' delivery counts (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightctl.domain.records import Alert
from lightctl.services.alerts.phase import street_state
from lightctl.services.alerts.reports import AlertReport, CommandReport

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)


def _report(status: str, primary: dict[str, int], *commands: CommandReport) -> AlertReport:
    alert = Alert(
        id="al_1",
        created_at=NOW - timedelta(minutes=1),
        updated_at=NOW - timedelta(minutes=1),
        status=status,
        priority=1,
        exercise=False,
        signal="warning",
        template=None,
        target={},
        messages={},
        languages=(),
        clips=[],
        params={},
        repeat=1,
        volume=80,
        expires_at=LATER,
        lantern_count=10,
        severity="severe",
        primary_command_id="audio",
    )
    audio = CommandReport("audio", "audio", "set", LATER, primary)
    return AlertReport(alert, primary, [audio, *commands], NOW)


def _cmd(channel: str, op: str, counts: dict[str, int], expires: datetime = LATER) -> CommandReport:
    return CommandReport(f"{channel}-{op}", channel, op, expires, counts)


def test_sending_playing_then_holding() -> None:
    light = _cmd("light", "set", {"applied": 10})
    assert street_state(_report("active", {"published": 10}, light)).phase == "sending"
    assert street_state(_report("active", {"playing": 3, "received": 7}, light)).phase == "playing"
    held = street_state(_report("active", {"done": 10}, light))
    assert (held.phase, held.until, held.running) == ("holding", LATER, True)
    assert held.holding == ("audio", "light")


def test_an_expired_warning_has_ended() -> None:
    past = NOW - timedelta(seconds=1)
    light = _cmd("light", "set", {"applied": 10}, past)
    report = _report("active", {"done": 10}, light)
    report = AlertReport(
        report.alert, report.counts, [_cmd("audio", "set", {"done": 10}, past), light], NOW
    )
    assert street_state(report).phase == "ended"


def test_cancelled_is_ending_until_every_release_is_confirmed() -> None:
    sets = _cmd("light", "set", {"cancelled": 10})
    pending = _cmd("light", "release", {"applied": 6, "published": 4})
    state = street_state(_report("cancelled", {"cancelled": 10}, sets, pending))
    assert state.phase == "ending"
    assert state.releases == {"applied": 6, "published": 4}
    done = _cmd("light", "release", {"applied": 10})
    assert street_state(_report("cancelled", {"cancelled": 10}, sets, done)).phase == "ended"


def test_a_release_never_confirmed_ends_when_the_lantern_lets_go_itself() -> None:
    sets = _cmd("light", "set", {"cancelled": 10})
    lost = _cmd("light", "release", {"applied": 9, "unreachable": 1})
    state = street_state(_report("cancelled", {"cancelled": 10}, sets, lost))
    assert (state.phase, state.until) == ("ending", LATER)


def test_all_clear_is_ending_while_its_message_plays() -> None:
    releases = _cmd("light", "release", {"applied": 10})
    playing = street_state(_report("all_clear", {"playing": 10}, releases))
    assert playing.phase == "ending"
    assert street_state(_report("all_clear", {"done": 10}, releases)).phase == "ended"


def test_held_for_approval() -> None:
    assert street_state(_report("awaiting_approval", {"held": 10})).phase == "held"
