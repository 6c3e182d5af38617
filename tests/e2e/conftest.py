"""A browser against a live stack: headless Chromium (Debian's package, never a downloaded one)
driven by Playwright, the API over real HTTP, a real Mosquitto, and simulated lanterns whose
control API the console's operator view injects faults through."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet, load_inventory
from firmware_sim.control import ControlServer
from lightctl.protocol import Topics
from lightctl.store import Database
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, inventory, make_settings
from tests.support import ROOT, MosquittoProcess

__all__ = ["browser", "database", "fleet", "inventory", "service", "shots", "simulator_control"]

CHROMIUM = Path(os.environ.get("LIGHTCTL_CHROMIUM", "/usr/bin/chromium"))
# Headless and quiet: no sandbox (CI runs as root in a container), no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "console"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """SQLite only: the browser adds nothing database-specific (the API tests cover PostgreSQL)."""
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    yield db
    db.dispose()


@pytest.fixture
def fleet_thread(mosquitto: MosquittoProcess, topic_root: str) -> Iterator[FleetThread]:
    """Every fixture lantern simulated, playback 20x faster than real time."""
    sim = FleetThread(
        Fleet(
            mosquitto.url,
            load_inventory(LANTERNS),
            speed=20,
            per_connection=100,
            topics=Topics(topic_root),
            gateway_prefix=f"g{uuid.uuid4().hex[:6]}",
        )
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def fleet(fleet_thread: FleetThread) -> Fleet:
    return fleet_thread.fleet


@pytest.fixture
def simulator_control(fleet_thread: FleetThread) -> Iterator[str]:
    """firmware-sim's control API on the fleet's own loop, as `firmware-sim --control-port`."""
    control = ControlServer(fleet_thread.fleet, 0)
    asyncio.run_coroutine_threadsafe(control.start(), fleet_thread.loop).result(10)
    yield f"http://127.0.0.1:{control.port}"
    asyncio.run_coroutine_threadsafe(control.stop(), fleet_thread.loop).result(10)


@pytest.fixture
def service(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    simulator_control: str,
) -> Iterator[LiveService]:
    """The API and console over real HTTP, told where the simulator's control API is."""
    settings = make_settings(
        tmp_path, mosquitto.url, topic_root, simulator_control_url=simulator_control
    )
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per module: Playwright's sync API keeps an event loop running on the main
    thread while it is open, so it must be closed before other modules' asyncio.run()."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium (or set LIGHTCTL_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Shots:
    """Numbered screenshots of one test in test-artifacts/console/ (kept for people to look at)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.n = 0
        self.paths: list[Path] = []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str, full_page: bool = False) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.paths.append(path)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name.removeprefix("test_"))
