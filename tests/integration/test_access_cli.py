"""Accounts from the command line (`lightctl users|tokens create|list|revoke`), the demo's
accounts, and production refusing to start without real secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from lightctl.cli import app
from lightctl.cli.access import demo_accounts, end_demo_session
from lightctl.cli.output import EXIT_INVALID, console
from lightctl.cli.server import _banner
from lightctl.domain.roles import Role
from lightctl.errors import Unauthorized
from lightctl.services.access.auth import AuthService
from lightctl.services.audit import AuditTrail
from lightctl.settings import Settings
from lightctl.store import Database
from tests.support import cli_runner, flat, free_port, wide_consoles

runner = cli_runner()
STRONG = "Zq8rT2vX9mK4pL7wN3cB6hJ1yF5dS0gA"


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # listings stay one row per token, unwrapped


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    database.create_all()
    return database


def _auth(db: Database) -> AuthService:
    return AuthService(db, lambda: datetime.now(UTC))


def _cli(db: Database, *args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, [*args, "--database-url", db.url], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_tokens_are_shown_once_stored_hashed_listed_and_revoked(db: Database) -> None:
    secret = _cli(
        db, "tokens", "create", "tourism-app", "--role", "city_app", "-g", "altstadt", "-q"
    )
    secret = secret.strip()
    principal = _auth(db).authenticate(secret)
    assert principal.roles == frozenset({Role.CITY_APP})
    assert principal.groups == frozenset({"altstadt"})
    with db.engine.connect() as conn:
        stored = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM auth_token")) for v in row
        )
    assert secret not in stored  # only its hash is kept
    listed = _cli(db, "tokens", "list")
    assert "tourism-app" in listed
    assert secret not in listed  # never shown again
    assert principal.token_id is not None
    _cli(db, "tokens", "revoke", principal.token_id)
    with pytest.raises(Unauthorized, match="revoked"):
        _auth(db).authenticate(secret)
    bad = runner.invoke(app, ["tokens", "create", "x", "--role", "mayor", "--database-url", db.url])
    assert bad.exit_code == EXIT_INVALID
    assert "unknown role 'mayor'" in flat(bad.output)


def test_users_sign_in_until_revoked_and_every_change_is_audited(db: Database) -> None:
    out = _cli(db, "users", "create", "erika", "--role", "dispatcher")
    password = out.split("password (shown once):")[1].split()[0]
    _row, session = _auth(db).login("erika", password)
    assert _auth(db).authenticate(session).subject == "erika"
    _cli(db, "users", "create", "ops", "--role", "operator", "--password-stdin", stdin=STRONG)
    assert _auth(db).login("ops", STRONG)
    listed = _cli(db, "users", "list")
    assert "erika" in listed
    assert "ops" in listed
    _cli(db, "users", "revoke", "erika")
    with pytest.raises(Unauthorized):
        _auth(db).authenticate(session)  # the open session ended with the user
    with pytest.raises(Unauthorized):
        _auth(db).login("erika", password)
    actions = [r.action for r in AuditTrail(db, lambda: datetime.now(UTC)).recent()]
    assert {"users.create", "users.revoke"} <= set(actions)


def test_the_demo_makes_a_dispatcher_token_and_sign_ins_and_prints_them(
    db: Database, tmp_path: Path
) -> None:
    accounts = demo_accounts(db)
    auth = _auth(db)
    assert auth.authenticate(accounts.token).roles == frozenset({Role.DISPATCHER})
    assert set(accounts.passwords) == {"dispatcher", "operator"}
    for user, password in accounts.passwords.items():
        _row, session = auth.login(user, password)
        assert auth.authenticate(session).roles == frozenset({Role(user)})
    with wide_consoles(), console.capture() as capture:
        _banner(Settings(data_dir=tmp_path), accounts)
    printed = flat(capture.get())
    assert f"export LIGHTCTL_TOKEN={accounts.token}" in printed
    for user, password in accounts.passwords.items():
        assert f"{user} / {password}" in printed


def test_the_demo_token_expires_and_the_next_start_revokes_the_last_one(db: Database) -> None:
    first = demo_accounts(db, token_ttl_s=3600)
    assert first.expires_at is not None
    left = first.expires_at - datetime.now(UTC)
    assert 3500 < left.total_seconds() <= 3600  # not a token that never expires
    second = demo_accounts(db, token_ttl_s=3600)
    auth = _auth(db)
    with pytest.raises(Unauthorized, match="revoked"):
        auth.authenticate(first.token)  # a new start does not add a token: it replaces it
    assert auth.authenticate(second.token).roles == frozenset({Role.DISPATCHER})
    live = [t for t in auth.list_tokens() if t.name.startswith("demo-") and t.revoked_at is None]
    assert [t.id for t in live] == [second.token_id]
    end_demo_session(db, second)  # the demo stops
    with pytest.raises(Unauthorized, match="revoked"):
        auth.authenticate(second.token)


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str]:
    monkeypatch.setenv("LIGHTCTL_ENVIRONMENT", "production")
    monkeypatch.setenv("LIGHTCTL_DATA_DIR", str(tmp_path / "data"))
    for name in (
        "BOOTSTRAP_TOKEN",
        "MQTT_USERNAME",
        "MQTT_PASSWORD",
        "MQTT_PASSWORD_FILE",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(f"LIGHTCTL_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"LIGHTCTL_{name.upper()}", value)
    result = runner.invoke(app, ["serve", "--port", str(free_port())])
    return result.exit_code, flat(result.output)


def test_production_refuses_to_start_with_missing_or_default_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _serve(tmp_path, monkeypatch)
    assert code == EXIT_INVALID
    assert "missing secrets" in out
    assert "bootstrap_token" in out
    assert "mqtt_password" in out
    weak_file = tmp_path / "service.password"
    weak_file.write_text("password\n")
    cases = {
        "bootstrap token": {"bootstrap_token": "changeme"},
        "broker password": {"mqtt_password": "lightctl"},
        "broker password file": {"mqtt_password_file": str(weak_file)},
        "database password": {"database_url": "postgresql://lightctl:lightctl@db:5432/lightctl"},
    }
    for name, env in cases.items():
        full = {"bootstrap_token": STRONG, "mqtt_username": "svc", "mqtt_password": STRONG}
        if "mqtt_password_file" in env:
            del full["mqtt_password"]  # a password given directly wins over the file
        code, out = _serve(tmp_path, monkeypatch, **{**full, **env})
        assert code == EXIT_INVALID, name
        assert "default or short secret" in out, (name, out)
    # With real secrets the secret checks pass; the start then stops at the next missing piece
    # (no signing keys), proving the refusals above were about the secrets.
    strong_file = tmp_path / "strong.password"
    strong_file.write_text(STRONG + "\n")
    code, out = _serve(
        tmp_path,
        monkeypatch,
        bootstrap_token=STRONG,
        mqtt_username="svc",
        mqtt_password_file=str(strong_file),
    )
    assert code != 0
    assert "no command signing keys" in out
    assert "secret" not in out
