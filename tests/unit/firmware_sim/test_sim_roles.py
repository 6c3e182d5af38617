"""The issuer role in a signed envelope: a lantern refuses a priority above the role's ceiling,
a role its key may not sign for, and a role claim changed after signing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from firmware_sim.effects import SendAck
from firmware_sim.lantern import Lantern
from firmware_sim.replay import ReplayGuard
from firmware_sim.verifier import TrustVerifier
from lightctl.domain.roles import CEILING, ISSUER_CEILING, SCHEDULER, Role, issuer_role
from lightctl.errors import PriorityAboveCeiling
from lightctl.protocol import CommandEnvelope, LightPayload
from lightctl.protocol.trust import KeyScope
from lightctl.signing import CommandSigner, KeyStore
from tests.unit.firmware_sim.conftest import T0, US


def light(cmd_id: str, priority: int, role: str | None) -> CommandEnvelope:
    return CommandEnvelope(
        id=cmd_id,
        aud="lanterns/L1",
        role=role,
        channel="light",
        op="set",
        priority=priority,
        issued_at=T0,
        expires_at=T0 + timedelta(minutes=10),
        payload=LightPayload(on=True, color="#FF0000"),
        seq=int(T0.timestamp() * US) + priority,
    )


def signed_by(store: KeyStore, scope: KeyScope, env: CommandEnvelope) -> CommandEnvelope:
    """Signed with the service's own key of ``scope``: genuine signature, whatever it claims."""
    key = store.load().signing(scope, T0)
    assert key is not None
    unsigned = env.model_copy(update={"kid": key.kid, "sig": None})
    signature = store.private_key(key.kid).sign(unsigned.signing_bytes())
    return unsigned.model_copy(update={"sig": base64.b64encode(signature).decode()})


def lantern(store: KeyStore) -> Lantern:
    verifier = TrustVerifier(store.trust_list(), [store.ensure_root().public()])
    return Lantern("L1", verifier=verifier, replay=ReplayGuard(lambda: verifier.replay_window_s))


def answer(lamp: Lantern, raw: bytes) -> list[tuple[str, str | None]]:
    """The lantern's acks for this command (not those of a command it replaced)."""
    cmd_id = json.loads(raw)["id"]
    effects = lamp.handle(raw, T0)
    return [
        (e.status.value, e.reason) for e in effects if isinstance(e, SendAck) and e.cmd_id == cmd_id
    ]


def test_a_priority_above_the_roles_ceiling_is_refused_whichever_key_signed_it(
    store: KeyStore,
) -> None:
    lamp = lantern(store)
    cases: list[tuple[str, int, KeyScope]] = [
        # (role, priority, key): a genuine signature every time; only the role forbids it.
        ("city_app", 1, "life_safety"),
        ("city_app", 8, "ordinary"),
        ("operator", 4, "life_safety"),
        ("feed", 1, "life_safety"),
        (SCHEDULER, 10, "ordinary"),
    ]
    for i, (role, priority, scope) in enumerate(cases):
        env = signed_by(store, scope, light(f"c{i}", priority, role))
        assert answer(lamp, env.to_bytes()) == [("rejected", "above_role_ceiling")], role
    assert lamp.state(T0).channels["light"].cmd_id is None
    # At its ceiling each role is obeyed: the refusals above were the ceiling, nothing else.
    for i, (role, priority) in enumerate([("city_app", 10), ("operator", 8), ("feed", 2)]):
        scope = "life_safety" if priority <= 3 else "ordinary"
        env = signed_by(store, scope, light(f"ok{i}", priority, role))
        assert answer(lamp, env.to_bytes()) == [("applied", None)], role


def test_a_key_may_sign_only_for_its_own_roles(store: KeyStore) -> None:
    """The ordinary (steering) key cannot speak as dispatcher or feed, even at slot 10, and the
    life-safety key signs no city app or schedule: each role has exactly one key."""
    lamp = lantern(store)
    cases: list[tuple[str, int, KeyScope]] = [
        ("dispatcher", 10, "ordinary"),
        ("feed", 12, "ordinary"),
        ("admin", 16, "ordinary"),
        ("city_app", 10, "life_safety"),
        (SCHEDULER, 15, "life_safety"),
    ]
    for i, (role, priority, scope) in enumerate(cases):
        env = signed_by(store, scope, light(f"k{i}", priority, role))
        assert answer(lamp, env.to_bytes()) == [("rejected", "key_not_allowed_for_role")], role
    # The ordinary key at a life-safety slot stays refused for that reason, whatever the role.
    env = signed_by(store, "ordinary", light("p1", 1, "dispatcher"))
    assert answer(lamp, env.to_bytes()) == [("rejected", "key_not_allowed_for_life_safety")]
    assert lamp.state(T0).channels["light"].cmd_id is None


