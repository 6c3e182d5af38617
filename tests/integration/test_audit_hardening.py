"""Audit that cannot be used against itself (issue 13, finding 7): deep bodies are refused before
anything parses or records them, only signed-in callers' bodies are kept (secrets redacted by
name), anonymous noise is limited before it is recorded, the listing never fails and the CSV
export opens as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from lightctl.api import create_app
from lightctl.api.guard import Guard
from lightctl.services.access.auth import AuthService
from lightctl.services.audit import AuditTrail
from lightctl.settings import Settings
from lightctl.store import Database
from lightctl.store.audit import AuditRow


@dataclass
class Stack:
    http: TestClient
    guard: Guard
    trail: AuditTrail
    db: Database
    operator: dict[str, str]
    dispatcher: dict[str, str]

    def rows(self) -> list[AuditRow]:
        with self.db.session() as session:
            return list(session.exec(select(AuditRow).order_by(col(AuditRow.seq))))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    settings = Settings(data_dir=tmp_path, prerender_templates=False)
    db = Database(settings.resolved_database_url)
    db.create_all()
    auth = AuthService(db, lambda: datetime.now(UTC))
    operator = auth.create_token("ops", "operator")[1]
    dispatcher = auth.create_token("disp", "dispatcher")[1]
    app = create_app(settings)
    yield Stack(
        TestClient(app, client=("192.0.2.20", 40000)),
        app.state.guard,
        AuditTrail(db, lambda: datetime.now(UTC)),
        db,
        {"Authorization": f"Bearer {operator}"},
        {"Authorization": f"Bearer {dispatcher}"},
    )
    db.dispose()


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"end": True}
    for _ in range(levels):
        value = {"inner": value}
    return value


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/alerts", "/api/v1/groups"])
def test_a_1000_deep_anonymous_body_is_refused_without_a_record(stack: Stack, path: str) -> None:
    response = stack.http.post(
        path, content=_deep(1000), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert problem["errors"][0]["loc"] == ["body"]
    assert "nested deeper than" in problem["detail"]
    assert stack.rows() == []
    assert stack.http.get("/api/v1/audit", headers=stack.operator).status_code == 200


def test_a_deep_body_from_a_signed_in_caller_is_refused_too(stack: Stack) -> None:
    response = stack.http.post(
        "/api/v1/alerts",
        content=_deep(1000),
        headers={**stack.dispatcher, "content-type": "text/plain"},
    )
    assert response.status_code == 422, response.text


def test_the_listing_stays_200_with_a_deep_body_stored_before_the_limit(stack: Stack) -> None:
    # What the old middleware stored for an anonymous 190-deep body.
    stack.trail.append("POST /api/v1/auth/login", "anonymous", (), None, {"body": _nested(190)})
    response = stack.http.get("/api/v1/audit", headers=stack.operator)
    assert response.status_code == 200, response.text
    shown = json.dumps(response.json()[0]["detail"])
    assert "deeper levels not kept" in shown
    assert stack.trail.verify().ok  # the stored record, which the hash covers, is unchanged


def test_a_password_in_a_passwd_field_is_redacted_in_the_stored_audit(stack: Stack) -> None:
    secret = "hunter2-hunter2-hunter2"
    response = stack.http.post(
        "/api/v1/groups",
        json={
            "name": "north",
            "lanterns": [],
            "passwd": secret,
            "db": {"apiKey": secret, "client_secret": secret, "note": "kept"},
        },
        headers=stack.operator,
    )
    assert response.status_code < 500, response.text
    rows = [r for r in stack.rows() if r.action == "POST /api/v1/groups"]
    assert rows, [r.action for r in stack.rows()]
    assert secret not in rows[-1].body
    body = json.loads(rows[-1].body)["detail"]["body"]
    assert body["passwd"] == "***"
    assert body["db"] == {"apiKey": "***", "client_secret": "***", "note": "kept"}
    assert body["name"] == "north"


def test_anonymous_requests_are_limited_before_they_are_recorded_and_keep_no_body(
    stack: Stack,
) -> None:
    stack.guard.anonymous_limiter.clock = lambda: 1000.0  # no refill while the test runs
    filler = {"messages": {"en": "x" * 60_000}}
    codes = [stack.http.post("/api/v1/alerts", json=filler).status_code for _ in range(40)]
    assert codes[:30] == [401] * 30
    assert set(codes[30:]) == {429}
    rows = stack.rows()
    assert 0 < len(rows) <= 30
    for row in rows:
        detail = json.loads(row.body)["detail"]
        assert detail["body"] is None
        assert detail["client"] == "192.0.2.20"
    assert sum(len(r.body) for r in rows) < 30 * 2000  # not 30 x 60 KB
    # A signed-in caller from the same address is not limited by that noise.
    assert stack.http.post("/api/v1/groups", json={}, headers=stack.operator).status_code != 429


def test_the_csv_export_of_a_formula_looking_subject_opens_as_text(stack: Stack) -> None:
    formula = "=cmd|calc!A0"
    response = stack.http.post(f"/api/v1/alerts/{formula}/cancel", headers=stack.dispatcher)
    # No such alert (404), or no running service in this app-only stack (503): either way the
    # attempt is recorded with the path's id as its subject.
    assert response.status_code in (404, 503), response.text
    assert any(r.subject == formula for r in stack.rows())
    text = "".join(stack.trail.export(None, "csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    subjects = [r["subject"] for r in rows if formula in r["subject"]]
    assert subjects == ["'" + formula]
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
