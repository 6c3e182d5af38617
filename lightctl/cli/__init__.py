"""The ``lightctl`` command line."""

from __future__ import annotations

import typer

from lightctl.cli import (
    access,
    alerts,
    coverage,
    database,
    feeds,
    geocodes,
    inventory,
    keys,
    mqtt,
    server,
    targets,
    templates,
)
from lightctl.cli import audit as audit_cli

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
app.add_typer(keys.app, name="keys")
app.add_typer(access.users_app, name="users")
app.add_typer(access.tokens_app, name="tokens")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(mqtt.app, name="mqtt")
app.add_typer(database.app, name="db")
app.add_typer(geocodes.app, name="geocodes")
app.add_typer(feeds.app, name="feeds")
app.add_typer(coverage.buildings_app, name="buildings")
app.add_typer(coverage.coverage_app, name="coverage")
app.add_typer(coverage.speakers_app, name="speakers")
app.add_typer(coverage.noise_app, name="noise")


def main() -> None:
    app()