def test_a_role_claim_changed_after_signing_is_refused(
    store: KeyStore, signer: CommandSigner
) -> None:
    lamp = lantern(store)
    genuine = signer.sign(light("g", 10, "city_app"))
    body = json.loads(genuine.to_bytes())

    def forged(role: str | None) -> bytes:
        changed = {k: v for k, v in body.items() if k != "role"}
        return json.dumps(changed if role is None else {**changed, "role": role}).encode()

    cases = {
        # Same key, a ceiling that allows slot 10: only the signature tells the lie.
        "operator": "bad_signature",
        # A role of the other key: refused before the signature is even checked.
        "dispatcher": "key_not_allowed_for_role",
        "viewer": "unknown_role",  # writes no slot, so issues no command
        "root": "unknown_role",
        None: "missing_role",
    }
    for role, reason in cases.items():
        assert answer(lamp, forged(role)) == [("rejected", reason)], role
    assert lamp.state(T0).channels["light"].cmd_id is None
    assert answer(lamp, genuine.to_bytes()) == [("applied", None)]


def test_the_signer_signs_each_role_with_its_key_and_never_above_its_ceiling(
    store: KeyStore, signer: CommandSigner
) -> None:
    registry = store.load()
    life, ordinary = registry.signing("life_safety", T0), registry.signing("ordinary", T0)
    assert life is not None
    assert ordinary is not None
    lamp = lantern(store)
    expected = [
        ("dispatcher", 1, life.kid),
        ("dispatcher", 10, life.kid),  # a dispatcher's slot 10 still carries a dispatcher's key
        ("feed", 2, life.kid),
        ("operator", 8, ordinary.kid),
        ("city_app", 10, ordinary.kid),
        (SCHEDULER, 15, ordinary.kid),
    ]
    for i, (role, priority, kid) in enumerate(expected):
        env = signer.sign(light(f"s{i}", priority, role))
        assert env.kid == kid, role
        assert answer(lamp, env.to_bytes())[0][0] == "applied", role
    for role, priority in [("city_app", 1), ("operator", 3), ("viewer", 10), ("root", 16)]:
        with pytest.raises(PriorityAboveCeiling):
            signer.sign(light("x", priority, role))


def test_unsigned_development_still_works_and_checks_a_claimed_role() -> None:
    lamp = Lantern("L1")  # no trust list: unsigned development
    assert answer(lamp, light("plain", 10, None).to_bytes()) == [("applied", None)]
    assert answer(lamp, light("app", 1, "city_app").to_bytes()) == [
        ("rejected", "above_role_ceiling")
    ]
    assert answer(lamp, light("ops", 8, "operator").to_bytes()) == [("applied", None)]
    assert lamp.slot("light", 1) is None


def test_issuer_ceilings_follow_the_one_role_table() -> None:
    for role, ceiling in CEILING.items():
        assert ISSUER_CEILING.get(role.value) == ceiling
    assert ISSUER_CEILING[SCHEDULER] == 15
    assert SCHEDULER not in {r.value for r in Role}  # never given to a user or token


def test_the_issuer_role_is_the_callers_least_powerful_role_that_covers_the_priority() -> None:
    both = frozenset({Role.DISPATCHER, Role.OPERATOR})
    assert issuer_role(both, 1) == "dispatcher"
    assert issuer_role(both, 8) == "operator"
    assert issuer_role(frozenset({Role.ADMIN, Role.DISPATCHER}), 1) == "dispatcher"
    assert issuer_role(frozenset({Role.ADMIN}), 10) == "admin"
    assert issuer_role(frozenset({Role.CITY_APP}), 3) is None
    assert issuer_role(frozenset({Role.VIEWER}), 16) is None
