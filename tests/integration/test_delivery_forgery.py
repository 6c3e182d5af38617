"""Commands published straight to the broker by someone without the right key, or replayed, or
stale: no simulated lantern changes any output, and each refusal is acked with its reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_sim import Fleet, LanternSpec
from firmware_sim.probe import ServiceProbe
from firmware_sim.verifier import TrustFile
from lightctl.protocol import (
    AudioPayload,
    CommandEnvelope,
    EmptyPayload,
    LightPayload,
    ToneItem,
    Topics,
)
from lightctl.services.sequence import SequenceCounter
from lightctl.signing import CommandSigner, KeyStore
from tests.integration.conftest import FleetThread
from tests.integration.resilience import on_fleet

pytestmark = pytest.mark.broker

LANTERNS = [f"F{i}" for i in range(6)]
WINDOW_S = 2  # a short replay window, so the test need not wait ten minutes


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore.in_data_dir(tmp_path)
    store.generate(replay_window_s=WINDOW_S)
    store.ensure_root()
    return store


@pytest.fixture
def signer(keys: KeyStore) -> CommandSigner:
    return CommandSigner(keys, lambda: datetime.now(UTC), SequenceCounter(0).next)


@pytest.fixture
def sim(mosquitto: Any, topic_root: str, keys: KeyStore) -> Iterator[FleetThread]:
    fleet = Fleet(
        mosquitto.url,
        [LanternSpec(i) for i in LANTERNS],
        speed=50,
        topics=Topics(topic_root),
        gateway_prefix="forge",
        trust=TrustFile.open(keys.trust_path, [keys.ensure_root().public()]),
    )
    thread = FleetThread(fleet)
    thread.start()
    yield thread
    thread.stop()


def command(
    cmd_id: str,
    *,
    channel: str = "light",
    priority: int = 1,
    ttl_s: float = 300,
    issued: datetime | None = None,
    color: str = "#FF0000",
    role: str = "dispatcher",
    aud: str | None = None,
) -> CommandEnvelope:
    issued = issued or datetime.now(UTC)
    payload: Any = LightPayload(on=True, color=color, effect="blink", period_ms=2000)
    if channel == "audio":
        payload = AudioPayload(program=[ToneItem(signal="warning", duration_s=2)])
    if channel == "path":
        payload = EmptyPayload()
    return CommandEnvelope(
        id=cmd_id,
        aud=aud,
        role=role,
        channel=channel,
        op="release" if channel == "path" else "set",
        priority=priority,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=ttl_s),
        payload=payload,
        seq=SequenceCounter(0).next(),
    )


def signed_with(env: CommandEnvelope, key: Ed25519PrivateKey, kid: str) -> CommandEnvelope:
    unsigned = env.model_copy(update={"kid": kid, "sig": None})
    signature = base64.b64encode(key.sign(unsigned.signing_bytes())).decode()
    return unsigned.model_copy(update={"sig": signature})


def send_signed(
    probe: ServiceProbe, signer: CommandSigner, env: CommandEnvelope, lantern_ids: list[str]
) -> dict[str, bytes]:
    """Like the outbox: one copy per lantern, naming it inside what is signed."""
    copies = signer.address(signer.sign(env), [f"lanterns/{i}" for i in lantern_ids])
    for lantern_id in lantern_ids:
        probe.send_raw(lantern_id, copies[f"lanterns/{lantern_id}"])
    return copies


def handled_everything(probe: ServiceProbe, signer: CommandSigner, name: str) -> None:
    """Send every lantern a genuine release of an empty slot (it changes no output) on the same
    connection and topic as the attacks, and wait until each has answered it: a lantern handles
    its commands in order, so by then it has handled every attack, and anything one of them
    wrongly set or started shows in its outputs."""
    send_signed(probe, signer, command(name, channel="path", priority=2), LANTERNS)
    assert probe.wait_for(lambda: all(probe.statuses(i, name) == ["done"] for i in LANTERNS), 15), {
        i: probe.statuses(i, name) for i in LANTERNS
    }


def outputs(sim: FleetThread) -> dict[str, Any]:
    """What every lantern shows and plays now (its reported state without the time)."""

    def read() -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            i: (
                sim.fleet.lantern(i).state(now).model_dump(mode="json", exclude={"at"}),
                list(sim.fleet.record(i).played),
                sim.fleet.lantern(i).playing,
            )
            for i in LANTERNS
        }

    return on_fleet(sim, read)


def test_forged_tampered_replayed_misused_and_stale_commands_change_nothing(
    sim: FleetThread, probe: ServiceProbe, keys: KeyStore, signer: CommandSigner
) -> None:
    # A genuine warning light reaches F0 and F1; F0's copy is what an attacker captures.
    copies = send_signed(probe, signer, command("genuine"), ["F0", "F1"])
    captured = copies["lanterns/F0"]
    assert probe.wait_for(lambda: all(probe.statuses(i) == ["applied"] for i in ("F0", "F1")))
    # The service goes on: later life-safety commands reach F2-F5 (a release of an empty slot,
    # which changes no output), so their newest seq is beyond the captured one's window. Seqs
    # count microseconds of issue time: moving the issuer's counter on stands in for waiting.
    captured_seq = CommandEnvelope.from_bytes(captured).seq
    SequenceCounter(captured_seq + int((WINDOW_S + 0.5) * 1_000_000))
    send_signed(probe, signer, command("later", channel="path", priority=2), LANTERNS[2:])
    assert probe.wait_for(lambda: all(probe.statuses(i) == ["done"] for i in LANTERNS[2:]))
    before = outputs(sim)

    registry = keys.load()
    life = registry.signing("life_safety", datetime.now(UTC))
    ordinary = registry.signing("ordinary", datetime.now(UTC))
    assert life is not None
    assert ordinary is not None
    attacker = Ed25519PrivateKey.generate()
    stale_at = datetime.now(UTC) - timedelta(minutes=10)

    def attacks_on(lantern_id: str) -> dict[str, tuple[bytes, str]]:
        """Each attack addressed to the lantern it is sent to, so what refuses it is the
        signature, key or expiry check (a misaddressed copy is refused before those)."""
        aud = f"lanterns/{lantern_id}"
        tampered = json.loads(copies["lanterns/F0"])
        tampered["payload"]["color"] = "#00FF00"
        tampered["id"] = "tampered"
        tampered["aud"] = aud
        return {
            "forged": (
                signed_with(
                    command("forged", channel="audio", aud=aud), attacker, life.kid
                ).to_bytes(),
                "bad_signature",
            ),
            "tampered": (json.dumps(tampered).encode(), "bad_signature"),
            "ordinary-at-1": (
                signed_with(
                    command("ordinary-at-1", color="#0000FF", aud=aud),
                    keys.private_key(ordinary.kid),
                    ordinary.kid,
                ).to_bytes(),
                "key_not_allowed_for_life_safety",
            ),
            "unsigned": (command("unsigned", aud=aud).to_bytes(), "unsigned"),
            "unknown-key": (
                signed_with(
                    command("unknown-key", aud=aud), attacker, "ls-19700101-abcdef"
                ).to_bytes(),
                "unknown_key",
            ),
            "expired": (
                signer.sign(command("expired", ttl_s=60, issued=stale_at, aud=aud)).to_bytes(),
                "expired",
            ),
        }

    attacks = {i: attacks_on(i) for i in LANTERNS}
    for lantern_id in LANTERNS:
        for raw, _reason in attacks[lantern_id].values():
            probe.send_raw(lantern_id, raw)
    # F0's captured copy replayed everywhere.
    for lantern_id in LANTERNS:
        probe.send_raw(lantern_id, captured)

    def f1_dropped() -> list[str]:
        return on_fleet(sim, lambda: list(sim.fleet.record("F1").dropped))

    def all_answered() -> bool:
        others = [i for i in LANTERNS if i != "F1"]
        return (
            all(probe.acks(i, cmd_id) for i in LANTERNS for cmd_id in attacks[i])
            and all(probe.acks(i, "genuine") for i in others)
            and len(probe.acks("F0", "genuine")) == 2
            and any("already taken" in d for d in f1_dropped())
        )

    assert probe.wait_for(all_answered, 15)
    for lantern_id in LANTERNS:
        for cmd_id, (_raw, reason) in attacks[lantern_id].items():
            ack = probe.acks(lantern_id, cmd_id)[0]
            if reason == "expired":
                assert (ack.status.value, ack.reason) == ("expired", None), (lantern_id, cmd_id)
            else:
                assert (ack.status.value, ack.reason) == ("rejected", reason), (lantern_id, cmd_id)
    # The replay: F0, whose copy it is, answers with its last ack and does nothing again; every
    # other lantern refuses it as addressed to F0. F1, which holds its own copy of the same
    # command, refuses it without an ack: a `rejected` would contradict its `applied`.
    assert probe.statuses("F0", "genuine") == ["applied", "applied"]
    for lantern_id in LANTERNS[2:]:
        replay = probe.acks(lantern_id, "genuine")
        assert [(a.status.value, a.reason) for a in replay] == [("rejected", "wrong_audience")], (
            lantern_id
        )
    assert probe.statuses("F1", "genuine") == ["applied"]
    assert [d for d in f1_dropped() if "already taken" in d] == [
        "wrong_audience: refused a copy of genuine, already taken"
    ]
    handled_everything(probe, signer, "sentinel-after-attacks")
    assert outputs(sim) == before


def test_a_genuinely_signed_command_above_its_roles_ceiling_changes_nothing(
    sim: FleetThread, probe: ServiceProbe, keys: KeyStore, signer: CommandSigner
) -> None:
    """What a service slip past the API's ceiling check would send: the service's own keys, valid
    signatures, published with paho to the real broker. Every lantern refuses it and says why."""
    before = outputs(sim)
    registry = keys.load()
    life = registry.signing("life_safety", datetime.now(UTC))
    ordinary = registry.signing("ordinary", datetime.now(UTC))
    assert life is not None
    assert ordinary is not None
    life_key, ordinary_key = keys.private_key(life.kid), keys.private_key(ordinary.kid)
    signers = {"life": (life_key, life.kid), "ordinary": (ordinary_key, ordinary.kid)}
    attacks = {
        # A city app's evacuation, under the life-safety key that slot 1 needs.
        "app-at-1": (command("app-at-1", role="city_app"), "life", "above_role_ceiling"),
        "app-audio-at-1": (
            command("app-audio-at-1", channel="audio", role="city_app"),
            "life",
            "above_role_ceiling",
        ),
        # A city app's operator override, under its own (ordinary) key.
        "app-at-8": (
            command("app-at-8", priority=8, role="city_app"),
            "ordinary",
            "above_role_ceiling",
        ),
        # The steering key speaking as a dispatcher at a slot it could otherwise sign.
        "ordinary-as-dispatcher": (
            command("ordinary-as-dispatcher", priority=10, role="dispatcher"),
            "ordinary",
            "key_not_allowed_for_role",
        ),
    }
    for lantern_id in LANTERNS:
        for env, which, _reason in attacks.values():
            addressed = env.model_copy(update={"aud": f"lanterns/{lantern_id}"})
            probe.send_raw(lantern_id, signed_with(addressed, *signers[which]).to_bytes())
    assert probe.wait_for(
        lambda: all(probe.acks(i, cmd_id) for i in LANTERNS for cmd_id in attacks), 15
    )
    for lantern_id in LANTERNS:
        for cmd_id, (_env, _which, reason) in attacks.items():
            answers = [(a.status.value, a.reason) for a in probe.acks(lantern_id, cmd_id)]
            assert answers == [("rejected", reason)], (lantern_id, cmd_id)
    handled_everything(probe, signer, "sentinel-after-ceiling")
    assert outputs(sim) == before
    # The same lanterns obey the city app at its own ceiling: the refusals were the role's.
    allowed = signed_with(
        command("app-at-10", priority=10, role="city_app", aud=f"lanterns/{LANTERNS[0]}"),
        ordinary_key,
        ordinary.kid,
    )
    probe.send(LANTERNS[0], allowed)
    assert probe.wait_for(lambda: probe.statuses(LANTERNS[0], "app-at-10") == ["applied"])
