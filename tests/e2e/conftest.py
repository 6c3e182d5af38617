"""A browser against a live stack: headless Chromium (Debian's package, never a downloaded one)
driven by Playwright, the API over real HTTP, a real Mosquitto, and simulated lanterns whose
control API the console's operator view injects faults through."""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet
from firmware_sim.control import ControlServer
from lightctl.store import Database
from tests.e2e.pages import DESKTOP, PASSWORD, make_user
from tests.integration.conftest import (
    FleetThread,
    LiveService,
    inventory,
    make_settings,
    simulated_fleet,
)
from tests.support import ROOT, MosquittoProcess

__all__ = [
    "browser",
    "database",
    "fleet",
    "inventory",
    "open_console",
    "service",
    "shots",
    "simulator_control",
]

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
    sim = simulated_fleet(mosquitto.url, topic_root)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def fleet(fleet_thread: FleetThread) -> Fleet:
    return fleet_thread.fleet


@pytest.fixture
def simulator_control(fleet_thread: FleetThread) -> Iterator[ControlServer]:
    """firmware-sim's control API on the fleet's own loop, as `firmware-sim --control-port`."""
    control = ControlServer(fleet_thread.fleet, 0)
    asyncio.run_coroutine_threadsafe(control.start(), fleet_thread.loop).result(10)
    yield control
    asyncio.run_coroutine_threadsafe(control.stop(), fleet_thread.loop).result(10)


@pytest.fixture
def service(
    request: pytest.FixtureRequest,
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    simulator_control: ControlServer,
) -> Iterator[LiveService]:
    """The API and console over real HTTP, told where the simulator's control API is; a test
    sets more settings with ``@pytest.mark.parametrize("service", [{...}], indirect=True)``."""
    extra: dict[str, Any] = getattr(request, "param", {})
    settings = make_settings(
        tmp_path,
        mosquitto.url,
        topic_root,
        simulator_control_url=f"http://127.0.0.1:{simulator_control.port}",
        simulator_control_token=simulator_control.token,
        **extra,
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
        for old in ARTIFACTS.glob(f"{glob.escape(prefix)}-[0-9][0-9]-*.png"):
            old.unlink()  # a re-run's pictures only, not a mix with an earlier run's

    def take(self, page: Any, name: str, full_page: bool = False) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.paths.append(path)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name.removeprefix("test_"))


@pytest.fixture
def open_console(browser: Any, service: LiveService, fleet: Fleet) -> Iterator[Callable[..., Any]]:
    """Open the console signed in as a new user with the given roles (each call its own browser
    context, so two calls are two people); uncaught page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(
        roles: str = "dispatcher",
        viewport: dict[str, int] = DESKTOP,
        shots: Shots | None = None,
        user: str | None = None,
        fleet_idle: bool = True,
        locale: str = "en-GB",
    ) -> Any:
        # A fixed language and zone: times on screen read the same on every machine.
        context = browser.new_context(viewport=viewport, locale=locale, timezone_id="UTC")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{service.url}/")
        user = user or make_user(service, roles)  # a given user signs in again elsewhere
        page.locator("#login").wait_for(state="visible")
        page.fill("#login-user", user)
        page.fill("#login-password", PASSWORD)
        if shots is not None:
            shots.take(page, "sign-in")
        page.click("#login-submit")
        page.wait_for_selector("body[data-ready=true]", state="attached")
        # The fleet has reported: every lantern is drawn online (or, while a warning runs
        # there, drawn at all).
        ready = "shownCounts().online === n" if fleet_idle else "markers.size >= n"
        page.wait_for_function(f"n => window.lightctl.map.{ready}", arg=len(fleet.lantern_ids))
        page.user = user
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist every browser test runs on one worker, one after another: each module
    starts a whole demo stack and a Chromium, and two of them at once would starve the long-task
    measurement of CPU."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))
