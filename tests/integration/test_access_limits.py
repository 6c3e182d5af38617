"""Rate limits on token use: a runaway client is slowed per token, a token guesser per address."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lightctl.api import create_app
from lightctl.services.access.auth import AuthService
from lightctl.settings import Settings
from lightctl.store import Database


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, AuthService]]:
    # A burst of 3 refilled at one request per 100 s: the test never waits for a refill.
    settings = Settings(
        data_dir=tmp_path, prerender_templates=False, request_burst=3, requests_per_s=0.01
    )
    db = Database(settings.resolved_database_url)
    db.create_all()
    yield TestClient(create_app(settings)), AuthService(db, lambda: datetime.now(UTC))
    db.dispose()


def test_a_token_is_slowed_after_its_burst_and_others_are_not(
    client: tuple[TestClient, AuthService],
) -> None:
    http, auth = client
    busy = {"Authorization": f"Bearer {auth.create_token('busy', 'viewer')[1]}"}
    calm = {"Authorization": f"Bearer {auth.create_token('calm', 'viewer')[1]}"}
    codes = [http.get("/api/v1/auth/me", headers=busy).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = http.get("/api/v1/auth/me", headers=busy)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) >= 1
    assert http.get("/api/v1/auth/me", headers=calm).status_code == 200  # per token


def test_guessing_tokens_is_stopped_per_address(client: tuple[TestClient, AuthService]) -> None:
    http, _auth = client
    codes = [
        http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer guess-{i}"}).status_code
        for i in range(25)
    ]
    assert codes[:20] == [401] * 20  # a mistyped token is retried a few times
    assert set(codes[20:]) == {429}  # a scan of token space is not
