"""Signature and replay checks of the simulated firmware, exact with a fake clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_sim.effects import Reason, SendAck
from firmware_sim.envelopes import EnvelopeCache
from firmware_sim.lantern import Lantern
from firmware_sim.replay import SEQ_CAP, ReplayGuard, ReplayImageError
from firmware_sim.verifier import TrustFile, TrustFileError, TrustVerifier
from lightctl.protocol import CommandEnvelope, LightPayload
from lightctl.signing import CommandSigner, KeyStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
US = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Seq:
    def __init__(self) -> None:
        self.n = int(T0.timestamp() * US)

    def __call__(self) -> int:
        self.n += 1
        return self.n


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> KeyStore:
    keys = KeyStore.in_data_dir(tmp_path, clock)
    keys.generate(replay_window_s=60)
    keys.ensure_root()
    return keys


@pytest.fixture
def signer(store: KeyStore, clock: Clock) -> CommandSigner:
    return CommandSigner(store, clock, Seq())


def light(
    cmd_id: str,
    priority: int = 10,
    seq: int = 0,
    ttl_s: float = 600,
    color: str = "#FF0000",
    role: str | None = None,
    aud: str | None = "lanterns/L1",
) -> CommandEnvelope:
    """A light command for L1; issued by an operator (ordinary key) from slot 8 down, else a
    dispatcher."""
    return CommandEnvelope(
        id=cmd_id,
        aud=aud,
        role=role or ("operator" if priority >= 8 else "dispatcher"),
        channel="light",
        op="set",
        priority=priority,
        issued_at=T0,
        expires_at=T0 + timedelta(seconds=ttl_s),
        payload=LightPayload(on=True, color=color),
        seq=seq or int(T0.timestamp() * US),
    )


def lantern(store: KeyStore) -> tuple[Lantern, TrustVerifier]:
    verifier = TrustVerifier(store.trust_list(), [store.ensure_root().public()])
    guard = ReplayGuard(lambda: verifier.replay_window_s)
    return Lantern("L1", verifier=verifier, replay=guard), verifier


def acks(effects: Sequence[object]) -> list[tuple[str, str, str | None]]:
    return [(e.cmd_id, e.status.value, e.reason) for e in effects if isinstance(e, SendAck)]


def test_signed_command_is_applied(store: KeyStore, signer: CommandSigner) -> None:
    lamp, _ = lantern(store)
    effects = lamp.handle(signer.sign(light("ok")).to_bytes(), T0)
    assert acks(effects) == [("ok", "applied", None)]
    assert lamp.slot("light", 10) == "ok"


def test_every_kind_of_forgery_is_refused_with_its_reason(
    store: KeyStore, signer: CommandSigner
) -> None:
    lamp, _ = lantern(store)
    good = signer.sign(light("good", priority=10))
    ordinary_kid = good.kid
    attacker = Ed25519PrivateKey.generate()
    forged_unsigned = good.model_copy(update={"sig": attacker.sign(b"x")})
    wrong_key = forged_unsigned.model_copy(
        update={
            "sig": base64.b64encode(
                attacker.sign(good.model_copy(update={"sig": None}).signing_bytes())
            ).decode()
        }
    )
    tampered = json.loads(good.to_bytes())
    tampered["payload"]["color"] = "#00FF00"
    cases = {
        "unsigned": (light("u").to_bytes(), Reason.UNSIGNED),
        "wrong key": (wrong_key.to_bytes(), Reason.BAD_SIGNATURE),
        "garbage signature": (
            good.model_copy(update={"sig": "bm90IGEgc2lnbmF0dXJl"}).to_bytes(),
            Reason.BAD_SIGNATURE,
        ),
        "tampered payload": (json.dumps(tampered).encode(), Reason.BAD_SIGNATURE),
        "unknown key": (
            good.model_copy(update={"kid": "ord-19700101-000000"}).to_bytes(),
            Reason.UNKNOWN_KEY,
        ),
        "ordinary key at priority 1": (
            light("p1", priority=1)
            .model_copy(update={"kid": ordinary_kid, "sig": good.sig})
            .to_bytes(),
            Reason.KEY_NOT_LIFE_SAFETY,
        ),
    }
    for name, (raw, reason) in cases.items():
        effects = lamp.handle(raw, T0)
        assert [(status, why) for _id, status, why in acks(effects)] == [
            ("rejected", reason.value)
        ], name
        assert lamp.state(T0).channels["light"].cmd_id is None, name
    # None of them blocked the genuine command's id.
    assert acks(lamp.handle(good.to_bytes(), T0)) == [("good", "applied", None)]


def test_an_ordinary_key_signing_priority_one_is_refused_even_when_genuine(
    store: KeyStore, clock: Clock
) -> None:
    """The service's own ordinary key, used for a warning slot, is refused: a leaked steering
    key must not start an evacuation."""
    lamp, _ = lantern(store)
    ordinary = store.load().signing("ordinary", T0)
    assert ordinary is not None
    env = light("p1", priority=1).model_copy(update={"kid": ordinary.kid})
    private = store.private_key(ordinary.kid)
    signed = env.model_copy(
        update={"sig": base64.b64encode(private.sign(env.signing_bytes())).decode()}
    )
    assert acks(lamp.handle(signed.to_bytes(), T0)) == [
        ("p1", "rejected", "key_not_allowed_for_life_safety")
    ]


def test_each_lantern_verifies_its_own_copy_and_a_duplicate_costs_no_second_check(
    store: KeyStore, signer: CommandSigner
) -> None:
    """Every copy names its lantern, so each lantern checks its own signature (as real lanterns
    do); a QoS 1 duplicate of a copy is answered from the fleet's cache."""
    verifier = TrustVerifier(store.trust_list(), [store.ensure_root().public()])
    lanterns = [Lantern(f"L{i}", verifier=verifier) for i in range(100)]
    copies = signer.address(
        signer.sign(light("shared", aud=None)), [lamp.audience for lamp in lanterns]
    )
    for lamp in lanterns:
        assert acks(lamp.handle(copies[lamp.audience], T0)) == [("shared", "applied", None)]
        assert acks(lamp.handle(copies[lamp.audience], T0)) == [("shared", "applied", None)]
    assert verifier.stats["verified"] == 100
    assert verifier.stats["cache_hits"] == 100
    # The cache is keyed by what was signed, not only by the signature: tampering still fails.
    tampered = json.loads(copies["lanterns/L0"])
    tampered["payload"]["color"] = "#0000FF"
    tampered["id"] = "shared-2"
    assert acks(lanterns[0].handle(json.dumps(tampered).encode(), T0)) == [
        ("shared-2", "rejected", "bad_signature")
    ]


