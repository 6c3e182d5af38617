"""Sound first, speech in step (issue 14), on simulated lanterns over a real Mosquitto.

A lantern sounds the signal the moment it holds a valid command; its speech starts on the
alert's shared clock (``speech_at``): a lantern whose clips come late joins at the next sentence
boundary, in step with its neighbours, and one whose clip never comes ends ``failed``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firmware_sim.fleet import Fleet
from firmware_sim.inventory import LanternSpec
from firmware_sim.probe import ClipServer, ServiceProbe
from firmware_sim.timeline import expanded
from lightctl.protocol import AudioPayload, CommandEnvelope, SpeechItem, ToneItem, Topics

pytestmark = pytest.mark.broker

SPEED = 4  # slow enough that a loaded machine's loop jitter is small against the sentences
CLIPS = {f"/s{i}.wav": f"RIFF sentence {i} ".encode() * 400 for i in range(4)}
SHA = {path: hashlib.sha256(body).hexdigest() for path, body in CLIPS.items()}
# Step: each spoken item lasts 2 s (0.5 s at speed 4); the signal 4 s (1 s at speed 4).
SENTENCE_S = 2.0


@pytest.fixture
def clips() -> Iterator[ClipServer]:
    # Lantern "late" gets 503 for its first two tries of the first clip: 0.5 + 1 s of backoff.
    server = ClipServer({**CLIPS, "/late0.wav": CLIPS["/s0.wav"]}, failures={"/late0.wav": 2})
    server.start()
    yield server
    server.stop()


def warning(
    cmd_id: str, clips: ClipServer, first: str = "/s0.wav", missing: bool = False
) -> CommandEnvelope:
    issued = datetime.now(UTC)
    speech = [
        SpeechItem(lang="de", url=clips.url(path), sha256=SHA[path], duration_s=SENTENCE_S)
        for path in CLIPS
    ]
    speech[0] = speech[0].model_copy(update={"url": clips.url(first)})
    if missing:
        speech[2] = speech[2].model_copy(update={"url": clips.url("/gone.wav")})
    return CommandEnvelope(
        id=cmd_id,
        channel="audio",
        op="set",
        priority=1,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=120),
        seq=1,
        payload=AudioPayload(
            program=[ToneItem(signal="warning", duration_s=4), *speech],
            # As the service sets it: the signal's length after issue (1 s on the sped-up lanterns).
            speech_at=issued + timedelta(seconds=4),
        ),
    )


def test_a_slow_download_sounds_at_once_and_speaks_later_in_step_and_a_missing_clip_fails(
    mosquitto: Any, topic_root: str, probe: ServiceProbe, clips: ClipServer
) -> None:
    async def scenario() -> None:
        specs = [LanternSpec(i) for i in ("near1", "near2", "late", "lost")]
        fleet = Fleet(
            mosquitto.url, specs, speed=SPEED, topics=Topics(topic_root), signal_floor_s=0
        )
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            # One command id for the whole alert (each lantern's own copy, as the outbox sends).
            probe.send("near1", warning("alert", clips))
            probe.send("near2", warning("alert", clips))
            probe.send("late", warning("alert", clips, first="/late0.wav"))
            probe.send("lost", warning("alert", clips, missing=True))
            ends = {"done", "failed"}
            assert await asyncio.to_thread(
                probe.wait_for,
                lambda: all(
                    ends & set(probe.statuses(i)) for i in ("near1", "near2", "late", "lost")
                ),
                30,
            ), {i: probe.statuses(i) for i in ("near1", "near2", "late", "lost")}
        finally:
            await fleet.stop()
        on_time = [a for a in probe.acks("near1")]
        assert [(a.status, a.reason) for a in on_time] == [
            ("received", None),
            ("playing", None),
            ("done", None),
        ]
        assert on_time[2].played == list(SHA.values())

        # The slow one sounded at once: `playing` long before its first clip was there...
        late = probe.acks("late")
        assert [a.status.value for a in late] == ["received", "playing", "done"]
        assert clips.requests["/late0.wav"] == 3
        sounded = fleet.record("late").sounded[0][1]
        near_speech = fleet.record("near1").speech[0]
        assert sounded < near_speech[2], "the signal waited for the clips"
        # ...and spoke from a later sentence, at the very moment the others spoke it.
        assert late[2].reason == "joined_late"
        assert late[2].played
        assert late[2].played == list(SHA.values())[-len(late[2].played) :]
        _cmd_id, first, started = fleet.record("late").speech[0]
        assert first >= 1
        payload = warning("x", clips).payload
        assert isinstance(payload, AudioPayload)
        offsets = [off for off, item in expanded(payload) if isinstance(item, SpeechItem)]
        for neighbour in ("near1", "near2"):
            _cmd, n_first, n_started = fleet.record(neighbour).speech[0]
            assert n_first == 0
            expected = n_started + timedelta(seconds=(offsets[first] - offsets[0]) / SPEED)
            assert abs((started - expected).total_seconds()) <= 0.05, (neighbour, started, expected)
        near1, near2 = (fleet.record(n).speech[0][2] for n in ("near1", "near2"))
        assert abs((near1 - near2).total_seconds()) <= 0.05

        # The clip that never comes: the signal played, then `failed` with the reason, no `done`.
        lost = [(a.status.value, a.reason) for a in probe.acks("lost")]
        assert lost == [("received", None), ("playing", None), ("failed", "clip_unavailable")]
        assert not fleet.record("lost").played

    asyncio.run(scenario())
