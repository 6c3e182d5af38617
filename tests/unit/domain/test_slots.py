"""What the service expects in a lantern's slots, replayed from the commands it sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightctl.domain.slots import SentCommand, desired, expected_slots, holder_kind


def _cmd(
    cid: str, seq: int, priority: int, op: str = "set", state: str = "applied", **kw: str
) -> SentCommand:
    return SentCommand(
        cid, kw.get("issuer", "st_1"), kw.get("channel", "light"), op, priority, seq, state
    )


def test_the_highest_slot_held_drives_the_channel() -> None:
    sent = [_cmd("route", 1, 10), _cmd("warn", 2, 1, issuer="al_1"), _cmd("night", 3, 15)]
    assert desired(sent)["light"].command_id == "warn"


def test_a_release_empties_its_slot_only() -> None:
    sent = [
        _cmd("route", 1, 10),
        _cmd("warn", 2, 1, issuer="al_1"),
        _cmd("rel", 3, 1, op="release", state="done", issuer="al_1"),
    ]
    assert desired(sent)["light"].command_id == "route"
    assert set(expected_slots(sent)["light"]) == {10}


def test_replay_follows_sequence_not_arrival_order() -> None:
    sent = [_cmd("rel", 5, 10, op="release", state="published"), _cmd("route", 1, 10)]
    assert desired(sent) == {}


def test_a_set_that_never_reached_its_slot_displaces_nothing() -> None:
    sent = [_cmd("route", 1, 10), _cmd("other", 2, 10, state="rejected", issuer="st_2")]
    assert desired(sent)["light"].command_id == "route"


def test_audio_that_played_to_its_end_leaves_the_slot() -> None:
    sent = [
        _cmd("old", 1, 1, channel="audio", state="done"),
        _cmd("play", 2, 1, channel="audio", state="playing"),
    ]
    assert desired(sent)["audio"].command_id == "play"
    assert desired([sent[0]]) == {}


def test_holders_by_issuer_prefix() -> None:
    assert [holder_kind(i) for i in ("al_x", "st_x", "sc_x", "zz", None)] == [
        "alert",
        "steering",
        "schedule",
        None,
        None,
    ]


def test_a_release_naming_its_command_leaves_a_slot_someone_else_took() -> None:
    first = _cmd("green", 1, 10, state="interrupted")
    second = _cmd("blue", 2, 10, issuer="st_2")
    release = SentCommand("rel", "st_1", "light", "release", 10, 3, "done", releases="green")
    assert desired([first, second, release])["light"].command_id == "blue"
    own = SentCommand("rel2", "st_2", "light", "release", 10, 4, "done", releases="blue")
    assert desired([first, second, release, own]) == {}


def test_a_command_sent_ahead_holds_its_slot_only_from_its_start() -> None:
    now = datetime(2025, 12, 18, 21, 30, tzinfo=UTC)
    start = now + timedelta(minutes=30)
    current = _cmd("step1", 1, 15, issuer="sc_city")
    ahead = SentCommand("step2", "sc_city", "light", "set", 15, 2, "received", starts_at=start)
    assert desired([current, ahead], now)["light"].command_id == "step1"
    assert desired([current, ahead], start)["light"].command_id == "step2"
    # Applied at its start: a command that arrived in between (higher seq) but before that
    # start is replaced by it, as on the lantern.
    between = _cmd("override", 3, 15, issuer="st_op")
    assert desired([current, ahead, between], now)["light"].command_id == "override"
    assert desired([current, ahead, between], start)["light"].command_id == "step2"
