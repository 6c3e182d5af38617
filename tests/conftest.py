"""Shared fixtures: a real Mosquitto per test session on a free port, unique topic roots."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import MosquittoProcess, have_mosquitto


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoProcess]:
    """One real broker for the whole test session (tests use unique topic roots)."""
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    broker = MosquittoProcess(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A broker only this test uses, for tests that stop or kill it."""
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    broker = MosquittoProcess(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def topic_root(request: pytest.FixtureRequest) -> str:
    """A topic root unique to the test, so tests sharing a broker never see each other."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[-40:]
    return f"t{os.getpid()}_{name}_{time.monotonic_ns() % 10**9}"
