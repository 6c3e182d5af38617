"""A live stack for integration tests: real broker, real database, the API over real HTTP,
and simulated lanterns in the same process (each part on its own thread)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from firmware_sim import Fleet, LanternSpec, load_inventory
from firmware_sim.probe import ServiceProbe
from firmware_sim.verifier import TrustFile
from lightctl.api import create_app
from lightctl.cli.server import uvicorn_config
from lightctl.protocol import Topics
from lightctl.runtime import Runtime
from lightctl.services.access.auth import AuthService
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.settings import Settings
from lightctl.signing import KeyStore
from lightctl.store import Database
from tests.support import FIXTURES, MosquittoProcess, free_port, postgres_url

LANTERNS = FIXTURES / "zurich_lanterns_small.geojson"
STREETS = FIXTURES / "zurich_streets_small.geojson"


def _postgres_database() -> Iterator[Database]:
    url = postgres_url()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        conn = psycopg.connect(plain, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {url}: {exc}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(url, schema=schema)
    try:
        yield db
    finally:
        db.dispose()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same tests on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
        yield db
        db.dispose()
    else:
        yield from _postgres_database()


@pytest.fixture
def inventory(database: Database) -> Database:
    """The database with the Zürich fixture streets and lanterns imported."""
    database.create_all()
    import_streets(database, STREETS)
    import_lanterns(database, LANTERNS)
    return database


@pytest.fixture
def probe(mosquitto: MosquittoProcess, topic_root: str) -> Iterator[ServiceProbe]:
    """A stand-in for the service on the broker: publishes commands, collects acks and state."""
    client = ServiceProbe(mosquitto.url, Topics(topic_root))
    client.start()
    yield client
    client.stop()


@pytest.fixture
def sqlite_inventory(tmp_path: Path) -> Iterator[Database]:
    """SQLite only, with the fixture inventory: for the slow failure tests, run once."""
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    db.create_all()
    import_streets(db, STREETS)
    import_lanterns(db, LANTERNS)
    yield db
    db.dispose()


class LiveService:
    """``lightctl serve`` in a thread: uvicorn on a free port with the real runtime."""

    def __init__(self, settings: Settings, db: Database, roles: str = "admin") -> None:
        self.settings = settings
        # Hold the port from now on: free_port() only found it free a moment ago, and the set-up
        # below takes long enough for another process to take it (seen once in a CI run).
        self._socket = socket.create_server((settings.http_host, settings.http_port))
        self.runtime = Runtime(settings, db)
        self.url = settings.resolved_public_url
        # Every request of a test carries a token with full rights (``admin``) unless the test
        # asks for other roles; the role matrix and ceiling tests make their own tokens.
        db.create_all()
        self.token = self.make_token("tests", roles)
        self.app = create_app(settings, self.runtime)
        config = uvicorn_config(self.app, settings.http_host, settings.http_port, "warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self._socket]},
            name="uvicorn",
            daemon=True,
        )
        self.http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def make_token(self, name: str, roles: str, groups: tuple[str, ...] = ()) -> str:
        """A fresh API token straight in the database, as `lightctl tokens create` makes it."""
        auth = AuthService(self.runtime.db, lambda: datetime.now(UTC))
        _row, secret = auth.create_token(f"{name}-{uuid.uuid4().hex[:6]}", roles, groups)
        return secret

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.http.close()
        self._socket.close()

    def wait_for(self, alert_id: str, predicate: Any, timeout_s: float = 60) -> dict[str, Any]:
        """Poll the alert until ``predicate(body)`` holds; fail with the last body otherwise."""
        deadline = time.monotonic() + timeout_s
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.http.get(f"/alerts/{alert_id}").json()
            if predicate(body):
                return body
            time.sleep(0.1)
        raise AssertionError(f"alert {alert_id} never reached the expected state: {body}")


class FleetThread:
    """A simulated fleet on its own event loop thread, as `firmware-sim` runs it."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fleet", daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fleet.start(), self.loop).result(15)
        ok = asyncio.run_coroutine_threadsafe(self.fleet.wait_connected(15), self.loop).result(20)
        assert ok, "the simulated fleet did not connect"

    def stop(self) -> None:
        if not self.thread.is_alive():
            # Never started (a test failed before): nothing runs, and waiting on the idle loop
            # would raise after 20 s and skip whatever cleanup comes next.
            self.loop.close()
            return
        asyncio.run_coroutine_threadsafe(self.fleet.stop(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def make_settings(tmp_path: Path, broker_url: str, topic_root: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        mqtt_url=broker_url,
        mqtt_root=topic_root,
        mqtt_client_id=f"svc-{topic_root}"[:60],
        http_host="127.0.0.1",
        http_port=free_port(),
        # Each test has a fresh clip cache; warm-up is tested alone (a test may turn it on).
        **{"prerender_templates": False, **extra},
    )


@pytest.fixture
def service(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveService]:
    live = LiveService(make_settings(tmp_path, mosquitto.url, topic_root), inventory)
    monkeypatch.setenv("LIGHTCTL_TOKEN", live.token)  # for CLI commands run with CliRunner
    live.start()
    yield live
    live.stop()


def simulated_fleet(
    broker_url: str,
    topic_root: str,
    *,
    inventory: Path = LANTERNS,
    data_dir: Path | None = None,
    speed: float = 20,
    per_connection: int = 100,
    gateway_prefix: str | None = None,
    lanterns: Sequence[LanternSpec] | None = None,
    **extra: Any,
) -> FleetThread:
    """Simulated lanterns of ``inventory`` (or ``lanterns``, specs that may carry their groups) on
    their own thread (not started). With ``data_dir`` they check every signature against the
    trust list there (keys made if the service has not made them yet, so both sides share
    them); without, they accept unsigned commands."""
    trust = None
    if data_dir is not None:
        keys = KeyStore.in_data_dir(data_dir)
        keys.ensure()
        trust = TrustFile.open(keys.trust_path, [keys.ensure_root().public()])
    return FleetThread(
        Fleet(
            broker_url,
            load_inventory(inventory) if lanterns is None else lanterns,
            speed=speed,
            per_connection=per_connection,
            topics=Topics(topic_root),
            gateway_prefix=gateway_prefix or f"g{uuid.uuid4().hex[:6]}",
            trust=trust,
            **extra,
        )
    )


@pytest.fixture
def fleet(mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path) -> Iterator[Fleet]:
    """Every fixture lantern simulated, playback 20x faster than real time, checking every
    signature against the trust list of the ``service`` fixture's keys."""
    sim = simulated_fleet(mosquitto.url, topic_root, data_dir=tmp_path / "data")
    sim.start()
    yield sim.fleet
    sim.stop()
