"""Keys are rotated (and the old one revoked) while a warning plays: the warning plays on to the
end on every lantern, new commands are signed with the new key, the revoked key is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware_sim.probe import ServiceProbe
from firmware_sim.verifier import TrustVerifier
from lightctl.cli import app
from lightctl.protocol import CommandEnvelope, Topics
from lightctl.signing import KeyStore
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from tests.integration.conftest import LANTERNS, LiveService, make_settings
from tests.integration.resilience import (
    audio_command,
    finished,
    on_fleet,
    plays,
    signed_fleet,
    wait_until,
)
from tests.support import MosquittoProcess, cli_runner

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

WARNING = "Gasaustritt in der Bahnhofstrasse. Verlassen Sie das Gebiet."


def envelopes(db: Database, alert_id: str) -> list[CommandEnvelope]:
    with db.session() as session:
        return [
            CommandEnvelope.from_bytes(c.envelope)
            for c in alert_store.commands_of(session, alert_id)
        ]


def keys_cli(*args: str) -> str:
    result = cli_runner().invoke(app, ["keys", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_rotation_during_a_running_warning_silences_no_lantern(
    sqlite_inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, mosquitto.url, topic_root, ack_timeout_s=3.0)
    data_dir = str(settings.data_dir)
    sim = signed_fleet(mosquitto.url, LANTERNS, topic_root, settings.data_dir, speed=2)
    service = LiveService(settings, sqlite_inventory)
    service.start()
    sim.start()
    verifier = sim.fleet.verifier
    assert isinstance(verifier, TrustVerifier)
    try:
        response = service.http.post(
            "/alerts",
            json={
                "target": {"streets": ["Bahnhofstrasse"]},
                "messages": {"de": WARNING},
                "repeat": 2,
                "interval_s": 1,
            },
        )
        assert response.status_code == 201, response.text
        first = response.json()
        count = first["lantern_count"]
        service.wait_for(first["id"], lambda b: b["counts"].get("playing") == count, 20)
        old_kids: set[str] = set()
        for env in envelopes(sqlite_inventory, first["id"]):
            assert env.kid is not None, env.id  # every command is signed
            old_kids.add(env.kid)

        # Rotate both keys while every lantern on the street plays the warning.
        db_url = sqlite_inventory.url
        keys_cli(
            "rotate", "--activate-after-s", "1.5", "--data-dir", data_dir, "--database-url", db_url
        )
        wait_until(lambda: on_fleet(sim, lambda: verifier.version) == 2, 5, "the new trust list")
        store = KeyStore.in_data_dir(settings.data_dir)

        def new_keys_sign() -> bool:
            registry, now = store.load(), datetime.now(UTC)
            active = [registry.signing(scope, now) for scope in ("life_safety", "ordinary")]
            return all(k is not None and k.kid not in old_kids for k in active)

        wait_until(new_keys_sign, 10, "the new keys to start signing")
        second = service.http.post(
            "/alerts",
            json={"target": {"streets": ["Poststrasse"]}, "messages": {"de": "Probealarm."}},
        ).json()
        new_kids = {e.kid for e in envelopes(sqlite_inventory, second["id"])}
        assert new_kids
        assert not new_kids & old_kids
        listed = json.loads(keys_cli("list", "--json", "--data-dir", data_dir))["keys"]
        statuses = {k["kid"]: k["status"] for k in listed}
        assert {statuses[k] for k in old_kids} == {"retired"}
        assert {statuses[k] for k in new_kids} == {"active"}

        # Revoke the old life-safety key while the warning is still playing.
        for kid in old_kids:
            keys_cli("revoke", kid, "--data-dir", data_dir, "--database-url", db_url)
        wait_until(
            lambda: on_fleet(sim, lambda: verifier.version) == 2 + len(old_kids), 5, "revocation"
        )
        assert service.http.get(f"/alerts/{first['id']}").json()["counts"].get("playing")

        body = service.wait_for(first["id"], finished, 40)
        assert body["counts"] == {"done": count}, body["counts"]
        audio_id = audio_command(body)
        for row in service.http.get(f"/alerts/{first['id']}", params={"lanterns": True}).json()[
            "lanterns"
        ]:
            assert plays(sim, row["lantern"], audio_id) == 1
        done = service.wait_for(second["id"], finished, 30)
        assert done["counts"] == {"done": second["lantern_count"]}

        # Both key changes are on the audit trail, naming the keys.
        rotated = service.http.get("/audit", params={"action": "keys.rotate"}).json()
        revoked = {
            r["subject"]
            for r in service.http.get("/audit", params={"action": "keys.revoke"}).json()
        }
        assert len(rotated) == 1
        rotated_kids = set(rotated[0]["subject"].split(","))
        assert len(rotated_kids) == 2  # both scopes
        assert new_kids <= rotated_kids
        assert revoked == old_kids

        # The revoked key is refused from now on: the first warning replayed anywhere.
        old_audio = next(
            e for e in envelopes(sqlite_inventory, first["id"]) if e.channel == "audio"
        )
        probe = ServiceProbe(mosquitto.url, Topics(topic_root))
        probe.start()
        try:
            target = next(
                r["lantern"]
                for r in service.http.get(
                    f"/alerts/{second['id']}", params={"lanterns": True}
                ).json()["lanterns"]
            )
            # Addressed to that lantern and signed with the revoked key (its private half leaked,
            # say): the key is what is refused, not the audience.
            assert old_audio.kid is not None
            private = KeyStore.in_data_dir(settings.data_dir).private_key(old_audio.kid)
            addressed = old_audio.model_copy(update={"aud": f"lanterns/{target}", "sig": None})
            sig = base64.b64encode(private.sign(addressed.signing_bytes())).decode()
            probe.send(target, addressed.model_copy(update={"sig": sig}))
            assert probe.wait_for(lambda: bool(probe.acks(target, old_audio.id)), 10)
            ack = probe.acks(target, old_audio.id)[0]
            assert (ack.status.value, ack.reason) == ("rejected", "revoked_key")
        finally:
            probe.stop()
    finally:
        sim.stop()
        service.stop()
