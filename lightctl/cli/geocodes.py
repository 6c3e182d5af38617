"""``lightctl geocodes``: boundary files that place CAP geocodes (ARS, WARNCELLID, SAME …)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from lightctl.cap.geocodes import import_geocodes
from lightctl.cli.inventory import DataDirOption, DbOption, open_db
from lightctl.cli.output import console, fail_with
from lightctl.errors import LightctlError
from lightctl.store import cap as cap_store

app = typer.Typer(
    help="Boundaries for CAP geocodes: a message naming only codes plays where they lie.",
    no_args_is_help=True,
)


@app.command("import")
def geocodes_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON FeatureCollection"),
    scheme: str = typer.Option(..., "--scheme", help="ARS, WARNCELLID, SAME, EMMA_ID …"),
    code_property: str | None = typer.Option(
        None, "--code-property", help="feature property with the code (default: ARS, code, …)"
    ),
    name_property: str | None = typer.Option(None, "--name-property", help="default: GEN, name"),
    crs: str = typer.Option("EPSG:4326", help="CRS of the file, e.g. EPSG:25832 for VG250"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Import (or replace) the areas of a scheme's codes from a GeoJSON boundary file."""
    db, _settings = open_db(database_url, data_dir)
    try:
        report = import_geocodes(
            db, file, scheme, datetime.now(UTC), code_property, name_property, crs
        )
    except LightctlError as exc:
        fail_with(exc)
    finally:
        db.dispose()
    console.print(
        f"{report.scheme}: [bold]{report.added}[/] added, {report.replaced} replaced, "
        f"[bold]{len(report.skipped)}[/] skipped"
    )
    for index, reason in report.skipped[:10]:
        console.print(f"  skipped feature {index}: {reason}", markup=False)


@app.command("list")
def geocodes_list(
    database_url: str | None = DbOption, data_dir: Path | None = DataDirOption
) -> None:
    """How many boundaries each scheme has."""
    db, _settings = open_db(database_url, data_dir)
    try:
        with db.session() as session:
            counts = cap_store.geocode_counts(session)
    finally:
        db.dispose()
    if not counts:
        console.print("no geocode boundaries imported")
    for scheme, n in sorted(counts.items()):
        console.print(f"{scheme}: {n}", markup=False)
