"""A simulated fleet against a real Mosquitto: commands in, clips fetched and checked, acks out."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from firmware_sim.fleet import Fleet
from firmware_sim.inventory import LanternSpec
from firmware_sim.probe import ClipServer, ServiceProbe
from lightctl.protocol import (
    AudioPayload,
    CommandEnvelope,
    LightPayload,
    SpeechItem,
    ToneItem,
    Topics,
)
from tests.support import free_port

pytestmark = pytest.mark.broker

SPEED = 50
CLIP_A = b"RIFF clip A: Achtung, bitte verlassen Sie die Strasse. " * 200
CLIP_B = b"RIFF clip B: Attention, please leave the street. " * 200
SHA_A = hashlib.sha256(CLIP_A).hexdigest()
SHA_B = hashlib.sha256(CLIP_B).hexdigest()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def wait_for(probe: ServiceProbe, predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Wait off the event loop, so the fleet keeps running while the probe waits."""
    return await asyncio.to_thread(probe.wait_for, predicate, timeout_s)


def specs(n: int) -> list[LanternSpec]:
    return [LanternSpec(f"L{i:04d}") for i in range(n)]


def audio(
    cmd_id: str,
    clips: ClipServer,
    *,
    priority: int = 1,
    ttl_s: float = 60,
    issued: datetime | None = None,
    speech_s: float = 2,
    second: tuple[str, str] = ("/b.mp3", SHA_B),
) -> CommandEnvelope:
    issued = issued or datetime.now(UTC)
    return CommandEnvelope(
        id=cmd_id,
        channel="audio",
        op="set",
        priority=priority,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=ttl_s),
        seq=1,
        payload=AudioPayload(
            program=[
                ToneItem(signal="warning", duration_s=1),
                SpeechItem(lang="de", url=clips.url("/a.mp3"), sha256=SHA_A, duration_s=speech_s),
                SpeechItem(lang="en", url=clips.url(second[0]), sha256=second[1], duration_s=2),
            ]
        ),
    )


@pytest.fixture
def clips() -> Iterator[ClipServer]:
    server = ClipServer({"/a.mp3": CLIP_A, "/b.mp3": CLIP_B, "/tampered.mp3": CLIP_B + b"!"})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def topics(topic_root: str) -> Topics:
    return Topics(topic_root)


def test_audio_is_fetched_checked_played_and_acked_in_order(
    mosquitto: Any, topics: Topics, probe: ServiceProbe, clips: ClipServer
) -> None:
    async def scenario() -> None:
        fleet = Fleet(mosquitto.url, specs(300), speed=SPEED, per_connection=150, topics=topics)
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            assert len(fleet.gateways) == 2
            targets = fleet.lantern_ids[::15]  # 20 lanterns spread over both connections
            cmd = audio("alert-1", clips)
            for lantern_id in targets:
                probe.send(lantern_id, cmd)
            assert await wait_for(
                probe, lambda: all("done" in probe.statuses(t) for t in targets), 15
            ), {
                t: (probe.statuses(t), [a.status.value for a in fleet.record(t).acks])
                for t in targets
            }
            program_s = cmd.payload.duration_s() if isinstance(cmd.payload, AudioPayload) else 0
            for lantern_id in targets:
                assert probe.statuses(lantern_id) == ["received", "playing", "done"]
                _, playing, done = probe.acks(lantern_id)
                assert done.played == [SHA_A, SHA_B]
                # It really "played": the program lasts 5 s, i.e. 0.1 s at speed 50.
                assert (done.at - playing.at).total_seconds() >= program_s / SPEED - 0.01
                record = fleet.record(lantern_id)
                assert list(record.fetched) == [
                    (clips.url("/a.mp3"), SHA_A),
                    (clips.url("/b.mp3"), SHA_B),
                ]
                assert list(record.played) == [("alert-1", (SHA_A, SHA_B))]
                assert [a.status.value for a in record.acks] == ["received", "playing", "done"]
            untouched = set(fleet.lantern_ids) - set(targets)
            assert all(probe.acks(i) == [] for i in untouched)
            assert clips.requests["/a.mp3"] == len(targets)

            # A second warning with the same clips plays without fetching them again.
            again = audio("alert-2", clips)
            for lantern_id in targets:
                probe.send(lantern_id, again)
            assert await wait_for(
                probe, lambda: all("done" in probe.statuses(t, "alert-2") for t in targets), 15
            )
            assert clips.requests["/a.mp3"] == len(targets)
            assert all(len(fleet.record(t).fetched) == 2 for t in targets)
        finally:
            await fleet.stop()

    run(scenario)


