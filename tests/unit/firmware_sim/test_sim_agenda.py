"""Releases that name their command, and commands sent ahead (``starts_at``), on the lantern
state machine with a fake clock: a schedule's later steps switch with no service message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from firmware_sim.agenda import PENDING_CAP
from firmware_sim.lantern import Effect, Lantern, PublishState, SendAck, StartAudio
from lightctl.protocol import (
    AckStatus,
    AudioPayload,
    CommandEnvelope,
    LightPayload,
    ReleasePayload,
    ToneItem,
)

T0 = datetime(2025, 12, 18, 21, 59, 50, tzinfo=UTC)  # 22:59:50 in Zürich
STEP_1 = LightPayload(on=True, brightness=100, cct_k=3000)
STEP_2 = LightPayload(on=True, brightness=50, cct_k=3000)
GREEN = LightPayload(on=True, color="#00C853")
BLUE = LightPayload(on=True, color="#2962FF")


def cmd(
    cmd_id: str,
    *,
    priority: int = 15,
    payload: Any = STEP_1,
    issued: datetime = T0,
    starts: datetime | None = None,
    expires: datetime | None = None,
    channel: str = "light",
    releases: str | None = None,
) -> bytes:
    op = "release" if isinstance(payload, ReleasePayload) or releases else "set"
    if op == "release":
        payload = ReleasePayload(cmd_id=releases)
    return CommandEnvelope(
        id=cmd_id,
        channel=channel,
        op=op,
        priority=priority,
        issued_at=issued,
        starts_at=starts,
        expires_at=expires or issued + timedelta(hours=1),
        payload=payload,
        seq=1,
    ).to_bytes()


def acks(effects: list[Effect]) -> list[tuple[str, str, str | None]]:
    return [(e.cmd_id, e.status.value, e.reason) for e in effects if isinstance(e, SendAck)]


def light(lantern: Lantern, now: datetime) -> tuple[int | None, str | None, Any]:
    shown = lantern.state(now).channels["light"]
    return shown.priority, shown.cmd_id, shown.value


# ---- releases that name their command ----------------------------------------------------------


def test_a_named_release_leaves_a_slot_someone_else_took_since() -> None:
    lantern = Lantern("L1")
    lantern.handle(cmd("green", priority=10, payload=GREEN), T0)
    taken = lantern.handle(cmd("blue", priority=10, payload=BLUE), T0)
    assert acks(taken) == [("green", "interrupted", "replaced"), ("blue", "applied", None)]

    late = lantern.handle(cmd("rel-green", priority=10, releases="green"), T0)
    assert acks(late) == [("rel-green", "done", "not_holder")]
    assert PublishState() not in late  # nothing visible changed
    assert light(lantern, T0)[:2] == (10, "blue")

    own = lantern.handle(cmd("rel-blue", priority=10, releases="blue"), T0)
    assert acks(own) == [("blue", "done", "released"), ("rel-blue", "done", None)]
    assert light(lantern, T0)[:2] == (16, None)
    empty = lantern.handle(cmd("rel-again", priority=10, releases="blue"), T0)
    assert acks(empty) == [("rel-again", "done", "slot_empty")]


def test_a_release_without_a_name_still_empties_the_slot_whatever_it_holds() -> None:
    lantern = Lantern("L1")
    lantern.handle(cmd("green", priority=10, payload=GREEN), T0)
    lantern.handle(cmd("blue", priority=10, payload=BLUE), T0)
    effects = lantern.handle(cmd("rel", priority=10, payload=ReleasePayload()), T0)
    assert acks(effects) == [("blue", "done", "released"), ("rel", "done", None)]
    assert lantern.slot("light", 10) is None


def test_a_named_release_of_audio_stops_only_its_own_program() -> None:
    program = AudioPayload(program=[ToneItem(signal="warning", duration_s=5)])
    lantern = Lantern("L1")
    lantern.handle(cmd("a", priority=1, payload=program, channel="audio"), T0)
    lantern.handle(cmd("b", priority=1, payload=program, channel="audio"), T0)
    assert lantern.playing == "b"
    kept = lantern.handle(cmd("rel-a", priority=1, releases="a", channel="audio"), T0)
    assert acks(kept) == [("rel-a", "done", "not_holder")]
    assert lantern.playing == "b"


# ---- commands sent ahead -----------------------------------------------------------------------


def test_a_step_sent_ahead_switches_on_the_lanterns_own_clock_then_the_default_returns() -> None:
    step_at = T0 + timedelta(seconds=10)
    off_at = step_at + timedelta(minutes=1)
    lantern = Lantern("L1")
    now_ = lantern.handle(cmd("step1", expires=step_at), T0)
    ahead = lantern.handle(cmd("step2", payload=STEP_2, starts=step_at, expires=off_at), T0)
    assert acks(now_) == [("step1", "applied", None)]
    assert acks(ahead) == [("step2", "received", "pending")]
    assert PublishState() not in ahead  # nothing visible changes before its start
    assert light(lantern, T0)[:2] == (15, "step1")
    assert lantern.next_deadline() == step_at

    # Duplicates (a retry of the service) get the pending ack again and change nothing.
    again = lantern.handle(cmd("step2", payload=STEP_2, starts=step_at, expires=off_at), T0)
    assert again == [SendAck("step2", AckStatus.RECEIVED, "pending")]
    assert lantern.tick(step_at - timedelta(milliseconds=1)) == []

    # From here on no message arrives: only the lantern's clock moves.
    handover = lantern.tick(step_at)
    assert acks(handover) == [("step1", "done", "expired"), ("step2", "applied", None)]
    assert handover.count(PublishState()) == 1  # one change, no dark moment in between
    assert light(lantern, step_at) == (
        15,
        "step2",
        STEP_2.model_dump(mode="json", exclude_none=True),
    )
    assert lantern.next_deadline() == off_at

    end = lantern.tick(off_at)
    assert acks(end) == [("step2", "done", "expired")]
    assert light(lantern, off_at) == (16, None, {"on": False})
    assert lantern.next_deadline() is None


def test_a_step_held_behind_a_warning_is_stored_but_not_shown() -> None:
    step_at = T0 + timedelta(seconds=10)
    lantern = Lantern("L1")
    lantern.handle(cmd("warn", priority=1, payload=GREEN), T0)
    lantern.handle(cmd("step2", payload=STEP_2, starts=step_at), T0)
    effects = lantern.tick(step_at)
    assert acks(effects) == [("step2", "applied", "held_by_higher_priority")]
    assert light(lantern, step_at)[:2] == (1, "warn")
    assert lantern.slot("light", 15) == "step2"


def test_a_release_naming_a_held_command_drops_it_before_its_start() -> None:
    step_at = T0 + timedelta(seconds=10)
    lantern = Lantern("L1")
    lantern.handle(cmd("step1", expires=step_at + timedelta(minutes=5)), T0)
    lantern.handle(cmd("step2", payload=STEP_2, starts=step_at), T0)
    wrong_slot = lantern.handle(cmd("rel-x", priority=10, releases="step2"), T0)
    assert acks(wrong_slot) == [("rel-x", "done", "slot_empty")]  # names slot 10: not there

    dropped = lantern.handle(cmd("rel", releases="step2"), T0)
    assert acks(dropped) == [("step2", "done", "released"), ("rel", "done", None)]
    assert lantern.next_deadline() == step_at + timedelta(minutes=5)  # only step1's expiry
    assert acks(lantern.tick(step_at)) == []
    assert light(lantern, step_at)[:2] == (15, "step1")


def test_a_release_without_a_name_leaves_commands_sent_ahead_waiting() -> None:
    step_at = T0 + timedelta(seconds=10)
    lantern = Lantern("L1")
    lantern.handle(cmd("step1"), T0)
    lantern.handle(cmd("step2", payload=STEP_2, starts=step_at), T0)
    assert acks(lantern.handle(cmd("rel", payload=ReleasePayload()), T0)) == [
        ("step1", "done", "released"),
        ("rel", "done", None),
    ]
    assert acks(lantern.tick(step_at)) == [("step2", "applied", None)]


def test_audio_sent_ahead_starts_playing_at_its_start_without_a_second_received() -> None:
    step_at = T0 + timedelta(seconds=10)
    program = AudioPayload(program=[ToneItem(signal="attention", duration_s=3)])
    lantern = Lantern("L1")
    held = lantern.handle(
        cmd("gong", priority=8, payload=program, channel="audio", starts=step_at), T0
    )
    assert acks(held) == [("gong", "received", "pending")]
    assert lantern.playing is None
    effects = lantern.tick(step_at)
    assert [e.cmd.id for e in effects if isinstance(e, StartAudio)] == ["gong"]
    assert acks(effects) == []
    assert lantern.playing == "gong"


def test_held_commands_are_bounded_and_a_late_tick_expires_what_it_missed() -> None:
    lantern = Lantern("L1")
    starts = T0 + timedelta(minutes=10)
    for n in range(PENDING_CAP):
        lantern.handle(cmd(f"s{n}", starts=starts, expires=starts + timedelta(seconds=1)), T0)
    refused = lantern.handle(cmd("one-more", starts=starts), T0)
    assert acks(refused) == [("one-more", "rejected", "too_many_pending")]
    # The lantern was busy past their whole life (a clock jump): none is shown, each is closed.
    late = lantern.tick(starts + timedelta(seconds=5))
    assert {a[1] for a in acks(late)} == {"expired"}
    assert len(acks(late)) == PENDING_CAP
    assert light(lantern, starts)[:2] == (16, None)
