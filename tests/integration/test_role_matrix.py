"""Every route of the app × every role: allowed, or refused with 401/403, as the ONE permission
table says. A route missing from the table fails here, so no endpoint is ever open by accident."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from lightctl.api import create_app
from lightctl.api.permissions import PERMISSIONS, lookup, normalise, operations
from lightctl.domain.roles import Role
from lightctl.services.access.auth import AuthService
from lightctl.settings import Settings
from lightctl.store import Database

ANONYMOUS = "anonymous"
# A path parameter value that every route accepts far enough to reach the permission check.
_CLIP = "0" * 64 + ".wav"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[FastAPI, AuthService]]:
    """The real app (no broker: the runtime is never started) and a way to mint tokens."""
    settings = Settings(data_dir=tmp_path, prerender_templates=False)
    db = Database(settings.resolved_database_url)
    db.create_all()
    yield create_app(settings), AuthService(db, lambda: datetime.now(UTC))
    db.dispose()


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    found = operations(app)
    assert len(found) >= 25, found  # the enumeration itself must see the routes
    return found


def _concrete(path: str) -> str:
    path = path.replace("{name}", _CLIP) if "/audio/" in path else path
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_is_in_the_permission_table(app: tuple[FastAPI, AuthService]) -> None:
    missing = [f"{m} {p}" for m, p in _operations(app[0]) if lookup(m, p) is None]
    assert not missing, f"add these routes to lightctl/api/permissions.py: {missing}"
    routes = {(m, normalise(p)) for m, p in _operations(app[0])}
    stale = [f"{m} {p}" for m, p in PERMISSIONS if (m, p) not in routes]
    assert not stale, f"rules for routes the app does not have: {stale}"


def test_role_matrix(app: tuple[FastAPI, AuthService]) -> None:
    application, auth = app
    client = TestClient(application, raise_server_exceptions=False)
    tokens = {r.value: auth.create_token(f"m-{r.value}", r.value)[1] for r in Role}
    wrong: list[str] = []
    checked = 0
    for method, path in _operations(application):
        rule = lookup(method, path)
        assert rule is not None
        for who in [ANONYMOUS, *tokens]:
            token = tokens.get(who)
            if token is not None and path.endswith("/logout"):  # signing out ends the token
                token = auth.create_token(f"bye-{who}", who)[1]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = client.request(method, _concrete(path), headers=headers, json=body)
            code = _code(response)
            checked += 1
            if rule.roles is None:
                ok = response.status_code not in (401, 403)
                expected = "open to everyone"
            elif who == ANONYMOUS:
                ok = response.status_code == 401 and "Bearer" in response.headers.get(
                    "www-authenticate", ""
                )
                expected = "401 with WWW-Authenticate"
            elif Role(who) in rule.roles:
                ok = response.status_code != 401 and code != "forbidden"
                expected = "allowed"
            else:
                ok = response.status_code == 403 and code == "forbidden"
                expected = "403 forbidden"
            if not ok:
                wrong.append(f"{method} {path} as {who}: {response.status_code} {code}, {expected}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 7 * 25


def test_table_keys_are_normalised() -> None:
    for method, path in PERMISSIONS:
        assert method == method.upper()
        assert normalise(path) == path


def _code(response: Response) -> str | None:
    """The problem+json ``code`` of a refusal (None for any other answer)."""
    if "problem+json" not in response.headers.get("content-type", ""):
        return None
    code = response.json().get("code")
    return str(code) if code is not None else None
