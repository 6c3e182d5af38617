"""The resilience tests on protocol v2: a 2,000-lantern city-wide fan-out over group topics,
interrupted once by a SIGKILL of ``lightctl serve`` (restarted) and once by a SIGKILL of the
broker (restarted without persistence). Every lantern ends in a terminal state (`done`, and
`applied` for light and projection), none plays twice, and group copies were really used:
counted on the broker, each read from its signed envelope.

The city is synthetic, as dense as the 100,000-lantern benchmark's (streets of ~18 lanterns,
250 m cells of ~36). The warning is the `test` template in German, whose clips every lantern
holds beforehand (the clip library): 2,000 lanterns downloading a free-text clip from a service
on a loaded 2-core machine took ~80 s (25 a second), longer than the rest of the test.

Each interruption comes from the broker side, in the paho thread of the client that counts
group copies, the moment the broker hands on the ``KILL_AT``-th copy: the fan-out is then
under way, never finished.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lightctl.geo.groups import memberships as memberships_of
from lightctl.paths import TEMPLATES_DIR
from lightctl.services.inventory import import_lanterns
from lightctl.services.targets import TargetResolver
from lightctl.signing import KeyStore
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import plans as plan_store
from tests.integration.conftest import LiveService, make_settings
from tests.integration.fanout_support import (
    CITY_WIDE,
    GroupCopies,
    Progress,
    every_command_ended,
    synthetic_city,
    wait_groups_confirmed,
)
from tests.integration.resilience import (
    ServeProcess,
    SimProcess,
    assert_all_done_once,
    audio_command,
    lantern_ids,
    wait_until,
)
from tests.support import MosquittoProcess, free_port

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LANTERNS = 2000
CHANNELS = 3
# ~110 streets and ~55 cells: a city-wide command goes out in ~110 group copies, three
# commands in ~330. The 60th copy is well inside the fan-out of the first command or two.
KILL_AT = 60
# The broker stays down this long: gateways and service retry after 1 s, then 2 s.
BROKER_DOWN_S = 1.5
WARNING = {"target": CITY_WIDE, "template": "test", "languages": ["de"], "expires_in_s": 300}
# Only the `test` template, in German, rendered and pushed to the lanterns as the clip library
# (a manifest or two, fetched once per gateway), as soon as the outbox is quiet.
LIBRARY: dict[str, Any] = {
    "prerender_templates": True,
    "clip_library_templates": ("test",),
    "clip_library_languages": ("de",),
    "clip_library_pace_s": 0.0,
    "clip_library_quiet_s": 0.5,
}


@pytest.fixture
def city(tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    """The synthetic city's GeoJSON and a SQLite database with it imported; a templates
    directory holding only `test` (start-up pre-renders every template in every language)."""
    inventory = synthetic_city(tmp_path / "city.geojson", LANTERNS)
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(TEMPLATES_DIR / "test.toml", templates / "test.toml")
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    db.create_all()
    import_lanterns(db, inventory, street_field="street")
    yield inventory, db
    db.dispose()


def wait_library_held(http: httpx.Client, count: int, timeout_s: float = 90) -> None:
    """Until every lantern reports holding every library manifest completely."""

    def held() -> bool:
        body = http.get("/clips/library").json()
        manifests = body["manifests"]
        return bool(manifests) and (
            body["lanterns_reporting"] >= count
            and all(m["complete"] == (m["lanterns"] or count) for m in manifests)
        )

    wait_until(held, timeout_s, "the clip library on every lantern")


def env_value(value: object) -> str:
    """A setting as ``lightctl serve`` reads it from the environment (lists as JSON)."""
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def listeners_of(memberships: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for lantern_id, groups in memberships.items():
        for aud in groups:
            out[aud].add(lantern_id)
    return out


def covered_on_broker(
    copies: GroupCopies, commands: set[str], listeners: dict[str, set[str]]
) -> int:
    """Lantern-commands the broker handed on by group copies (a copy sent again counts once)."""
    sent = {(cmd, aud) for cmd, aud in copies.snapshot() if cmd in commands}
    return sum(len(listeners[aud]) for _cmd, aud in sent)


def test_service_killed_mid_v2_fan_out_resumes_by_groups_and_nothing_plays_twice(
    city: tuple[Path, Database], own_mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    inventory, db = city
    ids = lantern_ids(inventory)
    data_dir = tmp_path / "data"
    KeyStore.in_data_dir(data_dir).ensure()
    port = free_port()
    token = f"lct_{secrets.token_urlsafe(32)}"
    env = {
        **os.environ,
        "LIGHTCTL_DATA_DIR": str(data_dir),
        "LIGHTCTL_DATABASE_URL": db.url,
        "LIGHTCTL_MQTT_URL": own_mosquitto.url,
        "LIGHTCTL_MQTT_ROOT": topic_root,
        "LIGHTCTL_MQTT_CLIENT_ID": f"svc-{topic_root}"[:60],
        "LIGHTCTL_HTTP_HOST": "127.0.0.1",
        "LIGHTCTL_HTTP_PORT": str(port),
        "LIGHTCTL_ACK_TIMEOUT_S": "5",
        "LIGHTCTL_TEMPLATES_DIR": str(tmp_path / "templates"),
        **{f"LIGHTCTL_{k.upper()}": env_value(v) for k, v in LIBRARY.items()},
        "LIGHTCTL_BOOTSTRAP_TOKEN": token,
        # The path of a 100,000-lantern alert: rows written after the answer, 1,000 a chunk,
        # so the restarted service also resumes writing them.
        "LIGHTCTL_DELIVERY_ROWS_INLINE": "0",
        "LIGHTCTL_DELIVERY_ROWS_CHUNK": "1000",
    }
    service = ServeProcess(env, tmp_path / "serve.log", port, token)
    # The fleet in its own process: this one only counts copies, so the kill comes on time.
    sim = SimProcess(
        own_mosquitto.url, inventory, topic_root, data_dir, tmp_path / "sim.log", per_connection=250
    )
    listeners = listeners_of(memberships_of(TargetResolver(db).refresh()))

    def kill_service() -> None:
        assert service.proc is not None
        os.kill(service.proc.pid, signal.SIGKILL)  # no shutdown code runs

    copies = GroupCopies(own_mosquitto.url, topic_root, at=KILL_AT, then=kill_service)
    service.start()
    sim.start()
    copies.start()
    try:
        confirmed_s = wait_groups_confirmed(service.http, LANTERNS)
        wait_library_held(service.http, LANTERNS)
        started = time.monotonic()
        response = service.http.post("/alerts", json=WARNING)
        assert response.status_code == 201, response.text
        alert = response.json()
        progress = Progress(service.http, alert["id"])
        progress.start()
        commands = {c["id"] for c in alert["commands"]}
        assert len(commands) == CHANNELS
        assert copies.reached.wait(60), f"only {len(copies.snapshot())} group copies seen"
        assert service.proc is not None
        service.proc.wait(timeout=10)
        at_kill = len(copies.snapshot())
        with db.session() as session:  # what the dead service had not sent yet
            unwritten = plan_store.pending(session)
            counts = alert_store.counts_of_commands(session, sorted(commands))
            planned = sum(c.get("planned", 0) for c in counts.values())
        assert unwritten + planned > 0, "the fan-out had finished before the kill"
        time.sleep(1.0)  # not a wait: downtime, lanterns go on playing and acking meanwhile
        service.start()

        wait_until(
            lambda: every_command_ended(service.alert(alert["id"])), 120, "every lantern to end"
        )
        elapsed = time.monotonic() - started
        body = service.alert(alert["id"])
        assert body["status"] == "completed"
        assert body["counts"] == {"done": LANTERNS}, body["counts"]
        for command in body["commands"]:
            expected = "done" if command["channel"] == "audio" else "applied"
            assert command["counts"] == {expected: LANTERNS}, command
        report = sim.get(f"/commands/{audio_command(body)}")
        assert report["played"] == dict.fromkeys(ids, 1)  # every lantern, exactly once
        assert not copies.bad  # every copy named its group inside what is signed
        covered = covered_on_broker(copies, commands, listeners)
        assert at_kill >= KILL_AT
        assert covered >= KILL_AT * 2  # each copy reached a group of two or more lanterns
        after = service.http.get("/metrics").json()["counters"]
        print(
            f"\nserve SIGKILLed at group copy {at_kill} ({unwritten} rows unwritten, {planned} "
            f"planned); restarted; all {LANTERNS} done {elapsed:.1f} s after the POST; group "
            f"copies in all {len(copies.snapshot())}, covering {covered} of "
            f"{CHANNELS * LANTERNS} lantern-commands on the broker; after the restart "
            f"{after['outbox_group_published']} group copies and "
            f"{after['outbox_published'] - after['outbox_group_published']} own-topic "
            f"publishes; groups confirmed {confirmed_s:.1f} s after the fleet connected"
        )
        print(progress.stop())
    finally:
        copies.stop()
        sim.stop()
        service.stop()


def test_broker_killed_mid_v2_fan_out_loses_and_repeats_nothing(
    city: tuple[Path, Database], own_mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    inventory, db = city
    ids = lantern_ids(inventory)
    settings = make_settings(tmp_path, own_mosquitto.url, topic_root, ack_timeout_s=5.0)
    settings = settings.model_copy(update={"templates_dir": tmp_path / "templates", **LIBRARY})
    sim = SimProcess(
        own_mosquitto.url,
        inventory,
        topic_root,
        settings.data_dir,
        tmp_path / "sim.log",
        per_connection=250,
    )
    service = LiveService(settings, db)
    copies = GroupCopies(
        own_mosquitto.url, topic_root, at=KILL_AT, then=lambda: own_mosquitto.stop(kill=True)
    )
    service.start()
    sim.start()
    copies.start()
    try:
        wait_groups_confirmed(service.http, LANTERNS)
        wait_library_held(service.http, LANTERNS)
        listeners = listeners_of(service.runtime.memberships())
        started = time.monotonic()
        response = service.http.post("/alerts", json=WARNING)
        assert response.status_code == 201, response.text
        alert = response.json()
        progress = Progress(service.http, alert["id"])
        progress.start()
        commands = {c["id"] for c in alert["commands"]}
        assert copies.reached.wait(60), f"only {len(copies.snapshot())} group copies seen"
        at_kill = service.http.get(f"/alerts/{alert['id']}").json()["counts"]
        assert at_kill.get("done", 0) < LANTERNS, at_kill  # really in the middle of it
        copies_at_kill = len(copies.snapshot())
        time.sleep(BROKER_DOWN_S)  # not a wait: the broker stays down this long
        own_mosquitto.start()

        body = service.wait_for(alert["id"], every_command_ended, 120)
        elapsed = time.monotonic() - started
        assert_all_done_once(body, sim, ids)
        assert not copies.bad
        covered = covered_on_broker(copies, commands, listeners)
        assert covered >= KILL_AT * 2
        metrics = service.http.get("/metrics").json()["counters"]
        print(
            f"\nbroker SIGKILLed at group copy {copies_at_kill} (counts {at_kill}); restarted; "
            f"all {LANTERNS} done {elapsed:.1f} s after the POST; group copies "
            f"{metrics['outbox_group_published']} covering {metrics['outbox_group_covered']} "
            f"of {CHANNELS * LANTERNS} lantern-commands (on the broker: {covered}); own-topic "
            f"publishes {metrics['outbox_published'] - metrics['outbox_group_published']}, "
            f"re-sent {metrics['outbox_resent']}"
        )
        print(progress.stop())
    finally:
        copies.stop()
        sim.stop()
        service.stop()
