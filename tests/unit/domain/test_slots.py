"""What the service expects in a lantern's slots, replayed from the commands it sent."""

from __future__ import annotations

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
