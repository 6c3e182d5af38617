"""Key store and signer: files, permissions, rotation without a gap, revocation, re-signing."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lightctl.errors import Conflict, NotFound
from lightctl.protocol import CommandEnvelope, LightPayload
from lightctl.protocol.trust import TrustList, b64decode
from lightctl.signing import CommandSigner, KeyStore, NoSigningKey

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def counter(start: int = 1_000) -> object:
    state = {"n": start}

    def next_seq() -> int:
        state["n"] += 1
        return state["n"]

    return next_seq


def envelope(priority: int = 10, seq: int | None = None, at: datetime = T0) -> CommandEnvelope:
    return CommandEnvelope(
        id="cmd-1",
        channel="light",
        op="set",
        priority=priority,
        issued_at=at,
        expires_at=at + timedelta(minutes=10),
        payload=LightPayload(on=True, color="#FF0000"),
        seq=seq if seq is not None else int(at.timestamp() * 1_000_000),
    )


def verifies(store: KeyStore, env: CommandEnvelope) -> bool:
    trust = store.trust_list()
    key = next(k for k in trust.keys if k.kid == env.kid)
    raw_key = b64decode(key.public_key, 32)
    assert raw_key is not None
    assert env.sig is not None
    public = Ed25519PublicKey.from_public_bytes(raw_key)
    signature = b64decode(env.sig, 64)
    assert signature is not None
    public.verify(signature, env.signing_bytes())  # raises when wrong
    return True


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> KeyStore:
    return KeyStore.in_data_dir(tmp_path, clock)


def test_generate_writes_owner_only_private_keys_and_a_trust_list(store: KeyStore) -> None:
    created = store.generate()
    assert {k.scope for k in created} == {"ordinary", "life_safety"}
    for key in created:
        mode = stat.S_IMODE((store.directory / f"{key.kid}.pem").stat().st_mode)
        assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    trust = TrustList.from_bytes(store.trust_path.read_bytes())
    assert {k.kid for k in trust.keys} == {k.kid for k in created}
    assert trust.revoked == []
    assert trust.version == 1
    # The trust list holds public keys only.
    assert "PRIVATE" not in store.trust_path.read_text()
    with pytest.raises(Conflict):
        store.generate()
    assert store.ensure() == []


def test_priorities_one_to_three_are_signed_with_the_life_safety_key(
    store: KeyStore, clock: Clock
) -> None:
    store.generate()
    signer = CommandSigner(store, clock, counter())  # type: ignore[arg-type]
    registry = store.load()
    life = registry.signing("life_safety", T0)
    ordinary = registry.signing("ordinary", T0)
    assert life is not None
    assert ordinary is not None
    for priority, kid in ((1, life.kid), (3, life.kid), (4, ordinary.kid), (16, ordinary.kid)):
        signed = signer.sign(envelope(priority))
        assert signed.kid == kid
        assert verifies(store, signed)
    # The signature survives the wire: bytes -> model -> the same signing bytes.
    again = CommandEnvelope.from_bytes(signed.to_bytes())
    assert again.signing_bytes() == signed.signing_bytes()


def test_rotation_trusts_the_new_key_at_once_and_signs_with_it_later(
    store: KeyStore, clock: Clock
) -> None:
    store.generate()
    signer = CommandSigner(store, clock, counter())  # type: ignore[arg-type]
    old = signer.sign(envelope(1)).kid
    (new,) = store.rotate(["life_safety"], activate_after_s=60)
    trust = store.trust_list()
    assert new.kid in {k.kid for k in trust.keys}
    assert old in {k.kid for k in trust.keys}
    assert store.load().status(new, clock.now) == "pending"
    assert signer.sign(envelope(1)).kid == old  # lanterns are still loading the new list
    clock.now = T0 + timedelta(seconds=61)
    assert signer.sign(envelope(1)).kid == new.kid
    registry = store.load()
    statuses = {k.kid: registry.status(k, clock.now) for k in registry.keys}
    assert statuses[old] == "retired"
    assert statuses[new.kid] == "active"


def test_revocation_lists_the_key_and_refuses_the_signing_one_without_force(
    store: KeyStore, clock: Clock
) -> None:
    store.generate()
    current = store.load().signing("ordinary", T0)
    assert current is not None
    with pytest.raises(Conflict):
        store.revoke(current.kid)
    with pytest.raises(NotFound):
        store.revoke("nope")
    store.rotate(["ordinary"], activate_after_s=0)
    store.revoke(current.kid)
    trust = store.trust_list()
    assert trust.revoked == [current.kid]
    assert current.kid not in {k.kid for k in trust.keys}
    assert trust.version == 3  # generate, rotate, revoke
    with pytest.raises(Conflict):
        store.revoke(current.kid)


def test_no_key_for_a_scope_refuses_to_sign(store: KeyStore, clock: Clock) -> None:
    signer = CommandSigner(store, clock, counter())  # type: ignore[arg-type]
    with pytest.raises(NoSigningKey):
        signer.sign(envelope(1))
    store.generate()
    life = store.load().signing("life_safety", T0)
    assert life is not None
    store.revoke(life.kid, force=True)
    with pytest.raises(NoSigningKey):
        signer.sign(envelope(1))
    assert signer.sign(envelope(10)).kid is not None


def test_stale_envelopes_are_re_signed_with_a_fresh_seq_and_the_current_key(
    store: KeyStore, clock: Clock
) -> None:
    store.generate(replay_window_s=600)
    signer = CommandSigner(store, clock, counter(10**18))  # type: ignore[arg-type]
    unsigned = envelope(1)
    assert signer.stale(unsigned, T0)
    signed = signer.sign(unsigned)
    assert not signer.stale(signed, T0)
    # Half the replay window later a lantern could refuse it: renew before sending again.
    assert not signer.stale(signed, T0 + timedelta(seconds=299))
    assert signer.stale(signed, T0 + timedelta(seconds=301))
    renewed = signer.refresh(signed)
    assert (renewed.id, renewed.payload) == (signed.id, signed.payload)
    assert renewed.seq > signed.seq
    assert renewed.sig != signed.sig
    assert verifies(store, renewed)
    # After a rotation, envelopes signed by the old key are renewed too.
    store.rotate(["life_safety"], activate_after_s=0)
    assert signer.stale(signed, T0)
    assert signer.refresh(signed).kid != signed.kid


def test_registry_file_is_plain_json_a_human_can_read(store: KeyStore) -> None:
    store.generate()
    data = json.loads(store.registry_path.read_text())
    assert data["version"] == 1
    assert {k["scope"] for k in data["keys"]} == {"ordinary", "life_safety"}
    assert all("private" not in json.dumps(k).lower() for k in data["keys"])
