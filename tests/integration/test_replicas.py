"""Replicas on one database know each other: one configured differently (other signing keys,
other templates) is refused at start-up naming the difference, a later split shows on /healthz,
and a lease gives a singleton job to exactly one live replica, passing on when it dies."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from lightctl.paths import TEMPLATES_DIR
from lightctl.runtime import Runtime
from lightctl.services.replicas import ALIVE_S, Fingerprint, ReplicaMismatch, Replicas
from lightctl.store import Database
from tests.integration.conftest import make_settings
from tests.support import FakeClock

SAME = Fingerprint("kid-a,kid-b", "t" * 64, "0002_replicas")


def test_a_replica_configured_differently_is_refused_naming_what_differs(
    database: Database,
) -> None:
    database.create_all()
    clock = FakeClock()
    first = Replicas(database, clock, SAME)
    first.register()
    Replicas(database, clock, SAME).register()  # the same configuration joins

    other_keys = Fingerprint("kid-c", SAME.templates_digest, SAME.schema_revision)
    with pytest.raises(ReplicaMismatch) as refused:
        Replicas(database, clock, other_keys).register()
    text = refused.value.message
    assert first.id in text
    assert "kid-c" in text
    assert "kid-a,kid-b" in text

    other_texts = Fingerprint(SAME.signing_kids, "u" * 64, SAME.schema_revision)
    with pytest.raises(ReplicaMismatch, match="other warning templates"):
        Replicas(database, clock, other_texts).register()

    clock.now += timedelta(seconds=ALIVE_S + 1)  # the others died without signing off
    Replicas(database, clock, other_keys).register()  # nobody alive disagrees any more


def test_a_split_after_start_is_reported_by_every_replica(database: Database) -> None:
    database.create_all()
    clock = FakeClock()
    first, second = Replicas(database, clock, SAME), Replicas(database, clock, SAME)
    first.register()
    second.register()
    assert (first.problems, second.problems) == ([], [])
    # The second replica's keys were rotated by hand on its machine only, then it restarted.
    second.fingerprint = Fingerprint("kid-new", SAME.templates_digest, SAME.schema_revision)
    second.beat()
    first.beat()
    assert any("kid-new" in p for p in first.problems)
    assert any("kid-a,kid-b" in p for p in second.problems)


def test_a_lease_has_one_holder_and_passes_on_when_it_lapses(database: Database) -> None:
    database.create_all()
    clock = FakeClock()
    a, b = Replicas(database, clock, SAME), Replicas(database, clock, SAME)
    assert a.hold("job", 15)
    assert not b.hold("job", 15)
    assert a.hold("job", 15)  # renewing
    assert a.holder("job") == a.id
    clock.now += timedelta(seconds=16)  # a stopped renewing (killed)
    assert b.hold("job", 15)
    assert not a.hold("job", 15)
    assert b.holder("job") == b.id
    asyncio.run(b.stop())  # signing off releases at once
    assert a.hold("job", 15)


def test_a_service_with_other_templates_does_not_start_beside_a_running_one(
    database: Database, tmp_path: Path
) -> None:
    database.create_all()
    running = Runtime(make_settings(tmp_path / "a", "mqtt://127.0.0.1:1", "r"), database)
    running_replicas = Replicas(database, FakeClock(), running._fingerprint())
    running_replicas.register()

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    first = sorted(templates.glob("*.toml"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n# edited here only\n")
    settings = make_settings(tmp_path / "a", "mqtt://127.0.0.1:1", "r", templates_dir=templates)
    with pytest.raises(ReplicaMismatch, match="other warning templates"):
        Runtime(settings, database).check_replicas()
