"""``lightctl lanterns import`` and ``lightctl streets import``: load inventory into the DB."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lightctl.cli.output import console, fail_with
from lightctl.errors import LightctlError
from lightctl.geo.readers import count_rows
from lightctl.geo.survey import MIN_OUTLIER_DISTANCE_M
from lightctl.services.inventory import (
    ImportReport,
    OutlierPolicy,
    import_lanterns,
    import_streets,
    parse_capabilities,
    xy_fields_of,
)
from lightctl.settings import Settings
from lightctl.store import Database

lanterns_app = typer.Typer(help="Lantern inventory.", no_args_is_help=True)
streets_app = typer.Typer(
    help="Street geometry used to name where lanterns stand.", no_args_is_help=True
)

DbOption = typer.Option(
    None, "--database-url", help="default: $LIGHTCTL_DATABASE_URL or SQLite in the data dir"
)
DataDirOption = typer.Option(
    None, "--data-dir", help="default: $LIGHTCTL_DATA_DIR or ./lightctl-data"
)


def open_db(database_url: str | None, data_dir: Path | None) -> tuple[Database, Settings]:
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)  # type: ignore[arg-type]
    db = Database(settings.resolved_database_url)
    try:
        db.create_all()  # an older or newer schema is refused, naming `lightctl db upgrade`
    except LightctlError as exc:
        db.dispose()
        fail_with(exc)
    return db, settings


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def print_report(report: ImportReport, what: str) -> None:
    console.print(
        f"{what}: [bold]{report.taken}[/] taken ({report.inserted} new, {report.updated} updated, "
        f"{report.unchanged} unchanged), [bold]{len(report.skipped)}[/] skipped"
    )
    reasons = Counter(s.reason for s in report.skipped)
    for reason, n in reasons.most_common(10):
        first = next(s for s in report.skipped if s.reason == reason)
        console.print(f"  skipped {n}× {reason} (first at row {first.row})", markup=False)


# Lines of duplicate groups and outliers printed; the API answers up to 100 of each.
_LISTED = 10


def print_findings(report: ImportReport) -> None:
    """Where ids and streets came from, shared coordinates and far-away points."""
    if report.ids_from_position:
        console.print(
            f"  ids from position: {report.ids_from_position} rows have no id and got "
            "pos-<geohash> (-2, -3, ... for more luminaires at one spot)",
            markup=False,
        )
    if report.street_field:
        console.print(f"  streets from the file's {report.street_field!r} field", markup=False)
    if report.duplicates:
        rows = sum(len(g.ids) for g in report.duplicates)
        console.print(
            f"  duplicate coordinates: {len(report.duplicates)} groups, {rows} rows share a "
            "coordinate (kept as separate lanterns)",
            markup=False,
        )
        for group in report.duplicates[:_LISTED]:
            console.print(
                f"    {group.lon:.7f}, {group.lat:.7f}: {', '.join(group.ids)} "
                f"(rows {', '.join(str(r) for r in group.rows)})",
                markup=False,
            )
        if len(report.duplicates) > _LISTED:
            console.print(f"    ... and {len(report.duplicates) - _LISTED} more groups")
    if report.outliers:
        fate = "skipped" if report.outliers_skipped else "kept; --outliers skip leaves them out"
        console.print(
            f"  outliers: {len(report.outliers)} lanterns more than "
            f"{report.outlier_distance_m or 0:.0f} m from any other ({fate})",
            markup=False,
        )
        for o in report.outliers[:_LISTED]:
            console.print(
                f"    {o.id} at {o.lon:.7f}, {o.lat:.7f} (row {o.row}): "
                f"{o.nearest_m / 1000.0:.1f} km from the nearest other lantern",
                markup=False,
            )
        if len(report.outliers) > _LISTED:
            console.print(f"    ... and {len(report.outliers) - _LISTED} more")


@lanterns_app.command("import")
def lanterns_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="GeoJSON, CSV, Overpass JSON or NGSI-LD"
    ),
    crs: str = typer.Option("EPSG:4326", help="CRS the file is written in, e.g. EPSG:2056"),
    fmt: str | None = typer.Option(
        None, "--format", help="geojson | csv | overpass | ngsi-ld (default: detect)"
    ),
    id_field: str | None = typer.Option(
        None,
        help="column/property holding the lantern id (default: nisnr, id, lamp_id, ...; "
        "none: ids from position)",
    ),
    street_field: str | None = typer.Option(
        None,
        help="column/property holding the street (default: street, strasse, strassenname, ... "
        "if present; else the nearest named street)",
    ),
    x_field: str | None = typer.Option(
        None, help="CSV column holding x, lon or easting (default: found by its name)"
    ),
    y_field: str | None = typer.Option(
        None, help="CSV column holding y, lat or northing (default: found by its name)"
    ),
    outliers: OutlierPolicy = typer.Option(
        OutlierPolicy.KEEP,
        help="lanterns far from any other: keep (default: a real lantern is never lost) or skip; "
        "reported either way",
    ),
    outlier_distance: float = typer.Option(
        MIN_OUTLIER_DISTANCE_M,
        min=1.0,
        help="metres from the nearest other lantern beyond which a lantern is an outlier "
        "(raised for sparse inventories)",
    ),
    max_street_distance: float = typer.Option(30.0, help="metres to the nearest named street"),
    capabilities: str = typer.Option(
        "speaker,rgb,projector,path_light", help="what these lanterns have"
    ),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Load lanterns; re-importing the same file changes nothing. Nothing is stored if any row's
    coordinates cannot be in the CRS."""
    try:
        caps = parse_capabilities(capabilities)
        xy_fields = xy_fields_of(x_field, y_field)
        db, _settings = open_db(database_url, data_dir)
        total = count_rows(file, fmt)
        with _progress() as progress:
            task = progress.add_task(f"reading {file.name}", total=total)
            report = import_lanterns(
                db,
                file,
                fmt=fmt,
                crs=crs,
                id_field=id_field,
                street_field=street_field,
                xy_fields=xy_fields,
                outliers=outliers,
                min_outlier_m=outlier_distance,
                max_street_distance_m=max_street_distance,
                capabilities=caps,
                progress=lambda n: progress.advance(task, n),
            )
    except LightctlError as exc:
        fail_with(exc)
    print_report(report, "lanterns")
    console.print(
        f"  {report.with_street} of {report.taken} within {max_street_distance:g} m "
        "of a named street"
    )
    print_findings(report)


