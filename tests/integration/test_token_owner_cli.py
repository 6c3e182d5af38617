"""API tokens issued to a person (`lightctl tokens create --user`): the four-eyes rule counts the
token and the person's sign-in as one, and revoking the person ends the token too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lightctl.cli import app
from lightctl.cli.access import demo_accounts
from lightctl.cli.output import EXIT_INVALID
from lightctl.errors import Unauthorized
from lightctl.services.access.auth import AuthService
from lightctl.store import Database
from tests.support import cli_runner, flat

runner = cli_runner()


@pytest.fixture(autouse=True)
def wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # messages stay on one line, whatever the terminal


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    database.create_all()
    return database


def _auth(db: Database) -> AuthService:
    return AuthService(db, lambda: datetime.now(UTC))


def test_a_token_issued_to_a_user_is_that_person_until_they_are_revoked(db: Database) -> None:
    made = runner.invoke(
        app,
        [
            "users",
            "create",
            "bob",
            "-r",
            "dispatcher",
            "--password-stdin",
            "--database-url",
            db.url,
        ],
        input="correct horse battery staple\n",
    )
    assert made.exit_code == 0, made.output
    args = ["tokens", "create", "bob-laptop", "-r", "dispatcher", "-q", "--database-url", db.url]
    issued = runner.invoke(app, [*args, "--user", "bob"])
    assert issued.exit_code == 0, issued.output
    principal = _auth(db).authenticate(issued.output.strip())
    assert principal.user == "bob"
    assert principal.owner == "bob"

    nobody = runner.invoke(app, [*args, "--user", "nobody"])
    assert nobody.exit_code == EXIT_INVALID
    assert "no such active user" in flat(nobody.output)

    revoked = runner.invoke(app, ["users", "revoke", "bob", "--database-url", db.url])
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(Unauthorized):
        _auth(db).authenticate(issued.output.strip())


def test_the_demo_token_is_the_dispatcher_users(db: Database) -> None:
    accounts = demo_accounts(db)
    assert _auth(db).authenticate(accounts.token).user == "dispatcher"
