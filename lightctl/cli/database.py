"""``lightctl db``: the database's schema revision, and the upgrade that keeps its data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from lightctl.cli.inventory import DataDirOption, DbOption
from lightctl.cli.output import console, fail_with
from lightctl.errors import LightctlError
from lightctl.settings import Settings
from lightctl.store import Database
from lightctl.store.schema import Migrator, SchemaState

app = typer.Typer(help="Database schema: status and upgrades.", no_args_is_help=True)


def _database(database_url: str | None, data_dir: Path | None) -> Database:
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)  # type: ignore[arg-type]
    return Database(settings.resolved_database_url)


@app.command("status")
def status(database_url: str | None = DbOption, data_dir: Path | None = DataDirOption) -> None:
    """Which revision the database is at and which this lightctl needs (exit 2 unless equal)."""
    db = _database(database_url, data_dir)
    try:
        found = Migrator(db).status()
    finally:
        db.dispose()
    console.print(found.describe())
    for revision in found.pending:
        console.print(f"  pending: {revision}", markup=False)
    if found.state is not SchemaState.CURRENT:
        raise typer.Exit(2)


@app.command("upgrade")
def upgrade(
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    to: str = typer.Option("head", "--to", help="revision to upgrade to"),
) -> None:
    """Apply every pending migration in one transaction; a failure leaves the database as it was.

    Take a backup first (SQLite: copy the file; PostgreSQL: pg_dump)."""
    db = _database(database_url, data_dir)
    migrator = Migrator(db)
    try:
        before = migrator.status()
        if before.state is SchemaState.CURRENT:
            console.print(before.describe())
            return
        console.print(before.describe())
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("migrating", total=len(before.pending) or None)
            applied = migrator.upgrade(to, on_step=lambda _rev: progress.advance(task))
        after = migrator.status()
    except LightctlError as exc:
        fail_with(exc)
    finally:
        db.dispose()
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}")
    console.print(after.describe())


@app.command("revision")
def revision(
    message: str = typer.Option(..., "-m", "--message", help="what the revision changes"),
    rev_id: str = typer.Option(..., "--id", help="e.g. 0002_lantern_faults"),
) -> None:
    """For developers: write a new revision from what the models changed (review it!)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/head.db")
        try:
            migrator = Migrator(db)
            migrator.upgrade()
            path = migrator.new_revision(message, rev_id)
        except LightctlError as exc:
            fail_with(exc)
        finally:
            db.dispose()
    console.print(f"wrote {path}: review it, then run the schema test", markup=False)