def test_bad_clip_hash_and_missing_clip_fail_with_reasons(
    mosquitto: Any, topics: Topics, probe: ServiceProbe, clips: ClipServer
) -> None:
    async def scenario() -> None:
        fleet = Fleet(mosquitto.url, specs(3), speed=SPEED, topics=topics)
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            probe.send("L0000", audio("tampered", clips, second=("/tampered.mp3", SHA_B)))
            probe.send("L0001", audio("missing", clips, second=("/gone.mp3", SHA_B)))
            probe.send("L0002", audio("good", clips))
            assert await wait_for(
                probe,
                lambda: "failed" in probe.statuses("L0000") and "failed" in probe.statuses("L0001"),
                10,
            )
            # Sound first (issue 14): the signal plays at once, so `playing` comes before the
            # clip trouble is known; the command still ends `failed`, never `done`.
            assert [(a.status, a.reason) for a in probe.acks("L0000")] == [
                ("received", None),
                ("playing", None),
                ("failed", "bad_clip_hash"),
            ]
            assert [(a.status, a.reason) for a in probe.acks("L0001")] == [
                ("received", None),
                ("playing", None),
                ("failed", "clip_unavailable"),
            ]
            assert fleet.record("L0000").played == fleet.record("L0001").played
            assert not fleet.record("L0000").played
            # The good clip it did verify is kept; the tampered one never counts as verified.
            assert await wait_for(probe, lambda: "done" in probe.statuses("L0002"), 10)
        finally:
            await fleet.stop()

    run(scenario)


def test_expired_command_is_acked_expired_and_not_fetched(
    mosquitto: Any, topics: Topics, probe: ServiceProbe, clips: ClipServer
) -> None:
    async def scenario() -> None:
        fleet = Fleet(mosquitto.url, specs(2), speed=SPEED, topics=topics)
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            stale = audio("stale", clips, issued=datetime.now(UTC) - timedelta(minutes=5))
            probe.send("L0000", stale)
            assert await wait_for(probe, lambda: bool(probe.acks("L0000")), 10)
            assert probe.statuses("L0000") == ["expired"]
            assert not fleet.record("L0000").fetched

            # A program longer than its command's life stops at expiry: playing, then expired.
            short = audio("short", clips, ttl_s=1.0, speech_s=200)  # 4 s of program at speed 50
            probe.send("L0001", short)
            assert await wait_for(probe, lambda: "expired" in probe.statuses("L0001"), 10)
            assert probe.statuses("L0001") == ["received", "playing", "expired"]
            assert probe.acks("L0001")[-1].at >= short.expires_at
        finally:
            await fleet.stop()

    run(scenario)


def test_higher_priority_interrupts_over_the_wire(
    mosquitto: Any, topics: Topics, probe: ServiceProbe, clips: ClipServer
) -> None:
    async def scenario() -> None:
        # Two lanterns on one gateway connection: L0001 plays a twin of the interrupted program.
        fleet = Fleet(mosquitto.url, specs(2), speed=SPEED, topics=topics)
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            probe.send("L0000", audio("steer", clips, priority=10, speech_s=50))  # 1 s at speed 50
            assert await wait_for(probe, lambda: "playing" in probe.statuses("L0000"), 10)
            # The twin starts later and lasts longer (55 s of speech against 50): its `done`
            # comes after the one the interrupted program would have sent, on the same
            # connection, so once it is here any such `done` would be here too.
            probe.send("L0001", audio("twin", clips, priority=10, speech_s=55))
            probe.send("L0000", audio("warn", clips, priority=1))
            assert await wait_for(probe, lambda: "done" in probe.statuses("L0000", "warn"), 10)
            assert await wait_for(probe, lambda: "done" in probe.statuses("L0001", "twin"), 10)
            assert probe.statuses("L0000", "steer") == ["received", "playing", "interrupted"]
            assert probe.acks("L0000", "steer")[-1].reason == "preempted"
        finally:
            await fleet.stop()

    run(scenario)


def test_light_is_applied_reported_and_expires_on_its_own(
    mosquitto: Any, topics: Topics, probe: ServiceProbe
) -> None:
    async def scenario() -> None:
        fleet = Fleet(mosquitto.url, specs(1), topics=topics)
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            now = datetime.now(UTC)
            light = LightPayload(on=True, color="#FF8800", effect="blink", period_ms=500)
            probe.send(
                "L0000",
                CommandEnvelope(
                    id="steer-1",
                    channel="light",
                    op="set",
                    priority=10,
                    issued_at=now,
                    expires_at=now + timedelta(seconds=1.5),
                    seq=1,
                    payload=light,
                ),
            )

            def reported() -> bool:
                state = probe.state("L0000")
                return state is not None and state.channels["light"].cmd_id == "steer-1"

            assert await wait_for(probe, reported, 10)
            assert await wait_for(probe, lambda: bool(probe.statuses("L0000")), 10)
            assert probe.statuses("L0000") == ["applied"]
            state = probe.state("L0000")
            assert state is not None
            assert state.channels["light"].priority == 10
            assert state.channels["light"].value == light.model_dump(mode="json", exclude_none=True)

            # The slot empties itself at expiry, with nobody asking: done/expired, state default.
            def back_to_default() -> bool:
                state = probe.state("L0000")
                return state is not None and state.channels["light"].cmd_id is None

            assert await wait_for(probe, back_to_default, 10)
            # The state and the final ack travel on two topics: either may come first.
            assert await wait_for(probe, lambda: len(probe.acks("L0000")) >= 2, 10)
            assert [(a.status, a.reason) for a in probe.acks("L0000")] == [
                ("applied", None),
                ("done", "expired"),
            ]
            assert probe.acks("L0000")[-1].at >= now + timedelta(seconds=1.5)
        finally:
            await fleet.stop()

    run(scenario)


