"""``lightctl serve`` (a real process) is killed with SIGKILL in the middle of a fan-out to 500
lanterns and started again: the outbox resumes, every lantern ends `done`, none plays twice."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightctl.services.inventory import import_lanterns
from lightctl.signing import KeyStore
from lightctl.store import Database
from tests.integration.resilience import (
    GERMAN,
    ServeProcess,
    audio_command,
    demo_lanterns,
    finished,
    lantern_ids,
    on_fleet,
    process_postgres,
    signed_fleet,
    wait_until,
)
from tests.support import MosquittoProcess, free_port

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

LANTERNS = 500


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """A database URL a separate process can open, and our own handle on the same database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'lightctl.db'}"
        db = Database(url)
        yield url, db
        db.dispose()
        return
    yield from process_postgres()


def test_service_killed_mid_fan_out_resumes_and_nothing_plays_twice(
    database_url: tuple[str, Database],
    own_mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> None:
    url, db = database_url
    mosquitto = own_mosquitto  # 500 lanterns' retained messages stay off the shared broker
    inventory = demo_lanterns(tmp_path, LANTERNS)
    db.create_all()
    import_lanterns(db, inventory)
    ids = lantern_ids(inventory)
    data_dir = tmp_path / "data"
    KeyStore.in_data_dir(data_dir).ensure()
    port = free_port()
    token = f"lct_{secrets.token_urlsafe(32)}"
    env = {
        **os.environ,
        "LIGHTCTL_DATA_DIR": str(data_dir),
        "LIGHTCTL_DATABASE_URL": url,
        "LIGHTCTL_MQTT_URL": mosquitto.url,
        "LIGHTCTL_MQTT_ROOT": topic_root,
        "LIGHTCTL_MQTT_CLIENT_ID": f"svc-{topic_root}"[:60],
        "LIGHTCTL_HTTP_HOST": "127.0.0.1",
        "LIGHTCTL_HTTP_PORT": str(port),
        "LIGHTCTL_ACK_TIMEOUT_S": "3",
        "LIGHTCTL_PRERENDER_TEMPLATES": "false",
        "LIGHTCTL_BOOTSTRAP_TOKEN": token,
    }
    service = ServeProcess(env, tmp_path / "serve.log", port, token)
    sim = signed_fleet(mosquitto.url, inventory, topic_root, data_dir, speed=10)
    service.start()
    sim.start()
    try:
        started = time.monotonic()
        response = service.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 300},
        )
        assert response.status_code == 201, response.text
        alert_id = response.json()["id"]
        # Kill as soon as the fan-out is under way (something published, nothing finished).
        wait_until(lambda: "planned" not in service.alert(alert_id)["counts"], 10, "publishing")
        at_kill = service.alert(alert_id)["counts"]
        service.kill()
        assert at_kill.get("done", 0) < LANTERNS, at_kill
        # The service stays dead while lanterns go on playing and acking (the broker keeps our
        # session); every check after it waits for a positive sign.
        time.sleep(1.0)  # not a wait: downtime
        service.start()
        wait_until(lambda: finished(service.alert(alert_id)), 90, "every lantern to finish")
        elapsed = time.monotonic() - started
        body = service.alert(alert_id)
        assert body["status"] == "completed"
        assert body["counts"] == {"done": LANTERNS}, body["counts"]
        for command in body["commands"]:
            expected = "done" if command["channel"] == "audio" else "applied"
            assert command["counts"] == {expected: LANTERNS}, command
        audio_id = audio_command(body)

        def played() -> dict[str, int]:
            counts: dict[str, int] = {}
            for lantern_id in ids:
                record = sim.fleet.record(lantern_id)
                counts[lantern_id] = sum(1 for cmd, _ in record.played if cmd == audio_id)
            return counts

        assert set(on_fleet(sim, played).values()) == {1}
        print(
            f"\nlightctl serve SIGKILLed at {at_kill}; restarted; all {LANTERNS} done "
            f"{elapsed:.1f} s after the alert"
        )
    finally:
        sim.stop()
        service.stop()
