"""The lantern state machine, exact with a fake clock: bytes and time in, effects out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.lantern import (
    SEEN_CAP,
    Dropped,
    Effect,
    Lantern,
    PublishState,
    SendAck,
    StartAudio,
    StopAudio,
)
from lightctl.protocol import (
    AckStatus,
    AudioPayload,
    CommandEnvelope,
    EmptyPayload,
    LightPayload,
    PathPayload,
    ProjectionPayload,
    SpeechItem,
    ToneItem,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLIP_A = "a" * 64
CLIP_B = "b" * 64
PROGRAM = AudioPayload(
    program=[
        ToneItem(signal="warning", duration_s=2),
        SpeechItem(lang="de", url="http://clips/a.mp3", sha256=CLIP_A, duration_s=3),
        SpeechItem(lang="en", url="http://clips/b.mp3", sha256=CLIP_B, duration_s=3),
    ]
)
PAYLOADS: dict[str, Any] = {
    "audio": PROGRAM,
    "light": LightPayload(on=True, color="#FF0000", effect="blink", period_ms=500),
    "projection": ProjectionPayload(pictogram="arrow", heading_deg=90),
    "path": PathPayload(level=80),
}


def envelope(
    cmd_id: str,
    channel: str = "light",
    *,
    priority: int = 8,
    op: str = "set",
    ttl_s: float = 600,
    issued: datetime = T0,
    payload: Any = None,
) -> CommandEnvelope:
    if payload is None:
        payload = EmptyPayload() if op == "release" else PAYLOADS[channel]
    return CommandEnvelope(
        id=cmd_id,
        channel=channel,
        op=op,
        priority=priority,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=ttl_s),
        payload=payload,
        seq=1,
    )


def raw(cmd_id: str, channel: str = "light", **kw: Any) -> bytes:
    return envelope(cmd_id, channel, **kw).to_bytes()


def acks(effects: list[Effect]) -> list[tuple[str, str, str | None]]:
    return [(e.cmd_id, e.status.value, e.reason) for e in effects if isinstance(e, SendAck)]


def started(effects: list[Effect]) -> list[str]:
    return [e.cmd.id for e in effects if isinstance(e, StartAudio)]


def stopped(effects: list[Effect]) -> list[tuple[str, str]]:
    return [(e.cmd_id, e.status.value) for e in effects if isinstance(e, StopAudio)]


# ---- arrival checks ----------------------------------------------------------------------------


def test_expired_envelope_is_acked_expired_and_not_played() -> None:
    lantern = Lantern("L1")
    effects = lantern.handle(raw("c1", "audio", ttl_s=30), T0 + timedelta(seconds=30))
    assert effects == [SendAck("c1", AckStatus.EXPIRED)]
    assert lantern.playing is None


def test_duplicate_id_is_not_played_again_but_gets_the_last_ack() -> None:
    lantern = Lantern("L1")
    first = lantern.handle(raw("c1", "audio"), T0)
    assert started(first) == ["c1"]
    lantern.audio_started("c1", T0 + timedelta(seconds=1))
    again = lantern.handle(raw("c1", "audio"), T0 + timedelta(seconds=2))
    assert again == [SendAck("c1", AckStatus.PLAYING)]
    done = lantern.audio_finished("c1", T0 + timedelta(seconds=9), [CLIP_A, CLIP_B])
    assert acks(done) == [("c1", "done", None)]
    late = lantern.handle(raw("c1", "audio"), T0 + timedelta(seconds=10))
    assert late == [SendAck("c1", AckStatus.DONE, None, (CLIP_A, CLIP_B))]
    assert lantern.playing is None


@pytest.mark.parametrize(
    ("channel", "missing"),
    [("audio", "speaker"), ("light", "rgb"), ("projection", "projector"), ("path", "path_light")],
)
def test_channel_without_hardware_is_rejected_unsupported(channel: str, missing: str) -> None:
    caps = frozenset({"speaker", "rgb", "projector", "path_light"} - {missing})
    lantern = Lantern("L1", caps)  # type: ignore[arg-type]
    assert acks(lantern.handle(raw("c1", channel), T0)) == [("c1", "rejected", "unsupported")]
    assert channel not in lantern.state(T0).channels


def test_unparsable_payload_is_dropped_and_counted() -> None:
    lantern = Lantern("L1")
    effects = lantern.handle(b"\xff not json", T0)
    assert len(effects) == 1
    assert isinstance(effects[0], Dropped)
    assert lantern.dropped == 1


def test_invalid_envelope_with_an_id_is_rejected_so_the_sender_learns_it() -> None:
    body = json.loads(raw("c1"))
    body["priority"] = 0
    effects = Lantern("L1").handle(json.dumps(body).encode(), T0)
    assert acks(effects) == [("c1", "rejected", "invalid_envelope")]


class RefuseForged:
    def verify(self, cmd: CommandEnvelope) -> str | None:
        return "bad_signature" if cmd.sig == "forged" else None


def test_verifier_refusal_rejects_without_burning_the_command_id() -> None:
    lantern = Lantern("L1", verifier=RefuseForged())
    forged = envelope("c1").model_copy(update={"sig": "forged", "aud": "lanterns/L1"}).to_bytes()
    assert acks(lantern.handle(forged, T0)) == [("c1", "rejected", "bad_signature")]
    assert acks(lantern.handle(raw("c1"), T0)) == [("c1", "applied", None)]


def test_remembered_ids_stay_bounded_and_the_latest_is_still_deduplicated() -> None:
    lantern = Lantern("L1")
    total = 3 * SEEN_CAP
    for n in range(total):
        first = lantern.handle(raw(f"c{n}", priority=1 + n % 16), T0)
    assert len(lantern._seen) <= SEEN_CAP
    assert lantern.handle(raw(f"c{total - 1}", priority=16), T0) == [first[-1]]


def test_expired_ids_are_forgotten_first_and_a_late_replay_is_refused_as_expired() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("old", ttl_s=10), T0)
    later = T0 + timedelta(seconds=20)
    for n in range(SEEN_CAP):
        lantern.handle(raw(f"c{n}", ttl_s=600, issued=later), later)
    assert "old" not in lantern._seen
    assert acks(lantern.handle(raw("old", ttl_s=10), later)) == [("old", "expired", None)]


# ---- audio queue -------------------------------------------------------------------------------


def test_higher_priority_interrupts_playing_audio() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("low", "audio", priority=10), T0)
    lantern.audio_started("low", T0)
    effects = lantern.handle(raw("high", "audio", priority=1), T0 + timedelta(seconds=1))
    assert stopped(effects) == [("low", "interrupted")]
    assert acks(effects) == [("high", "received", None), ("low", "interrupted", "preempted")]
    assert started(effects) == ["high"]
    assert lantern.slot("audio", 10) is None  # interrupted is final: it does not resume later
    assert lantern.audio_finished("low", T0 + timedelta(seconds=2), []) == []  # stale report


def test_equal_priority_replaces_playing_audio() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("old", "audio", priority=1), T0)
    effects = lantern.handle(raw("new", "audio", priority=1), T0 + timedelta(seconds=1))
    assert stopped(effects) == [("old", "interrupted")]
    assert ("old", "interrupted", "replaced") in acks(effects)
    assert started(effects) == ["new"]


def test_lower_priority_waits_and_plays_when_the_higher_ends() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("high", "audio", priority=1), T0)
    waiting = lantern.handle(raw("low", "audio", priority=10), T0 + timedelta(seconds=1))
    assert acks(waiting) == [("low", "received", "queued")]
    assert started(waiting) == []
    assert stopped(waiting) == []
    ended = lantern.audio_finished("high", T0 + timedelta(seconds=9), [CLIP_A, CLIP_B])
    assert acks(ended) == [("high", "done", None)]
    assert started(ended) == ["low"]
    assert lantern.playing == "low"


def test_waiting_audio_that_expired_meanwhile_is_not_played() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("high", "audio", priority=1), T0)
    lantern.handle(raw("low", "audio", priority=10, ttl_s=5), T0)
    ended = lantern.audio_finished("high", T0 + timedelta(seconds=9), [])
    assert acks(ended) == [("high", "done", None), ("low", "expired", None)]
    assert started(ended) == []
    assert lantern.playing is None


def test_playing_audio_expires_on_tick_and_the_next_starts() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("high", "audio", priority=1, ttl_s=5), T0)
    lantern.handle(raw("low", "audio", priority=10), T0)
    assert lantern.tick(T0 + timedelta(seconds=4)) == []
    assert lantern.next_deadline() == T0 + timedelta(seconds=5)
    effects = lantern.tick(T0 + timedelta(seconds=5))
    assert stopped(effects) == [("high", "expired")]
    assert acks(effects) == [("high", "expired", None)]
    assert started(effects) == ["low"]


def test_clip_failure_is_acked_failed_and_frees_the_speaker() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("c1", "audio"), T0)
    effects = lantern.audio_failed("c1", T0, "bad_clip_hash")
    assert acks(effects) == [("c1", "failed", "bad_clip_hash")]
    assert lantern.playing is None
    assert lantern.state(T0).channels["audio"].cmd_id is None


def test_release_stops_playing_audio_and_acks_both() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("c1", "audio", priority=3), T0)
    effects = lantern.handle(raw("r1", "audio", op="release", priority=3), T0)
    assert stopped(effects) == [("c1", "interrupted")]
    assert acks(effects) == [("c1", "interrupted", "released"), ("r1", "done", None)]


# ---- light, projection, path -------------------------------------------------------------------


def test_light_priority_array_drives_the_effective_state() -> None:
    lantern = Lantern("L1")
    assert acks(lantern.handle(raw("steer", priority=10), T0)) == [("steer", "applied", None)]
    warn = lantern.handle(raw("warn", priority=1), T0)
    assert acks(warn) == [("warn", "applied", None)]
    assert PublishState() in warn
    shadowed = lantern.handle(raw("op", priority=8), T0)
    assert acks(shadowed) == [("op", "applied", "held_by_higher_priority")]
    assert PublishState() not in shadowed  # the effective value did not change
    light = lantern.state(T0).channels["light"]
    assert (light.priority, light.cmd_id) == (1, "warn")
    assert light.value == PAYLOADS["light"].model_dump(mode="json", exclude_none=True)

    released = lantern.handle(raw("rel", op="release", priority=1), T0)
    assert acks(released) == [("warn", "done", "released"), ("rel", "done", None)]
    light = lantern.state(T0).channels["light"]
    assert (light.priority, light.cmd_id) == (8, "op")


def test_release_of_an_empty_slot_is_done_and_changes_nothing() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("steer", priority=10), T0)
    effects = lantern.handle(raw("rel", op="release", priority=1), T0)
    assert effects == [SendAck("rel", AckStatus.DONE, "slot_empty")]
    assert lantern.slot("light", 10) == "steer"


def test_light_slot_expires_itself_and_falls_back_to_the_default() -> None:
    lantern = Lantern("L1", defaults={"light": {"on": True, "brightness": 30}})
    lantern.handle(raw("warn", priority=1, ttl_s=60), T0)
    effects = lantern.tick(T0 + timedelta(seconds=60))
    assert acks(effects) == [("warn", "done", "expired")]
    assert PublishState() in effects
    light = lantern.state(T0).channels["light"]
    assert (light.priority, light.cmd_id, light.value) == (16, None, {"on": True, "brightness": 30})


def test_same_slot_written_again_closes_the_previous_command() -> None:
    lantern = Lantern("L1")
    lantern.handle(raw("a", "projection", priority=10), T0)
    effects = lantern.handle(raw("b", "projection", priority=10), T0)
    assert acks(effects) == [("a", "interrupted", "replaced"), ("b", "applied", None)]


# ---- property: the priority array through the whole state machine ------------------------------

Op = tuple[str, int, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(1, 16), st.integers(1, 120)),
        st.tuples(st.just("release"), st.integers(1, 16), st.just(0)),
        st.tuples(st.just("advance"), st.just(0), st.integers(1, 90)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_effective_light_is_always_the_highest_live_slot(sequence: list[Op]) -> None:
    lantern = Lantern("L1")
    now = T0
    model: dict[int, tuple[str, datetime]] = {}  # priority -> (cmd id, expires_at)
    for n, (kind, priority, amount) in enumerate(sequence):
        before = {p: lantern.slot("light", p) for p in range(1, 17)}
        if kind == "set":
            cmd_id = f"c{n}"
            lantern.handle(raw(cmd_id, priority=priority, ttl_s=amount, issued=now), now)
            model[priority] = (cmd_id, now + timedelta(seconds=amount))
        elif kind == "release":
            lantern.handle(raw(f"r{n}", op="release", priority=priority, issued=now), now)
            model.pop(priority, None)
            after = {p: lantern.slot("light", p) for p in range(1, 17)}
            assert {p: c for p, c in after.items() if p != priority} == {
                p: c for p, c in before.items() if p != priority
            }
        else:
            now += timedelta(seconds=amount)
            lantern.tick(now)
            model = {p: v for p, v in model.items() if v[1] > now}
        light = lantern.state(now).channels["light"]
        if model:
            top = min(model)
            assert (light.priority, light.cmd_id) == (top, model[top][0])
        else:  # the lantern default, at slot 16
            assert (light.priority, light.cmd_id) == (16, None)
