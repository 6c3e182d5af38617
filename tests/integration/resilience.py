"""Helpers of the delivery-under-failure tests: demo lanterns, a signed fleet, the service."""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from firmware_sim import load_inventory
from lightctl.paths import DEMO_LANTERNS
from lightctl.signing import KeyStore
from lightctl.store import Database
from tests.integration.conftest import FleetThread, simulated_fleet
from tests.support import ROOT, fixed_env, free_port, postgres_url

T = TypeVar("T")

GERMAN = "Brand in der Bahnhofstrasse. Schliessen Sie Fenster und Türen."


def demo_lanterns(tmp_path: Path, count: int) -> Path:
    """The first ``count`` lanterns of the demo inventory (real Zürich positions) as GeoJSON."""
    data = json.loads(DEMO_LANTERNS.read_text(encoding="utf-8"))
    data["features"] = data["features"][:count]
    path = tmp_path / f"lanterns_{count}.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def lantern_ids(path: Path) -> list[str]:
    return [spec.id for spec in load_inventory(path)]


def signed_fleet(
    broker_url: str, inventory: Path, topic_root: str, data_dir: Path, **options: Any
) -> FleetThread:
    """A fleet of ``inventory`` that checks every signature against the service's trust list."""
    return simulated_fleet(
        broker_url, topic_root, inventory=inventory, data_dir=data_dir, **options
    )


def on_fleet(sim: FleetThread, job: Callable[[], T], timeout_s: float = 10) -> T:
    """Run ``job`` on the fleet's event loop (lantern state is only touched there)."""
    return sim.fleet.call(job, timeout_s)


def plays(sim: FleetThread, lantern_id: str, cmd_id: str) -> int:
    """How often a lantern played a command to its end."""
    record = on_fleet(sim, lambda: list(sim.fleet.record(lantern_id).played))
    return sum(1 for played_id, _clips in record if played_id == cmd_id)


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def finished(body: dict[str, Any]) -> bool:
    return body.get("status") != "sending"


def audio_command(body: dict[str, Any]) -> str:
    return str(next(c["id"] for c in body["commands"] if c["channel"] == "audio"))


class SimProcess:
    """``firmware-sim`` as operators run it (its own process), driven through its control API."""

    def __init__(
        self,
        broker_url: str,
        inventory: Path,
        topic_root: str,
        data_dir: Path,
        log: Path,
        *,
        speed: float = 20,
        per_connection: int = 100,
    ) -> None:
        keys = KeyStore.in_data_dir(data_dir)
        keys.ensure()
        self.port = free_port()
        self.gateways = math.ceil(len(load_inventory(inventory)) / per_connection)
        self.log = log
        self.args = [
            sys.executable,
            "-m",
            "firmware_sim",
            "--broker",
            broker_url,
            "--inventory",
            str(inventory),
            "--root",
            topic_root,
            "--speed",
            str(speed),
            "--per-connection",
            str(per_connection),
            "--gateway-prefix",
            f"g{uuid.uuid4().hex[:6]}",
            "--trust",
            str(keys.trust_path),
            "--control-port",
            str(self.port),
            "--log-level",
            "WARNING",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        # The control API's token, chosen here as `lightctl demo` does (firmware-sim reads it).
        self.token = secrets.token_urlsafe(32)
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=10,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def start(self, timeout_s: float = 30) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=fixed_env({**os.environ, "FIRMWARE_SIM_CONTROL_TOKEN": self.token}),
            )

        def connected() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"firmware-sim exited: {self.log.read_text()[-2000:]}")
            try:
                health = self.http.get("/healthz").json()
            except httpx.HTTPError:
                return False
            return bool(health["gateways_connected"] == self.gateways)

        wait_until(connected, timeout_s, "the simulated fleet to connect")

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def faults(self, spec: str) -> dict[str, list[str]]:
        response = self.http.post("/faults", json={"spec": spec})
        response.raise_for_status()
        applied: dict[str, list[str]] = response.json()["applied"]
        return applied

    def stop(self) -> None:
        self.http.close()
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class ServeProcess:
    """``lightctl serve`` in its own process, configured through the environment."""

    def __init__(self, env: dict[str, str], log: Path, port: int, token: str) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from lightctl.cli import main; main()", "serve"],
                env=fixed_env(self.env),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"lightctl serve exited: {self.log.read_text()[-3000:]}")
            try:
                return bool(self.http.get("/healthz").json()["mqtt"] == "connected")
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        # 40 s ran out at load 17-18 on 2 cores (four replica and cluster tests in one run).
        wait_until(healthy, 90, "lightctl serve to be healthy")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown code runs
        self.proc.wait(timeout=10)

    def metrics(self) -> dict[str, int]:
        counters: dict[str, int] = self.http.get("/metrics").json()["counters"]
        return counters

    def alert(self, alert_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(f"/alerts/{alert_id}").json()
        return body

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def process_postgres() -> Iterator[tuple[str, Database]]:
    """A PostgreSQL schema of our own: the URL a separate process opens it through (libpq's
    ``options=`` sets its search path) and our own handle on it; dropped afterwards."""
    base = postgres_url()
    try:
        conn = psycopg.connect(
            base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        )
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(base, schema=schema)
    try:
        yield f"{base}?options=-c%20search_path%3D{schema}", db
    finally:
        db.dispose()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def assert_all_done_once(body: dict[str, Any], sim: SimProcess, ids: list[str]) -> None:
    """The alert completed: every lantern done, light and projection applied everywhere, and the
    simulator says each lantern played the audio exactly once."""
    n = len(ids)
    assert body["status"] == "completed"
    assert body["counts"] == {"done": n}, body["counts"]
    by_channel = {c["channel"]: c for c in body["commands"]}
    assert by_channel["light"]["counts"] == {"applied": n}
    assert by_channel["projection"]["counts"] == {"applied": n}
    report = sim.get(f"/commands/{audio_command(body)}")
    assert report["played"] == dict.fromkeys(ids, 1)  # every lantern, exactly once
