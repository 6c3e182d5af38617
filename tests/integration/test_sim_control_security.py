"""The simulator is not a back door (issue 13, finding 6): its control API answers only to its
token, and a trust list is taken only when the provisioned root key signed it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_sim import Fleet, LanternSpec
from firmware_sim.control import ControlServer
from firmware_sim.probe import ServiceProbe
from firmware_sim.verifier import TrustFile
from lightctl.protocol import CommandEnvelope, LightPayload, Topics
from lightctl.protocol.trust import TrustedKey, TrustList
from lightctl.services.sequence import SequenceCounter
from lightctl.signing import KeyStore
from lightctl.signing.root import RootKey
from tests.integration.conftest import FleetThread

pytestmark = pytest.mark.broker

LANTERNS = ["S0", "S1"]


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore.in_data_dir(tmp_path)
    store.generate()
    store.ensure_root()
    return store


@pytest.fixture
def sim(mosquitto: Any, topic_root: str, keys: KeyStore) -> Iterator[FleetThread]:
    fleet = Fleet(
        mosquitto.url,
        [LanternSpec(i) for i in LANTERNS],
        topics=Topics(topic_root),
        gateway_prefix="ctl",
        trust=TrustFile.open(keys.trust_path, [keys.ensure_root().public()]),
    )
    thread = FleetThread(fleet)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def server(sim: FleetThread) -> Iterator[ControlServer]:
    control = ControlServer(sim.fleet, 0)
    asyncio.run_coroutine_threadsafe(control.start(), sim.loop).result(5)
    yield control
    asyncio.run_coroutine_threadsafe(control.stop(), sim.loop).result(5)


def client(server: ControlServer, token: str | None, scheme: str = "Bearer") -> httpx.Client:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5, headers=headers)


def attacker_key() -> tuple[Ed25519PrivateKey, TrustedKey]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    public = base64.b64encode(raw).decode()
    return private, TrustedKey(kid="ls-evil", scope="life_safety", public_key=public)


def test_without_its_token_the_control_api_answers_401_and_changes_nothing(
    server: ControlServer, sim: FleetThread, keys: KeyStore
) -> None:
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/healthz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/lanterns/S0", {}),
        ("GET", "/commands/x", {}),
        ("GET", "/faults", {}),
        ("POST", "/faults", {"json": {"spec": "reboot;offline=60"}}),
        ("DELETE", "/faults", {}),
        ("PUT", "/trust", {"content": keys.trust_list().to_bytes()}),
        ("GET", "/nowhere", {}),
    ]

    def boots_now() -> dict[str, int]:
        return sim.fleet.call(lambda: {i: sim.fleet.unit(i).link.boot for i in LANTERNS})

    boots = boots_now()
    presented = [
        (None, "Bearer"),
        (server.token, "Basic"),
        ("x" * 43, "Bearer"),
        (server.token[:-1], "Bearer"),
        (f"{server.token}x", "Bearer"),
    ]
    for token, scheme in presented:
        with client(server, token, scheme) as anonymous:
            for method, path, extra in requests:
                answer = anonymous.request(method, path, **extra)
                assert answer.status_code == 401, (token, method, path)
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert "token" in answer.json()["detail"]
    with client(server, server.token) as operator:
        assert operator.get("/faults").json() == {"faults": {}, "offline": []}
        assert operator.get("/healthz").json()["lanterns"] == len(LANTERNS)
    assert boots_now() == boots


def test_only_a_trust_list_signed_by_the_provisioned_root_is_taken(
    server: ControlServer, sim: FleetThread, keys: KeyStore, probe: ServiceProbe
) -> None:
    evil_private, evil_key = attacker_key()
    held = keys.trust_list()
    assert held.version == 1
    wanted = held.model_copy(update={"version": 99, "keys": [*held.keys, evil_key]})
    other_root = RootKey.of(Ed25519PrivateKey.generate())
    signed = keys.ensure_root().sign(wanted)
    tampered = signed.model_copy(update={"version": 100})
    offers = {
        "unsigned": wanted.model_copy(update={"root_kid": None, "sig": None}),
        "unknown_root": other_root.sign(wanted),
        # Our root's signature over another list: moved onto the attacker's.
        "bad_signature": tampered,
    }
    with client(server, server.token) as operator:
        for reason, offered in offers.items():
            answer = operator.put("/trust", content=offered.to_bytes())
            assert answer.status_code == 403, reason
            assert answer.json()["reason"] == reason
            assert "trust list refused" in answer.json()["detail"]
        assert operator.get("/metrics").json()["trust_version"] == 1

        # A priority-1 warning signed with the attacker's key: the lanterns never trusted it.
        now = datetime.now(UTC)
        evil = CommandEnvelope(
            id="evil-1",
            aud="lanterns/S0",
            role="dispatcher",
            channel="light",
            op="set",
            priority=1,
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
            payload=LightPayload(on=True, color="#FF0000", effect="blink", period_ms=500),
            seq=SequenceCounter(0).next(),
            kid=evil_key.kid,
        )
        sig = base64.b64encode(evil_private.sign(evil.signing_bytes())).decode()
        probe.send("S0", evil.model_copy(update={"sig": sig}))
        assert probe.wait_for(lambda: bool(probe.acks("S0", "evil-1")), 10)
        assert [(a.status.value, a.reason) for a in probe.acks("S0", "evil-1")] == [
            ("rejected", "unknown_key")
        ]
        assert sim.fleet.call(lambda: sim.fleet.lantern("S0").slot("light", 1)) is None

        # The genuine next list, signed by the root the lanterns hold: taken.
        rotated = keys.rotate(["ordinary"], activate_after_s=0)
        genuine = keys.trust_list()
        assert genuine.version == 2
        assert genuine.sig is not None
        answer = operator.put("/trust", content=genuine.to_bytes())
        assert answer.json() == {"taken": True, "version": 2}
        assert operator.get("/metrics").json()["trust_version"] == 2
        # The same list again is not newer: nothing changes, and it says why.
        again = operator.put("/trust", content=genuine.to_bytes()).json()
        assert again == {"taken": False, "version": 2, "reason": "not_newer"}
    trusted = sim.fleet.call(lambda: sim.fleet.verifier.trust)  # type: ignore[union-attr]
    assert rotated[0].kid in {k.kid for k in trusted.keys}
    assert evil_key.kid not in {k.kid for k in trusted.keys}


def test_an_unsigned_list_on_disk_is_refused_at_start_and_when_it_changes(
    keys: KeyStore, tmp_path: Path
) -> None:
    root = keys.ensure_root().public()
    watcher = TrustFile.open(keys.trust_path, [root])
    unsigned = keys.trust_list().model_copy(update={"version": 7, "root_kid": None, "sig": None})
    keys.trust_path.write_bytes(unsigned.to_bytes())
    assert watcher.poll() is False
    assert watcher.verifier.version == 1
    assert watcher.verifier.stats["trust_refused_unsigned"] == 1
    with pytest.raises(ValueError, match="trust list refused: unsigned"):
        TrustFile.open(keys.trust_path, [root])
    assert isinstance(TrustList.from_bytes(keys.trust_path.read_bytes()), TrustList)
