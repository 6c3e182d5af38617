"""A city-wide warning on the path a 100,000-lantern alert takes (delivery rows written after the
answer, in chunks) goes out by group copies for whole groups: every lantern of a group that got
a copy heard it there, most lantern-commands went by group, and every lantern ends `done` once.

The city is small (600 lanterns) but as dense as the benchmark's synthetic 100,000, so its
streets and cells are as full; chunks are small (250 rows) so that they end inside streets.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightctl.services.inventory import import_lanterns
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings, simulated_fleet
from tests.integration.fanout_support import (
    CITY_WIDE,
    GroupCopies,
    every_command_ended,
    synthetic_city,
    wait_groups_confirmed,
)
from tests.integration.resilience import audio_command
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LANTERNS = 600
CHANNELS = 3  # audio, light, projection: every synthetic lantern has all four capabilities
# Each chunk of rows is published before the next is written: 1,800 rows in 8 chunks.
ROWS_CHUNK = 250


@pytest.fixture
def city(own_mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path) -> Iterator[LiveService]:
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    db.create_all()
    import_lanterns(db, synthetic_city(tmp_path / "city.geojson", LANTERNS), street_field="street")
    settings = make_settings(
        tmp_path,
        own_mosquitto.url,
        topic_root,
        # Rows written after the answer, as above 20,000 rows by default (issue 14).
        delivery_rows_inline=0,
        delivery_rows_chunk=ROWS_CHUNK,
    )
    service = LiveService(settings, db)
    service.start()
    yield service
    service.stop()
    db.dispose()


def test_city_wide_warning_goes_by_group_copies_for_whole_groups(
    city: LiveService, own_mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    service = city
    sim = simulated_fleet(
        own_mosquitto.url,
        topic_root,
        inventory=tmp_path / "city.geojson",
        data_dir=service.settings.data_dir,
        per_connection=200,
    )
    copies = GroupCopies(own_mosquitto.url, topic_root)
    copies.start()
    sim.start()
    try:
        took = wait_groups_confirmed(service.http, LANTERNS)
        memberships = service.runtime.memberships()
        listeners: dict[str, set[str]] = defaultdict(set)
        for lantern_id, groups in memberships.items():
            for aud in groups:
                listeners[aud].add(lantern_id)
        full = [aud for aud, members in listeners.items() if len(members) >= 2]
        before = service.http.get("/metrics").json()["counters"]

        started = time.monotonic()
        response = service.http.post(
            "/alerts",
            json={"target": CITY_WIDE, "messages": {"de": "Probealarm."}, "expires_in_s": 120},
        )
        assert response.status_code == 201, response.text
        assert response.json()["lantern_count"] == LANTERNS
        body = service.wait_for(response.json()["id"], every_command_ended, 90)
        elapsed = time.monotonic() - started
        assert body["counts"] == {"done": LANTERNS}, body["counts"]
        commands = {c["id"]: c for c in body["commands"]}
        assert len(commands) == CHANNELS

        audio = audio_command(body)

        def records() -> dict[str, tuple[list[str], list[str]]]:
            out = {}
            for lantern_id in memberships:
                record = sim.fleet.record(lantern_id)
                out[lantern_id] = (
                    [cmd for cmd, _clips in record.played],
                    list(record.received_on),
                )
            return out

        seen = sim.fleet.call(records)
        assert all(played.count(audio) == 1 for played, _on in seen.values())

        # Whole groups: every lantern listening to a group that carried a command heard it there.
        sent = [(cmd, aud) for cmd, aud in copies.snapshot() if cmd in commands]
        assert not copies.bad
        assert sent, "no command went out over a group topic"
        for _cmd, aud in sent:
            missed = [lid for lid in listeners[aud] if aud not in seen[lid][1]]
            assert not missed, f"{aud}: {len(missed)} of its lanterns never heard it there"
        # Most of the warning went by group: the lanterns outside a group of two or more, and a
        # street cut by a chunk's end, get their own copy; nothing else does.
        after = service.http.get("/metrics").json()["counters"]
        covered = after["outbox_group_covered"] - before["outbox_group_covered"]
        group_copies = after["outbox_group_published"] - before["outbox_group_published"]
        assert group_copies == len(sent)  # what the service counted, the broker handed on
        assert covered >= 0.85 * CHANNELS * LANTERNS, (covered, group_copies)
        assert group_copies <= CHANNELS * len(full)
        own = after["outbox_published"] - before["outbox_published"] - group_copies
        print(
            f"\ncity-wide, {LANTERNS} lanterns ({len(full)} groups of 2 or more, groups "
            f"confirmed after {took:.1f} s), rows in chunks of {ROWS_CHUNK}: {group_copies} "
            f"group copies covered {covered} of {CHANNELS * LANTERNS} lantern-commands, {own} "
            f"publishes to own topics (retries included); all done after {elapsed:.1f} s"
        )
    finally:
        copies.stop()
        sim.stop()