def test_revocation_reaches_running_lanterns_and_a_stale_list_is_ignored(
    store: KeyStore, signer: CommandSigner, clock: Clock
) -> None:
    watcher = TrustFile.open(store.trust_path, [store.ensure_root().public()])
    lamp = Lantern("L1", verifier=watcher.verifier)
    old = signer.sign(light("before"))
    assert acks(lamp.handle(old.to_bytes(), T0)) == [("before", "applied", None)]
    first = watcher.verifier.trust
    store.rotate(["ordinary"], activate_after_s=0)
    assert old.kid is not None
    store.revoke(old.kid)
    assert watcher.poll()
    again = old.model_copy(update={"id": "after"})
    assert acks(lamp.handle(again.to_bytes(), T0)) == [("after", "rejected", "revoked_key")]
    assert not watcher.verifier.update(first)  # an older list never trusts the key again
    assert signer.sign(light("new")).kid != old.kid
    assert ("new", "applied", None) in acks(lamp.handle(signer.sign(light("new")).to_bytes(), T0))


def test_broken_trust_file_is_refused_and_a_broken_update_keeps_the_old_list(
    store: KeyStore, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"v": 1}')
    with pytest.raises(TrustFileError, match=r"bad\.json"):
        TrustFile.open(bad, [store.ensure_root().public()])
    with pytest.raises(TrustFileError, match="not found"):
        TrustFile.open(tmp_path / "missing.json", [store.ensure_root().public()])
    watcher = TrustFile.open(store.trust_path, [store.ensure_root().public()])
    store.trust_path.write_text("{ half written")
    assert not watcher.poll()
    assert watcher.verifier.version == 1


def test_replays_are_refused_and_duplicates_get_their_last_ack(
    store: KeyStore, signer: CommandSigner
) -> None:
    lamp, _ = lantern(store)
    first = signer.sign(light("first"))
    raw = first.to_bytes()
    assert acks(lamp.handle(raw, T0)) == [("first", "applied", None)]
    # The same envelope again (a QoS 1 duplicate, a retry): nothing changes, the last ack again.
    assert acks(lamp.handle(raw, T0)) == [("first", "applied", None)]
    # Another id with a seq this lantern accepted: a replay.
    twin = signer.sign(light("twin").model_copy(update={"seq": first.seq}))
    assert acks(lamp.handle(twin.to_bytes(), T0)) == [("twin", "rejected", "replayed")]
    # Out of order inside the window is fine (a retry overtaken by a newer command).
    newer = signer.sign(light("newer", priority=9).model_copy(update={"seq": first.seq + 50 * US}))
    older = signer.sign(light("older", priority=8).model_copy(update={"seq": first.seq + 1}))
    assert acks(lamp.handle(newer.to_bytes(), T0)) == [("newer", "applied", None)]
    assert acks(lamp.handle(older.to_bytes(), T0)) == [("older", "applied", None)]
    # Below the window (60 s under the newest accepted) is refused, whatever the lantern's clock.
    below = first.seq + 50 * US - 61 * US
    ancient = signer.sign(light("ancient", priority=11).model_copy(update={"seq": below}))
    assert acks(lamp.handle(ancient.to_bytes(), T0)) == [
        ("ancient", "rejected", "outside_replay_window")
    ]
    assert lamp.slot("light", 11) is None


