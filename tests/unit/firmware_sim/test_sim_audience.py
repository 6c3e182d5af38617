"""Audience checks of the simulated firmware: a lantern acts only on envelopes addressed to it
(or to a group it belongs to) that arrived on that audience's topic."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_sim.effects import SendAck
from firmware_sim.lantern import Lantern
from firmware_sim.replay import ReplayGuard
from firmware_sim.verifier import TrustVerifier
from lightctl.protocol import (
    CommandEnvelope,
    LightPayload,
    ProjectionPayload,
    Topics,
    canonical_json,
)
from lightctl.signing import CommandSigner, KeyStore
from tests.unit.firmware_sim.conftest import T0, US


def light(cmd_id: str) -> CommandEnvelope:
    return CommandEnvelope(
        id=cmd_id,
        role="dispatcher",
        channel="light",
        op="set",
        priority=1,
        issued_at=T0,
        expires_at=T0 + timedelta(minutes=10),
        payload=LightPayload(on=True, color="#FF0000"),
        seq=int(T0.timestamp() * US),
    )


def lantern(store: KeyStore, lantern_id: str, groups: tuple[tuple[str, str], ...] = ()) -> Lantern:
    verifier = TrustVerifier(store.trust_list(), [store.ensure_root().public()])
    guard = ReplayGuard(lambda: verifier.replay_window_s)
    return Lantern(lantern_id, verifier=verifier, replay=guard, groups=groups)


def acks(effects: Sequence[object]) -> list[tuple[str, str, str | None]]:
    return [(e.cmd_id, e.status.value, e.reason) for e in effects if isinstance(e, SendAck)]


def test_a_copy_for_one_lantern_is_refused_by_another_and_does_not_burn_the_id(
    store: KeyStore, signer: CommandSigner
) -> None:
    a, b = lantern(store, "A"), lantern(store, "B")
    copies = signer.address(signer.sign(light("warn")), ["lanterns/A", "lanterns/B"])
    # A's copy, carried to B's own topic byte for byte: refused, nothing lit.
    assert acks(b.handle(copies["lanterns/A"], T0)) == [("warn", "rejected", "wrong_audience")]
    assert b.slot("light", 1) is None
    # B's own copy of the same command still plays (the refused one did not take its id or seq).
    assert acks(b.handle(copies["lanterns/B"], T0)) == [("warn", "applied", None)]
    assert acks(a.handle(copies["lanterns/A"], T0)) == [("warn", "applied", None)]


def test_the_topic_it_arrived_on_must_be_the_audience_it_names(
    store: KeyStore, signer: CommandSigner
) -> None:
    member = lantern(store, "A", groups=(("street", "badweg"),))
    own = signer.address(signer.sign(light("own")), ["lanterns/A"])["lanterns/A"]
    # Its own copy, but re-published on a group topic it listens to: refused.
    assert acks(member.handle(own, T0, arrived_on="groups/street/badweg")) == [
        ("own", "rejected", "wrong_audience")
    ]
    group = signer.address(signer.sign(light("grp")), ["groups/street/badweg"])
    raw = group["groups/street/badweg"]
    assert acks(member.handle(raw, T0, arrived_on="lanterns/A")) == [
        ("grp", "rejected", "wrong_audience")
    ]
    assert acks(member.handle(raw, T0, arrived_on="groups/street/badweg")) == [
        ("grp", "applied", None)
    ]
    outsider = lantern(store, "B", groups=(("street", "bahnhofstrasse"),))
    assert acks(outsider.handle(raw, T0, arrived_on="groups/street/badweg")) == [
        ("grp", "rejected", "wrong_audience")
    ]
    assert outsider.slot("light", 1) is None


def test_a_signed_envelope_without_an_audience_is_refused(
    store: KeyStore, signer: CommandSigner
) -> None:
    lamp = lantern(store, "A")
    legacy = signer.sign(light("old"))  # signed the way protocol v1 first shipped: no aud
    assert legacy.aud is None
    assert legacy.sig is not None
    assert acks(lamp.handle(legacy.to_bytes(), T0)) == [("old", "rejected", "missing_audience")]
    # Adding an audience afterwards breaks the signature: aud is inside what is signed.
    patched = legacy.model_copy(update={"aud": "lanterns/A"})
    assert acks(lamp.handle(patched.to_bytes(), T0)) == [("old", "rejected", "bad_signature")]


def test_unsigned_development_traffic_may_omit_the_audience_but_not_misstate_it() -> None:
    lamp = Lantern("A")
    assert acks(lamp.handle(light("dev").to_bytes(), T0)) == [("dev", "applied", None)]
    other = light("dev2").model_copy(update={"aud": "lanterns/B"})
    assert acks(lamp.handle(other.to_bytes(), T0)) == [("dev2", "rejected", "wrong_audience")]


def test_addressed_copies_are_exactly_what_the_lantern_re_derives(
    signer: CommandSigner,
) -> None:
    signed = signer.sign(light("x"))
    for aud, raw in signer.address(signed, ["lanterns/A", "groups/cell/8a1f"]).items():
        parsed = CommandEnvelope.from_bytes(raw)
        assert parsed.aud == aud
        # The bytes signed are the canonical JSON the lantern re-derives from what it parsed.
        body = json.loads(raw)
        del body["sig"]
        assert parsed.signing_bytes() == canonical_json(body)
        assert raw.startswith(parsed.signing_bytes()[:-1])
        assert parsed.model_copy(update={"aud": None, "sig": signed.sig}) == signed
        # Deterministic: the same command to the same audience is the same bytes on every send.
        assert signer.address(signed, [aud])[aud] == raw


def test_audiences_and_their_topics() -> None:
    topics = Topics("city")
    assert topics.audience_cmd("lanterns/L1") == topics.cmd("L1") == "city/v1/lanterns/L1/cmd"
    assert topics.audience_cmd("groups/street/badweg") == "city/v2/groups/street/badweg/cmd"
    assert topics.audience_of_cmd("city/v1/lanterns/L1/cmd") == "lanterns/L1"
    assert topics.audience_of_cmd("city/v2/groups/cell/8a/cmd") == "groups/cell/8a"
    for other in ("city/v1/lanterns/L1/ack", "x/v1/lanterns/L1/cmd", "city/v1/groups/a/cmd"):
        assert topics.audience_of_cmd(other) is None
    with pytest.raises(ValueError, match="not an audience"):
        topics.audience_cmd("lanterns/+")
    with pytest.raises(ValueError, match="aud"):
        CommandEnvelope.model_validate({**light("y").model_dump(), "aud": "lanterns/a/b"})


def test_a_copy_with_non_ascii_text_verifies_on_the_lantern(
    store: KeyStore, signer: CommandSigner
) -> None:
    text = light("t").model_copy(
        update={
            "channel": "projection",
            "payload": ProjectionPayload(pictogram="text", text="ÜBUNG – Achtung, تحذير"),
        }
    )
    raw = signer.address(signer.sign(text), ["lanterns/A"])["lanterns/A"]
    assert acks(lantern(store, "A").handle(raw, T0)) == [("t", "applied", None)]


def test_a_refused_copy_of_a_command_already_taken_does_not_speak_for_it(
    store: KeyStore, signer: CommandSigner
) -> None:
    """A's copy replayed to B after B took its own copy of the same command: B says nothing
    under that id (a `rejected` would end B's delivery in the service's view while it plays)."""
    a, b = lantern(store, "A"), lantern(store, "B")
    copies = signer.address(signer.sign(light("warn")), ["lanterns/A", "lanterns/B"])
    assert acks(b.handle(copies["lanterns/B"], T0)) == [("warn", "applied", None)]
    replayed = b.handle(copies["lanterns/A"], T0)
    assert acks(replayed) == []
    assert [type(e).__name__ for e in replayed] == ["Dropped"]
    assert b.dropped == 1
    assert b.slot("light", 1) == "warn"
    assert acks(a.handle(copies["lanterns/A"], T0)) == [("warn", "applied", None)]


def test_a_fleet_lantern_gets_the_groups_of_its_spec(store: KeyStore, tmp_path: Path) -> None:
    from firmware_sim import Fleet, LanternSpec
    from firmware_sim.verifier import TrustFile

    trust = TrustFile.open(store.trust_path, [store.ensure_root().public()])
    fleet = Fleet(
        "mqtt://127.0.0.1:1",
        [LanternSpec("A", groups=frozenset({("street", "badweg")})), LanternSpec("B")],
        trust=trust,
    )
    assert fleet.lantern("A").audiences == {"lanterns/A", "groups/street/badweg"}
    assert fleet.lantern("B").audiences == {"lanterns/B"}
    with pytest.raises(ValueError, match="no topic level"):
        LanternSpec("C", groups=frozenset({("street", "bad/weg")}))
