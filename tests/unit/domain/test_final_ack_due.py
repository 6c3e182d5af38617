"""When the service asks a lantern again for the final ack of a command it confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightctl.domain.delivery import AckedCommand, final_ack_due
from lightctl.protocol import AudioPayload, CommandEnvelope, LightPayload
from lightctl.protocol.wire import SpeechItem, ToneItem
from lightctl.services.delivery.acks import acked_command

T0 = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


def test_the_final_ack_is_due_the_ack_timeout_after_the_program_ends_from_its_later_start() -> None:
    audio = AckedCommand("audio", "set", ("c",), play_s=13.0)
    assert final_ack_due(audio, T0, 3.0) == T0 + timedelta(seconds=16)
    # Speech shared by the whole alert starts later than the ack: the program runs from there.
    later = AckedCommand("audio", "set", ("c",), play_s=13.0, begins_at=T0 + timedelta(seconds=5))
    assert final_ack_due(later, T0, 3.0) == T0 + timedelta(seconds=21)
    # A start already past changes nothing; a light is answered at once; unknown: ack timeout.
    past = AckedCommand("light", "set", begins_at=T0 - timedelta(hours=1))
    assert final_ack_due(past, T0, 3.0) == T0 + timedelta(seconds=3)
    assert final_ack_due(None, T0, 3.0) == T0 + timedelta(seconds=3)


def _envelope(payload: AudioPayload | LightPayload, **extra: object) -> str:
    env = CommandEnvelope(
        id="c1",
        alert_id="al",
        channel="audio" if isinstance(payload, AudioPayload) else "light",
        op="set",
        priority=1,
        issued_at=T0,
        expires_at=T0 + timedelta(hours=2),
        payload=payload,
        seq=1,
        **extra,
    )
    return env.to_bytes().decode()


def test_what_is_judged_knows_how_long_a_program_plays_and_when_it_may_begin() -> None:
    speech = SpeechItem(lang="de", url="http://x/a.wav", sha256="ab" * 32, duration_s=4.0)
    program = [ToneItem(signal="warning", duration_s=2.0), speech]
    shared = T0 + timedelta(seconds=8)
    audio = acked_command(
        _envelope(AudioPayload(program=program, repeat=2, interval_s=1.0, speech_at=shared))
    )
    assert audio is not None
    assert (audio.play_s, audio.begins_at, audio.clips) == (13.0, shared, ("ab" * 32,) * 2)
    ahead = T0 + timedelta(hours=1)
    light = acked_command(_envelope(LightPayload(on=True), starts_at=ahead))
    assert light is not None
    assert (light.play_s, light.begins_at, light.sent_ahead) == (0.0, ahead, True)
