"""``lightctl keys``: the Ed25519 keys that sign every command, and the trust list lanterns load."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from lightctl.cli.access import actor
from lightctl.cli.inventory import DbOption, open_db
from lightctl.cli.output import EXIT_INVALID, console, fail, fail_with
from lightctl.errors import LightctlError
from lightctl.protocol.trust import KEY_SCOPES, KeyScope
from lightctl.services.audit import AuditTrail
from lightctl.settings import Settings
from lightctl.signing import DEFAULT_ACTIVATE_AFTER_S, KeyStore
from lightctl.signing.root import RootKey, public_path

app = typer.Typer(help="Command signing keys and the lanterns' trust list.", no_args_is_help=True)

DATA_DIR_HELP = "data directory holding keys/ ($LIGHTCTL_DATA_DIR)"


class ScopeChoice(StrEnum):
    ALL = "all"
    ORDINARY = "ordinary"
    LIFE_SAFETY = "life_safety"


def _store(data_dir: Path | None) -> KeyStore:
    return KeyStore.in_data_dir(data_dir or Settings().data_dir)


def _now() -> datetime:
    return datetime.now(UTC)


def _sign_hint(store: KeyStore) -> None:
    """After a change: lanterns take the new list only once the root key has signed it."""
    if store.root_path.exists():
        console.print(f"trust list signed by the root key in {store.directory}")
        return
    console.print(
        "[yellow]the new trust list is unsigned[/]: lanterns keep the old one until you sign it "
        f"with the offline root key: `lightctl keys trust --root-key ROOT.pem --out "
        f"{store.trust_path}`",
        soft_wrap=True,
    )


def _audit(
    action: str,
    kids: list[str],
    detail: dict[str, object],
    database_url: str | None,
    data_dir: Path | None,
) -> None:
    """A key change is on the audit trail like every other change of who may command lanterns."""
    db, _settings = open_db(database_url, data_dir)
    try:
        AuditTrail(db, _now).append(action, actor(), (), ",".join(kids), detail)
    finally:
        db.dispose()


@app.command("generate")
def generate(
    data_dir: Path | None = typer.Option(None, help=DATA_DIR_HELP),
    replay_window_s: int | None = typer.Option(
        None, min=1, help="lanterns refuse a seq this far below the newest (default 600 s)"
    ),
    database_url: str | None = DbOption,
) -> None:
    """Create the ordinary and the life-safety key (refused when they exist: use rotate)."""
    store = _store(data_dir)
    try:
        created = store.generate(replay_window_s)
    except LightctlError as exc:
        fail_with(exc)
    for key in created:
        console.print(f"[green]✓[/] {key.scope} key [bold]{key.kid}[/]")
    console.print(f"trust list for lanterns: {store.trust_path}")
    _sign_hint(store)
    kids = [k.kid for k in created]
    _audit("keys.generate", kids, {"scopes": [k.scope for k in created]}, database_url, data_dir)


@app.command("list")
def list_keys(
    data_dir: Path | None = typer.Option(None, help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Every key with its scope and status (pending, active, retired, revoked)."""
    store = _store(data_dir)
    registry = store.load()
    now = _now()
    rows = [
        {**key.to_json(), "status": registry.status(key, now)}
        for key in sorted(registry.keys, key=lambda k: (k.scope, k.active_from))
    ]
    if as_json:
        typer.echo(json.dumps({"version": registry.version, "keys": rows}, indent=2))
        return
    if not rows:
        console.print(f"no keys in {store.directory}: run `lightctl keys generate`")
        return
    table = Table("kid", "scope", "status", "signs from", "revoked")
    for row in rows:
        table.add_row(
            row["kid"], row["scope"], row["status"], row["active_from"], row["revoked_at"] or ""
        )
    console.print(table)
    console.print(f"trust list version {registry.version}: {store.trust_path}")


