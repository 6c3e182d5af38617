"""``lightctl feeds``: CAP and NINA feeds the service polls (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from lightctl.cap.feeds import NINA_BASE, FeedSpec, add_feed, feeds, health_line, remove_feed
from lightctl.cli.inventory import DataDirOption, DbOption, open_db
from lightctl.cli.output import console, fail, fail_with
from lightctl.errors import LightctlError

app = typer.Typer(help="CAP/Atom and NINA feeds the service polls.", no_args_is_help=True)


@app.command("add")
def feeds_add(
    name: str = typer.Argument(..., help="a short name, shown on /healthz"),
    nina_ars: str | None = typer.Option(
        None, "--nina-ars", help="poll NINA dashboards for these 12-digit ARS keys (comma list)"
    ),
    cap_url: str | None = typer.Option(None, "--cap-url", help="a CAP message or Atom feed URL"),
    url: str = typer.Option(NINA_BASE, "--nina-url", help="NINA API base (for a mirror)"),
    interval: int = typer.Option(60, "--interval", help="seconds between polls"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add a feed; the running service starts polling it within seconds."""
    if (nina_ars is None) == (cap_url is None):
        fail("give either --nina-ars or --cap-url")
    if nina_ars is not None:
        ars = tuple(a.strip() for a in nina_ars.split(",") if a.strip())
        spec = FeedSpec(name, "nina", url, ars, interval)
    else:
        spec = FeedSpec(name, "cap", cap_url or "", (), interval)
    db, _settings = open_db(database_url, data_dir)
    try:
        add_feed(db, spec, datetime.now(UTC))
    except LightctlError as exc:
        fail_with(exc)
    finally:
        db.dispose()
    console.print(f"feed {name} added ({spec.kind}, every {interval} s)", markup=False)


@app.command("list")
def feeds_list(database_url: str | None = DbOption, data_dir: Path | None = DataDirOption) -> None:
    """Every feed with its health line."""
    db, _settings = open_db(database_url, data_dir)
    try:
        rows = feeds(db)
    finally:
        db.dispose()
    if not rows:
        console.print("no feeds")
    now = datetime.now(UTC)
    for row in rows:
        console.print(f"{row.name} [{row.kind}] {row.url}: {health_line(row, now)}", markup=False)


@app.command("remove")
def feeds_remove(
    name: str, database_url: str | None = DbOption, data_dir: Path | None = DataDirOption
) -> None:
    db, _settings = open_db(database_url, data_dir)
    try:
        found = remove_feed(db, name)
    finally:
        db.dispose()
    if not found:
        fail(f"no feed named {name!r}")
    console.print(f"feed {name} removed", markup=False)
