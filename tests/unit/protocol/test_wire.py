"""Every wire payload round-trips model → bytes → model, and strictness holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from lightctl.protocol import (
    FEATURE_PROJECTION_FLASH,
    Ack,
    AckStatus,
    AudioPayload,
    Availability,
    ChannelState,
    CommandEnvelope,
    EmptyPayload,
    LanternState,
    LightPayload,
    PathPayload,
    ProjectionFlash,
    ProjectionPayload,
    ReleasePayload,
    SpeechItem,
    ToneItem,
    canonical_json,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SHA = "a" * 64


def envelope(**overrides: object) -> CommandEnvelope:
    base: dict[str, object] = {
        "id": "cmd_1",
        "alert_id": "al_1",
        "channel": "audio",
        "op": "set",
        "priority": 1,
        "issued_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
        "payload": AudioPayload(
            program=[
                ToneItem(signal="warning", duration_s=5),
                SpeechItem(lang="de", url="http://x/a.wav", sha256=SHA, duration_s=2.5),
            ],
            repeat=2,
            interval_s=10,
        ),
        "seq": 17,
    }
    base.update(overrides)
    return CommandEnvelope.model_validate(base)


PAYLOADS = [
    ("audio", envelope().payload),
    (
        "light",
        LightPayload(on=True, brightness=80, color="#FF0000", effect="blink", period_ms=2000),
    ),
    ("projection", ProjectionPayload(pictogram="arrow", heading_deg=90, text="EXIT")),
    (
        "projection",
        ProjectionPayload(
            pictogram="arrow", heading_deg=35, flash=ProjectionFlash(period_ms=1000, on_ms=700)
        ),
    ),
    ("path", PathPayload(level=60, mode="chase", period_ms=3000, phase_ms=250)),
]


@pytest.mark.parametrize(("channel", "payload"), PAYLOADS)
def test_command_round_trip(channel: str, payload: object) -> None:
    cmd = envelope(channel=channel, payload=payload, kid="k1", sig="c2ln")
    again = CommandEnvelope.from_bytes(cmd.to_bytes())
    assert again == cmd
    assert type(again.payload) is type(payload)


def test_release_round_trip_has_an_empty_payload() -> None:
    cmd = envelope(op="release", payload=EmptyPayload())
    again = CommandEnvelope.from_bytes(cmd.to_bytes())
    assert again == cmd
    assert isinstance(again.payload, EmptyPayload)


def test_payload_must_match_its_channel() -> None:
    raw = json.loads(envelope().to_bytes())
    raw["channel"] = "light"
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate(raw)


def test_unknown_keys_and_bad_values_are_refused() -> None:
    raw = json.loads(envelope().to_bytes())
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate({**raw, "surprise": 1})
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate({**raw, "priority": 17})
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate({**raw, "expires_at": raw["issued_at"]})
    with pytest.raises(ValidationError):
        LightPayload(on=True, color="red")


def test_envelopes_are_frozen() -> None:
    cmd = envelope()
    with pytest.raises(ValidationError):
        cmd.priority = 16  # type: ignore[misc]


def test_signing_bytes_are_canonical_and_exclude_the_signature() -> None:
    a = envelope(sig="one")
    b = envelope(sig="two")
    assert a.signing_bytes() == b.signing_bytes()
    body = json.loads(a.signing_bytes())
    assert "sig" not in body
    assert a.signing_bytes() == canonical_json(body)
    # Re-parsing what went over the wire gives the same bytes to verify.
    assert CommandEnvelope.from_bytes(a.to_bytes()).signing_bytes() == a.signing_bytes()


def test_the_issuer_role_travels_and_is_signed() -> None:
    cmd = envelope(role="city_app")
    assert CommandEnvelope.from_bytes(cmd.to_bytes()) == cmd
    assert json.loads(cmd.signing_bytes())["role"] == "city_app"
    assert envelope(role="dispatcher").signing_bytes() != cmd.signing_bytes()
    assert "role" not in json.loads(envelope().to_bytes())  # unsigned development: absent
    for bad in ["", "City App", "x" * 33, "dispatcher;drop"]:
        with pytest.raises(ValidationError, match="role"):
            envelope(role=bad)


def test_audio_duration_counts_repeats_and_gaps() -> None:
    payload = envelope().payload
    assert isinstance(payload, AudioPayload)
    assert payload.duration_s() == pytest.approx((5 + 2.5) * 2 + 10)


def test_ack_state_and_availability_round_trip() -> None:
    ack = Ack(cmd_id="cmd_1", lantern="LEU1", status=AckStatus.DONE, at=NOW, played=[SHA])
    assert Ack.from_bytes(ack.to_bytes()) == ack
    state = LanternState(
        lantern="LEU1",
        at=NOW,
        channels={"light": ChannelState(priority=10, cmd_id="c", value={"on": True})},
        capabilities=["speaker", "rgb"],
    )
    assert LanternState.from_bytes(state.to_bytes()) == state
    avail = Availability(online=True, boot=3, gateway="sim-00")
    assert Availability.from_bytes(avail.to_bytes()) == avail
    with pytest.raises(ValidationError):
        Ack.from_bytes(
            b'{"v":1,"cmd_id":"c","lantern":"L","status":"nonsense","at":"2026-01-01T00:00:00Z"}'
        )


def test_a_release_may_name_its_command_and_without_one_keeps_its_old_bytes() -> None:
    named = envelope(op="release", payload=ReleasePayload(cmd_id="cmd_0"))
    again = CommandEnvelope.from_bytes(named.to_bytes())
    assert again == named
    assert isinstance(again.payload, ReleasePayload)
    assert again.payload.cmd_id == "cmd_0"
    assert json.loads(named.signing_bytes())["payload"] == {"cmd_id": "cmd_0"}
    # A release as first shipped (empty payload) still parses and still signs the same bytes.
    plain = envelope(op="release", payload=ReleasePayload())
    assert json.loads(plain.to_bytes())["payload"] == {}
    assert CommandEnvelope.from_bytes(plain.to_bytes()).payload == ReleasePayload()
    with pytest.raises(ValidationError):
        envelope(op="release", payload={"cmd_id": ""})


def test_a_command_sent_ahead_starts_before_it_expires_and_its_start_is_signed() -> None:
    starts = NOW + timedelta(minutes=10)
    cmd = envelope(starts_at=starts)
    assert CommandEnvelope.from_bytes(cmd.to_bytes()) == cmd
    assert "starts_at" in json.loads(cmd.signing_bytes())
    assert cmd.signing_bytes() != envelope(starts_at=starts + timedelta(minutes=1)).signing_bytes()
    assert "starts_at" not in json.loads(envelope().signing_bytes())  # absent: not signed
    for bad in (NOW + timedelta(minutes=30), NOW + timedelta(hours=1)):
        with pytest.raises(ValidationError, match="starts_at must be before expires_at"):
            envelope(starts_at=bad)


def test_a_flashing_projection_is_signed_and_a_steady_one_keeps_its_old_bytes() -> None:
    steady = envelope(channel="projection", payload=ProjectionPayload(pictogram="arrow"))
    # Steady as first shipped: no ``flash`` key at all, so firmware that predates it parses it.
    assert json.loads(steady.to_bytes())["payload"] == {"pictogram": "arrow"}
    flashing = envelope(
        channel="projection",
        payload=ProjectionPayload(
            pictogram="arrow", flash=ProjectionFlash(period_ms=1000, on_ms=700)
        ),
    )
    body = json.loads(flashing.signing_bytes())
    assert body["payload"]["flash"] == {"period_ms": 1000, "on_ms": 700, "phase_ms": 0}
    assert flashing.signing_bytes() != steady.signing_bytes()


@pytest.mark.parametrize(
    ("period_ms", "on_ms"),
    [
        (333, 150),  # 3 Hz: the photosensitive seizure line
        (499, 200),  # just over 2 Hz
        (1000, 950),  # 50 ms dark is flicker, not a flash
        (1000, 50),  # 50 ms shown cannot be read
    ],
)
def test_flashing_faster_than_2_hz_or_without_a_readable_part_is_refused(
    period_ms: int, on_ms: int
) -> None:
    with pytest.raises(ValidationError):
        ProjectionFlash(period_ms=period_ms, on_ms=on_ms)
    raw = json.loads(
        envelope(channel="projection", payload=ProjectionPayload(pictogram="arrow")).to_bytes()
    )
    raw["payload"]["flash"] = {"period_ms": period_ms, "on_ms": on_ms}
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate(raw)


def test_a_lantern_state_lists_the_features_its_firmware_understands() -> None:
    state = LanternState(lantern="LEU1", at=NOW, features=[FEATURE_PROJECTION_FLASH])
    assert LanternState.from_bytes(state.to_bytes()) == state
    # Firmware that predates features reports none, and its state reads as before.
    old = LanternState(lantern="LEU1", at=NOW)
    assert "features" not in json.loads(old.to_bytes())
    # A newer lantern's feature this service does not know is kept, not a refused report.
    newer = LanternState.from_bytes(
        b'{"v":1,"lantern":"L","at":"2026-01-01T00:00:00Z","features":["hologram_v9"]}'
    )
    assert newer.features == ["hologram_v9"]