def test_availability_is_retained_online_then_offline_after_a_clean_stop(
    mosquitto: Any, topics: Topics
) -> None:
    async def scenario() -> None:
        fleet = Fleet(mosquitto.url, specs(300), per_connection=150, topics=topics)
        await fleet.start()
        stopped = False
        late = ServiceProbe(mosquitto.url, topics)  # joins after the fact: sees retained only
        try:
            assert await fleet.wait_connected(10)
            await asyncio.to_thread(late.start)
            ids = fleet.lantern_ids
            gateways = [g.id for g in fleet.gateways]

            def everyone(online: bool) -> bool:
                lanterns = [late.availability(i) for i in ids]
                gws = [late.gateway(g) for g in gateways]
                return all(a is not None and a.online is online for a in lanterns + gws)

            assert await wait_for(late, lambda: everyone(True), 10)
            lantern_avail = [late.availability(i) for i in ids]
            assert {a.gateway for a in lantern_avail if a} == {"sim-00", "sim-01"}
            assert {a.boot for a in lantern_avail if a} == {fleet.boot}

            await fleet.stop()
            stopped = True
            assert await wait_for(late, lambda: everyone(False), 10)
        finally:
            if not stopped:
                await fleet.stop()
            await asyncio.to_thread(late.stop)

    run(scenario)


def test_commands_sent_while_away_arrive_after_the_restart(
    mosquitto: Any, topics: Topics, probe: ServiceProbe, clips: ClipServer
) -> None:
    """The persistent session keeps QoS 1 commands on the broker while the gateway is gone."""

    async def scenario() -> None:
        first = Fleet(mosquitto.url, specs(2), topics=topics)
        await first.start()
        assert await first.wait_connected(10)
        await first.stop()
        probe.send("L0001", audio("while-away", clips))
        second = Fleet(mosquitto.url, specs(2), speed=SPEED, topics=topics)
        await second.start()
        try:
            assert await second.wait_connected(10)
            assert await wait_for(probe, lambda: "done" in probe.statuses("L0001"), 10)
            assert probe.statuses("L0001") == ["received", "playing", "done"]
        finally:
            await second.stop()

    run(scenario)


def test_broker_restart_reconnects_and_republishes_availability(
    own_mosquitto: Any, topic_root: str, clips: ClipServer
) -> None:
    topics = Topics(topic_root)

    async def scenario() -> None:
        fleet = Fleet(own_mosquitto.url, specs(20), speed=SPEED, per_connection=10, topics=topics)
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            await asyncio.to_thread(own_mosquitto.stop)
            await asyncio.to_thread(
                own_mosquitto.start
            )  # same port, empty: no retained, no session
            reconnected = await asyncio.to_thread(
                lambda: _poll(lambda: all(g.connects >= 2 for g in fleet.gateways), 15)
            )
            assert reconnected
            probe = ServiceProbe(own_mosquitto.url, topics)
            await asyncio.to_thread(probe.start)
            try:
                ids = fleet.lantern_ids
                assert await wait_for(
                    probe, lambda: all(probe.availability(i) is not None for i in ids), 10
                )
                probe.send("L0007", audio("after-restart", clips))
                assert await wait_for(probe, lambda: "done" in probe.statuses("L0007"), 10)
            finally:
                await asyncio.to_thread(probe.stop)
        finally:
            await fleet.stop()

    run(scenario)


def _poll(predicate: Callable[[], bool], timeout_s: float) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_gateway_falls_back_to_mqtt_311_when_the_broker_refuses_v5(
    topic_root: str, clips: ClipServer
) -> None:
    amqtt_broker = pytest.importorskip("amqtt.broker")
    topics = Topics(topic_root)
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"

    async def scenario() -> None:
        broker = amqtt_broker.Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await broker.start()
        fleet = Fleet(url, specs(5), speed=SPEED, topics=topics)
        try:
            await fleet.start()
            assert await fleet.wait_connected(15)
            assert fleet.gateways[0].protocol == MQTTProtocolVersion.MQTTv311
            probe = ServiceProbe(url, topics, protocol=MQTTProtocolVersion.MQTTv311)
            await asyncio.to_thread(probe.start)
            try:
                probe.send("L0003", audio("on-311", clips))
                assert await wait_for(probe, lambda: "done" in probe.statuses("L0003"), 10)
            finally:
                await asyncio.to_thread(probe.stop)
        finally:
            await fleet.stop()
            await broker.shutdown()

    run(scenario)
