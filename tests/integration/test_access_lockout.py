"""Limits that protect instead of lock out (issue 13, finding 2): someone else's bad tokens or
wrong passwords never refuse a good credential, and forwarded headers count only from trusted
proxies."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from lightctl.api import create_app
from lightctl.runtime import Runtime
from lightctl.services.access.auth import AuthService
from lightctl.services.audit import AuditRecord, AuditTrail
from lightctl.settings import Settings
from lightctl.store import Database
from tests.integration.conftest import LiveService, _postgres_database

PASSWORD = "correct horse battery staple"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.broker
def test_fifty_bad_tokens_do_not_delay_or_refuse_a_valid_dispatcher_post(
    service: LiveService,
) -> None:
    dispatcher = service.make_token("dispatcher", "dispatcher")
    alert = {"target": {"streets": ["Poststrasse"]}, "messages": {"en": "Test."}}
    with httpx.Client(base_url=f"{service.url}/api/v1", timeout=30) as http:

        def timed_post() -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = http.post("/alerts", json=alert, headers=_bearer(dispatcher))
            return response, time.monotonic() - started

        before, _first = timed_post()  # renders and caches the clip
        _again, calm = timed_post()
        assert before.status_code == 201, before.text
        codes = [
            http.post("/alerts", json={}, headers=_bearer(f"lct_bad{i}")).status_code
            for i in range(50)
        ]
        assert set(codes) <= {401, 429}
        assert 429 in codes  # the scan itself is slowed ...
        response, elapsed = timed_post()
    assert response.status_code == 201, response.text  # ... the dispatcher is not
    # Not delayed: no back-off, no queue (a loaded test machine makes any POST slower).
    assert elapsed < max(2.0, 5 * calm), (
        f"the valid POST took {elapsed:.2f} s ({calm:.2f} s before)"
    )


@pytest.mark.broker
def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(service: LiveService) -> None:
    with httpx.Client(base_url=f"{service.url}/api/v1", timeout=30) as http:
        codes = [
            http.get(
                "/auth/me",
                headers={**_bearer(f"lct_bad{i}"), "X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(25)
        ]
        # Each request claims another address; all of them come from 127.0.0.1 and count there.
        assert codes[:20] == [401] * 20
        assert set(codes[20:]) == {429}
        spoofed = http.post(
            "/groups",
            json={"name": f"g-{uuid.uuid4().hex[:6]}", "lanterns": []},
            headers={**_bearer(service.token), "X-Forwarded-For": "203.0.113.99"},
        )
    assert spoofed.status_code < 500, spoofed.text
    trail = AuditTrail(service.runtime.db, lambda: datetime.now(UTC))
    deadline = time.monotonic() + 10  # the record is written once the answer is out
    records: list[AuditRecord] = []
    while not records and time.monotonic() < deadline:
        records = [r for r in trail.recent(limit=20) if r.action == "POST /api/v1/groups"]
        time.sleep(0.05)
    assert records, [r.action for r in trail.recent(limit=20)]
    assert records[0].detail["client"] == "127.0.0.1"


@pytest.fixture
def app_parts(tmp_path: Path) -> Iterator[tuple[Settings, AuthService, Database]]:
    settings = Settings(
        data_dir=tmp_path, prerender_templates=False, trusted_proxies=("10.0.0.0/8",)
    )
    db = Database(settings.resolved_database_url)
    db.create_all()
    yield settings, AuthService(db, lambda: datetime.now(UTC)), db
    db.dispose()


def test_a_trusted_proxy_names_the_client_and_an_untrusted_one_does_not(
    app_parts: tuple[Settings, AuthService, Database],
) -> None:
    settings, _auth, _db = app_parts
    app = create_app(settings)
    app.state.guard.token_failures.clock = lambda: 1000.0  # back-offs cannot run out mid-test
    app.state.guard.address_failures.clock = lambda: 1000.0
    proxy = TestClient(app, client=("10.1.2.3", 40000))
    stranger = TestClient(app, client=("192.0.2.7", 40000))

    def bad(client: TestClient, forwarded_for: str, n: int) -> list[int]:
        headers = {**_bearer("lct_nope"), "X-Forwarded-For": forwarded_for}
        return [
            client.get("/api/v1/auth/me", headers={**headers, "X-Try": str(i)}).status_code
            for i in range(n)
        ]

    # Distinct bad tokens, so only the address limit (not the per-token one) is in play.
    def scan(client: TestClient, forwarded_for: str, n: int) -> list[int]:
        return [
            client.get(
                "/api/v1/auth/me",
                headers={**_bearer(f"lct_{uuid.uuid4().hex}"), "X-Forwarded-For": forwarded_for},
            ).status_code
            for _ in range(n)
        ]

    assert scan(proxy, "203.0.113.5", 21)[-1] == 429  # the client behind the proxy is slowed
    assert scan(proxy, "203.0.113.6", 1) == [401]  # another client behind it is not
    # A client chain "spoof, real": only the right-most untrusted entry counts.
    assert scan(proxy, "203.0.113.5, 203.0.113.6", 1) == [401]
    # From an untrusted peer the header means nothing: 203.0.113.5's back-off does not apply.
    assert scan(stranger, "203.0.113.5", 1) == [401]
    # The same bad token again and again: 3 failures free, the 4th starts a back-off in which
    # the 5th is refused from memory, before the database is asked.
    assert bad(stranger, "", 5) == [401, 401, 401, 401, 429]


def test_ten_wrong_passwords_do_not_lock_out_the_right_one_from_elsewhere(
    app_parts: tuple[Settings, AuthService, Database],
) -> None:
    settings, auth, _db = app_parts
    auth.create_user("dispatcher", PASSWORD, "dispatcher")
    app = create_app(settings)
    # A stopped clock: the back-off (1 s after the sixth failure) cannot run out mid-test.
    app.state.guard.login_failures.clock = lambda: 1000.0
    attacker = TestClient(app, client=("192.0.2.66", 40000))
    dispatcher = TestClient(app, client=("198.51.100.10", 40000))
    wrong = [
        attacker.post(
            "/api/v1/auth/login", json={"username": "dispatcher", "password": f"guess-{i}"}
        ).status_code
        for i in range(10)
    ]
    assert wrong[:5] == [401] * 5  # a person's typos cost nothing ...
    assert 429 in wrong[5:]  # ... a guesser is backed off, at his address
    right = dispatcher.post(
        "/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD}
    )
    assert right.status_code == 200, right.text
    assert right.json()["username"] == "dispatcher"
    # The guesser's address stays backed off for this account, even with the right password.
    again = attacker.post(
        "/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD}
    )
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) >= 1


@pytest.fixture
def postgres_db() -> Iterator[Database]:
    yield from _postgres_database()


@pytest.mark.postgres
def test_replicas_on_one_postgresql_share_the_sign_in_back_off(
    tmp_path: Path, postgres_db: Database
) -> None:
    """Wrong passwords at one replica count at the other: a guesser gains nothing by spreading
    his guesses over the replicas, and the dispatcher still signs in from elsewhere."""
    databases = postgres_db
    databases.create_all()
    AuthService(databases, lambda: datetime.now(UTC)).create_user(
        "dispatcher", PASSWORD, "dispatcher"
    )
    settings = Settings(data_dir=tmp_path, prerender_templates=False)

    apps = [create_app(settings, Runtime(settings, databases)) for _ in range(2)]
    for app in apps:
        app.state.guard.login_failures.clock = lambda: 2_000_000_000.0  # one stopped wall clock
    first, second = (TestClient(app, client=("192.0.2.66", 40000)) for app in apps)
    elsewhere = TestClient(apps[1], client=("198.51.100.10", 40000))

    def guess(client: TestClient, i: int) -> int:
        body = {"username": "dispatcher", "password": f"guess-{i}"}
        return int(client.post("/api/v1/auth/login", json=body).status_code)

    assert [guess(first, i) for i in range(6)] == [401] * 6  # the sixth starts a back-off
    assert guess(second, 6) == 429  # the other replica knows
    ok = elsewhere.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD})
    assert ok.status_code == 200, ok.text