@streets_app.command("import")
def streets_import(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="GeoJSON LineStrings with a name, an OSM extract (.osm.pbf, .osm) or Overpass JSON",
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="geojson | osm-pbf | osm-xml | overpass (default: detect)"
    ),
    max_street_distance: float = typer.Option(30.0, help="metres from a lantern to its street"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Load street segments and give every stored lantern its nearest named street."""
    try:
        db, _settings = open_db(database_url, data_dir)
        with _progress() as progress:
            task = progress.add_task(f"reading {file.name}", total=None)
            report = import_streets(
                db,
                file,
                max_street_distance_m=max_street_distance,
                progress=lambda n: progress.advance(task, n),
                fmt=fmt,
            )
    except LightctlError as exc:
        fail_with(exc)
    print_report(report, "street segments")
    classes = ", ".join(f"{cls or '(none)'} {n}" for cls, n in sorted(report.classes.items()))
    console.print(f"  named segments by class: {classes}", markup=False)
    if report.unnamed:
        paths = ", ".join(f"{c or '(none)'} {n}" for c, n in sorted(report.unnamed.items()))
        console.print(
            f"  unnamed segments by class (walking graph only, no street): {paths}",
            markup=False,
        )
    console.print(
        f"  {report.lanterns_reassigned} lanterns got a new street; "
        f"{report.with_street} lanterns stand within {max_street_distance:g} m of a named street"
    )
