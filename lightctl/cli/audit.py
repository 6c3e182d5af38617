"""``lightctl audit verify|export``: prove the trail is whole, and hand it over."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from lightctl.cli.access import now
from lightctl.cli.inventory import DataDirOption, DbOption, open_db
from lightctl.cli.output import EXIT_INVALID, console, err_console, fail
from lightctl.services.audit import AuditTrail

app = typer.Typer(help="The audit trail: verify the hash chain, export records.")

EXIT_TAMPERED = 5  # the chain is broken: a record was edited or deleted


@app.command("verify")
def verify(
    expect_head: str | None = typer.Option(
        None, help="the head hash noted at an earlier verify: proves nothing was cut off since"
    ),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Walk the chain; name every edited or deleted record (exit 5), else print the head hash."""
    db, _settings = open_db(database_url, data_dir)
    report = AuditTrail(db, now).verify()
    for finding in report.findings:
        err_console.print(f"[bold red]tampered:[/] {finding.message}")
    if expect_head is not None and expect_head != report.head_hash:
        seen = report.head_hash
        err_console.print(f"[bold red]tampered:[/] head is {seen}, expected {expect_head}")
        raise typer.Exit(EXIT_TAMPERED)
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)
    console.print(
        f"audit trail intact: {report.records} records, head {report.head_seq} {report.head_hash}"
    )


@app.command("export")
def export(
    since: str | None = typer.Option(None, help="ISO time, e.g. 2026-03-01 or 2026-03-01T12:00Z"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    out: Path | None = typer.Option(None, "--out", "-o", help="file (default: standard output)"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Every record (from --since on) in chain order, hashes included."""
    if fmt not in ("jsonl", "csv"):
        fail(f"--format must be jsonl or csv, not {fmt!r}", EXIT_INVALID)
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--since {since!r} is not an ISO date or time", EXIT_INVALID)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    db, _settings = open_db(database_url, data_dir)
    chunks = AuditTrail(db, now).export(start, "csv" if fmt == "csv" else "jsonl")
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
    console.print(f"audit records written to {out}")
