"""The ``lightctl`` command line."""

from __future__ import annotations

import typer

from lightctl.cli import alerts, inventory, server, targets, templates

app = typer.Typer(
    help="lightctl: warn streets and squares through smart street lanterns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(server.serve)
app.command("demo")(server.demo)
app.add_typer(alerts.app, name="alert")
app.add_typer(inventory.lanterns_app, name="lanterns")
app.add_typer(inventory.streets_app, name="streets")
app.add_typer(templates.app, name="templates")
app.add_typer(targets.app, name="target")


def main() -> None:
    app()