def test_expired_signed_command_is_acked_expired_not_applied(
    store: KeyStore, signer: CommandSigner
) -> None:
    lamp, _ = lantern(store)
    stale = signer.sign(light("stale", ttl_s=10))
    assert acks(lamp.handle(stale.to_bytes(), T0 + timedelta(seconds=11))) == [
        ("stale", "expired", None)
    ]
    assert lamp.state(T0).channels["light"].cmd_id is None


def test_replay_guard_keeps_its_floor_across_a_reboot_and_bounds_memory() -> None:
    guard = ReplayGuard(lambda: 60.0)
    base = 10**15
    for i in range(SEQ_CAP + 10):
        assert guard.check("k", base + i) is None
        guard.accept("k", base + i)
    # The oldest seqs fell out of memory: refused as outside the window (fails closed).
    assert guard.check("k", base) == Reason.OUTSIDE_REPLAY_WINDOW
    assert guard.check("k", base + SEQ_CAP + 9) == Reason.REPLAYED
    assert guard.check("other", base) is None  # per signing key
    image = json.loads(json.dumps(guard.to_json()))  # what non-volatile memory holds
    rebooted = ReplayGuard.from_json(lambda: 60.0, image)
    assert rebooted.highest("k") == guard.highest("k")
    assert rebooted.check("k", base - 61 * US) == Reason.OUTSIDE_REPLAY_WINDOW
    assert rebooted.check("k", base) == Reason.OUTSIDE_REPLAY_WINDOW  # the floor survived
    # Every seq it accepted inside the window is still refused after the reboot.
    assert rebooted.check("k", base + SEQ_CAP + 9) == Reason.REPLAYED
    assert rebooted.check("k", base + SEQ_CAP + 10) is None
    for bad, message in (([], "object"), ({"k": {"high": -1}}, "seqs"), ({"k": 3}, "object")):
        with pytest.raises(ReplayImageError, match=message):
            ReplayGuard.from_json(lambda: 60.0, bad)


def test_broken_lamp_fails_light_commands_with_its_reason(
    store: KeyStore, signer: CommandSigner
) -> None:
    lamp, _ = lantern(store)
    lamp.broken = {"light": Reason.LAMP_BROKEN.value}
    assert acks(lamp.handle(signer.sign(light("x")).to_bytes(), T0)) == [
        ("x", "failed", "lamp_broken")
    ]
    assert lamp.slot("light", 10) is None


def test_a_group_copy_is_parsed_and_hashed_once_for_all_its_lanterns(
    store: KeyStore, signer: CommandSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fleet's lanterns share one parse of a group copy (firmware_sim/envelopes.py) and the
    verifier one digest of it: 3,533 lanterns each parsing and hashing the same bytes was most
    of the simulator's time before it acked a city-wide warning (issue 14)."""
    hashed = [0]
    signing_bytes = CommandEnvelope.signing_bytes

    def counted(self: CommandEnvelope) -> bytes:
        hashed[0] += 1
        return signing_bytes(self)

    monkeypatch.setattr(CommandEnvelope, "signing_bytes", counted)
    verifier = TrustVerifier(store.trust_list(), [store.ensure_root().public()])
    envelopes = EnvelopeCache()
    group = "groups/street/bahnhofstrasse-0a1b2c"
    lanterns = [
        Lantern(
            f"L{i}",
            verifier=verifier,
            groups=[("street", "bahnhofstrasse-0a1b2c")],
            parse=envelopes.parse,
        )
        for i in range(100)
    ]
    copy = signer.address(signer.sign(light("street", aud=None)), [group])[group]
    hashed[0] = 0
    for lamp in lanterns:
        assert acks(lamp.handle(copy, T0, group)) == [("street", "applied", None)]
    assert verifier.stats["verified"] == 1
    assert envelopes.hits == 99
    assert hashed[0] == 1
    # Still judged per lantern: one not in the group refuses the copy, one given other bytes
    # (tampered) checks them afresh and refuses them.
    stranger = Lantern("X1", verifier=verifier, parse=envelopes.parse)
    assert acks(stranger.handle(copy, T0, group)) == [("street", "rejected", "wrong_audience")]
    tampered = json.loads(copy)
    tampered["id"], tampered["payload"]["color"] = "street-2", "#0000FF"
    forged = json.dumps(tampered).encode()
    assert acks(lanterns[0].handle(forged, T0, group)) == [
        ("street-2", "rejected", "bad_signature")
    ]
