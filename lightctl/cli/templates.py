"""``lightctl templates``: check a directory of warning templates before it goes live."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lightctl.cli.output import EXIT_INVALID, console, err_console
from lightctl.paths import TEMPLATES_DIR
from lightctl.templates import load_templates, validate_directory

app = typer.Typer(help="Pre-approved warning templates.", no_args_is_help=True)


@app.command("validate")
def validate(
    directory: Path = typer.Argument(TEMPLATES_DIR, help="directory of *.toml templates"),
) -> None:
    """Check every template; each problem names the file and the key. Exit 2 on problems."""
    problems = validate_directory(directory)
    if problems:
        for problem in problems:
            err_console.print(f"[red]✗[/] {problem}", markup=True, highlight=False)
        err_console.print(f"{len(problems)} problem(s) in {directory}")
        raise typer.Exit(EXIT_INVALID)
    templates = load_templates(directory)
    console.print(f"[green]✓[/] {len(templates)} templates in {directory} are valid")


@app.command("list")
def list_templates(
    directory: Path = typer.Argument(TEMPLATES_DIR, help="directory of *.toml templates"),
) -> None:
    """The templates with their languages and placeholders."""
    templates = load_templates(directory)
    table = Table("id", "title", "severity", "signal", "default languages", "placeholders")
    for t in sorted(templates.values(), key=lambda t: t.id):
        table.add_row(
            t.id,
            t.title.get("en", ""),
            t.severity,
            t.signal,
            ",".join(t.default_languages),
            ",".join(t.placeholder_names),
        )
    console.print(table)
