"""``lightctl users`` and ``lightctl tokens``: who may use the API (straight in the database)."""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from lightctl.cli.inventory import DataDirOption, DbOption, open_db
from lightctl.cli.output import EXIT_INVALID, console, fail, fail_with
from lightctl.errors import LightctlError
from lightctl.security.secrets import MIN_PASSWORD_CHARS, random_password
from lightctl.services.access.auth import AuthService
from lightctl.services.audit import AuditTrail
from lightctl.settings import Settings, weak_secret, weak_secret_problem
from lightctl.store import Database

users_app = typer.Typer(help="Console users (sign in with a password).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for machines and apps.", no_args_is_help=True)

RoleOption = typer.Option(
    ...,
    "--role",
    "-r",
    help="admin, dispatcher, feed, operator, city_app or viewer (repeatable)",
)
GroupOption = typer.Option(
    [], "--group", "-g", help="limit steering to this group (repeatable; city apps)"
)


def now() -> datetime:
    return datetime.now(UTC)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _services(database_url: str | None, data_dir: Path | None) -> tuple[AuthService, AuditTrail]:
    db: Database
    db, _settings = open_db(database_url, data_dir)
    return AuthService(db, now), AuditTrail(db, now)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@users_app.command("create")
def users_create(
    username: str,
    role: list[str] = RoleOption,
    group: list[str] = GroupOption,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from standard input"
    ),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create a user; without --password-stdin a random password is made and shown once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else random_password()
    if len(password) < MIN_PASSWORD_CHARS:
        fail(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    auth, audit = _services(database_url, data_dir)
    try:
        row = auth.create_user(username, password, role, group)
    except LightctlError as exc:
        fail_with(exc)
    audit.append("users.create", actor(), (), username, {"roles": row.roles, "groups": group})
    console.print(f"user [bold]{username}[/] created with roles {row.roles}")
    if not password_stdin:
        console.print(f"password (shown once): {password}", markup=False)


@users_app.command("list")
def users_list(database_url: str | None = DbOption, data_dir: Path | None = DataDirOption) -> None:
    auth, _audit = _services(database_url, data_dir)
    table = Table("username", "roles", "groups", "created", "revoked")
    for u in auth.list_users():
        table.add_row(u.username, u.roles, u.groups, _when(u.created_at), _when(u.revoked_at))
    console.print(table)


@users_app.command("revoke")
def users_revoke(
    username: str, database_url: str | None = DbOption, data_dir: Path | None = DataDirOption
) -> None:
    """Revoke a user: every session they have open ends and their API tokens stop working."""
    auth, audit = _services(database_url, data_dir)
    try:
        auth.revoke_user(username)
    except LightctlError as exc:
        fail_with(exc)
    audit.append("users.revoke", actor(), (), username, {})
    console.print(f"user [bold]{username}[/] revoked; their sessions and tokens have ended")


@tokens_app.command("create")
def tokens_create(
    name: str,
    role: list[str] = RoleOption,
    group: list[str] = GroupOption,
    expires_in: int | None = typer.Option(None, "--expires-in", min=60, help="seconds"),
    user: str | None = typer.Option(
        None,
        "--user",
        "-u",
        help="the person it is issued to: the four-eyes rule counts their token and their "
        "sign-in as one person, and only a user's token may approve a held alert",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print only the token"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create an API token; it is shown once and stored only as a hash."""
    auth, audit = _services(database_url, data_dir)
    try:
        row, secret = auth.create_token(name, role, group, expires_in, user=user)
    except LightctlError as exc:
        fail_with(exc)
    audit.append(
        "tokens.create",
        actor(),
        (),
        row.id,
        {"name": name, "roles": row.roles, "groups": group, "user": user},
    )
    if quiet:
        typer.echo(secret)  # the bare secret for a pipe: no markup, never wrapped
        return
    console.print(f"token [bold]{row.id}[/] ({name}, roles {row.roles}) created")
    console.print(f"token (shown once): {secret}", markup=False)


@tokens_app.command("list")
def tokens_list(
    sessions: bool = typer.Option(False, "--sessions", help="include console sign-ins"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    auth, _audit = _services(database_url, data_dir)
    table = Table(
        "id", "kind", "name", "user", "roles", "groups", "created", "expires", "last used"
    )
    for t in auth.list_tokens(include_sessions=sessions):
        name = t.name + (" [red](revoked)[/]" if t.revoked_at else "")
        table.add_row(
            t.id,
            t.kind,
            name,
            t.username or "",
            t.roles,
            t.groups,
            _when(t.created_at),
            _when(t.expires_at),
            _when(t.last_used_at),
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str, database_url: str | None = DbOption, data_dir: Path | None = DataDirOption
) -> None:
    auth, audit = _services(database_url, data_dir)
    try:
        row = auth.revoke_token(token_id)
    except LightctlError as exc:
        fail_with(exc)
    audit.append("tokens.revoke", actor(), (), token_id, {"name": row.name})
    console.print(f"token [bold]{token_id}[/] ({row.name}) revoked")


# The demo's API token lives no longer than a console sign-in (one shift), and the next start
# (or this run's end) revokes it: a token printed into a terminal must not work for ever.
DEMO_TOKEN_PREFIX = "demo-"  # noqa: S105 - the tokens' name prefix, not a secret


@dataclass(frozen=True, slots=True)
class DemoAccounts:
    """Sign-ins the demo prints: a dispatcher and an operator with passwords, and a token."""

    passwords: dict[str, str]
    token: str
    token_id: str = ""
    expires_at: datetime | None = None


def demo_accounts(db: Database, token_ttl_s: int = 12 * 3600) -> DemoAccounts:
    """Fresh passwords on every demo start (the data directory outlives a run) and a new token
    that expires after ``token_ttl_s``; the tokens of earlier demo runs are revoked."""
    auth, audit = AuthService(db, now), AuditTrail(db, now)
    passwords: dict[str, str] = {}
    for username in ("dispatcher", "operator"):
        password = random_password()
        try:
            auth.reset_password(username, password)
        except LightctlError:
            auth.create_user(username, password, username)
        passwords[username] = password
    revoked = [
        auth.revoke_token(t.id).id
        for t in auth.list_tokens()
        if t.name.startswith(DEMO_TOKEN_PREFIX) and t.revoked_at is None
    ]
    # The token is the dispatcher user's: with four eyes on, it and their sign-in are one person.
    row, token = auth.create_token(
        f"{DEMO_TOKEN_PREFIX}{row_suffix()}",
        "dispatcher",
        expires_in_s=token_ttl_s,
        user="dispatcher",
    )
    audit.append(
        "demo.accounts",
        actor(),
        (),
        row.id,
        {"users": sorted(passwords), "revoked_tokens": revoked, "expires_in_s": token_ttl_s},
    )
    return DemoAccounts(passwords, token, row.id, row.expires_at)


def end_demo_session(db: Database, accounts: DemoAccounts) -> None:
    """Revoke the demo's API token when the demo stops (best effort: the expiry stays)."""
    if accounts.token_id:
        AuthService(db, now).revoke_token(accounts.token_id)


def row_suffix() -> str:
    return now().strftime("%Y%m%d-%H%M%S")


def refuse_open_production(settings: Settings) -> None:
    """Production must not start open: someone must be able to sign in, and only with secrets."""
    if settings.environment != "production":
        return
    problems: list[dict[str, object]] = []
    db = Database(settings.resolved_database_url)
    try:
        db.create_all()
        count = AuthService(db, now).credentials_count()
    finally:
        db.dispose()
    if count == 0 and settings.bootstrap_token is None:
        problems.append(
            {
                "loc": ["bootstrap_token"],
                "msg": "no user or API token exists: run `lightctl users create` or "
                "`lightctl tokens create`, or set LIGHTCTL_BOOTSTRAP_TOKEN for the first start",
            }
        )
    try:
        broker_secret = settings.mqtt_secret()
    except OSError as exc:
        broker_secret = None
        problems.append({"loc": ["mqtt_password_file"], "msg": f"cannot read it: {exc}"})
    if not settings.mqtt_username or not broker_secret:
        problems.append(
            {
                "loc": ["mqtt_password"],
                "msg": "no broker credentials: set LIGHTCTL_MQTT_USERNAME and "
                "LIGHTCTL_MQTT_PASSWORD_FILE (`lightctl mqtt credentials` writes them)",
            }
        )
    elif weak_secret(broker_secret):
        problems.append({"loc": ["mqtt_password"], "msg": weak_secret_problem("mqtt_password")})
    if problems:
        fail("refusing to start in production with missing secrets", EXIT_INVALID, problems)