@app.command("rotate")
def rotate(
    scope: ScopeChoice = typer.Option(ScopeChoice.ALL, help="which key to replace"),
    activate_after_s: float = typer.Option(
        DEFAULT_ACTIVATE_AFTER_S,
        min=0,
        help="trusted at once, signing only after this delay (lanterns load the trust list)",
    ),
    now: bool = typer.Option(False, "--now", help="sign with the new key at once (compromise)"),
    data_dir: Path | None = typer.Option(None, help=DATA_DIR_HELP),
    database_url: str | None = DbOption,
) -> None:
    """A new key per scope; the old one stays trusted (retired) until you revoke it."""
    store = _store(data_dir)
    scopes: list[KeyScope] = list(KEY_SCOPES) if scope is ScopeChoice.ALL else [scope.value]  # type: ignore[list-item]
    created = store.rotate(scopes, 0 if now else activate_after_s)
    for key in created:
        console.print(
            f"[green]✓[/] new {key.scope} key [bold]{key.kid}[/], signing from "
            f"{key.active_from.isoformat(timespec='seconds')}"
        )
    console.print(
        "the previous keys stay trusted; revoke them with `lightctl keys revoke KID` once "
        "every command they signed has expired"
    )
    _sign_hint(store)
    detail: dict[str, object] = {
        "scopes": [k.scope for k in created],
        "signs_from": [k.active_from.isoformat(timespec="seconds") for k in created],
    }
    _audit("keys.rotate", [k.kid for k in created], detail, database_url, data_dir)


@app.command("revoke")
def revoke(
    kid: str = typer.Argument(..., help="key id, as `lightctl keys list` shows it"),
    force: bool = typer.Option(False, help="also revoke a key that signs right now"),
    data_dir: Path | None = typer.Option(None, help=DATA_DIR_HELP),
    database_url: str | None = DbOption,
) -> None:
    """Put a key on the lanterns' revocation list: anything it signed is refused."""
    store = _store(data_dir)
    try:
        key = store.revoke(kid, force)
    except LightctlError as exc:
        fail_with(exc)
    console.print(f"[green]✓[/] revoked {key.scope} key [bold]{key.kid}[/]")
    _sign_hint(store)
    _audit("keys.revoke", [key.kid], {"scope": key.scope, "forced": force}, database_url, data_dir)


@app.command("trust")
def trust(
    out: Path | None = typer.Option(None, help="write here instead of printing"),
    root_key: Path | None = typer.Option(
        None, help="the root key that signs it (default: root.pem in the keys directory)"
    ),
    data_dir: Path | None = typer.Option(None, help=DATA_DIR_HELP),
) -> None:
    """The trust list to provision lanterns with (`firmware-sim --trust FILE`), signed by the
    root key: lanterns refuse an unsigned one."""
    store = _store(data_dir)
    try:
        root = RootKey.load(root_key) if root_key is not None else store.root()
    except (OSError, ValueError) as exc:
        fail(f"--root-key {root_key}: {exc}", EXIT_INVALID)
    if root is None:
        fail(
            f"no root key in {store.directory}: pass the offline one with --root-key "
            "(`lightctl keys root-generate --out ROOT.pem` makes one)",
            EXIT_INVALID,
        )
    if out is not None:
        listed = store.write_trust(out, root=root)
        console.print(
            f"[green]✓[/] trust list version {listed.version} signed by {root.kid}, written to "
            f"{out}",
            soft_wrap=True,
        )
        return
    typer.echo(json.dumps(store.trust_list(root=root).model_dump(mode="json"), indent=2))


@app.command("root-generate")
def root_generate(
    out: Path = typer.Option(
        ...,
        help="where the private root key goes (keep it offline); its public half is "
        "written beside it as NAME.pub.json",
    ),
) -> None:
    """A new root key that signs trust lists; lanterns are provisioned with its public half."""
    try:
        root = RootKey.generate(out)
    except LightctlError as exc:
        fail_with(exc)
    except OSError as exc:
        fail(f"--out {out}: {exc}", EXIT_INVALID)
    console.print(f"[green]✓[/] root key [bold]{root.kid}[/]: {out} (private, 0600)")
    console.print(
        f"provision lanterns with {public_path(out)} (`firmware-sim --trust-root`)", soft_wrap=True
    )
