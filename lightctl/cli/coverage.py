"""``lightctl buildings import``, ``lightctl noise import`` and ``lightctl coverage``: footprints,
ambient noise maps and the coverage map."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lightctl.acoustics.propagation import SourceSpec
from lightctl.cli.inventory import DataDirOption, DbOption, open_db
from lightctl.cli.output import console, fail_with
from lightctl.errors import LightctlError
from lightctl.geo.buildings import read_footprints, save_footprints
from lightctl.geo.noise import read_noise_map, save_noise_map
from lightctl.services.coverage import CoverageService
from lightctl.services.speaker_specs import read_speaker_specs, save_speaker_specs

buildings_app = typer.Typer(
    help="Building footprints: they block the sound of lantern speakers.", no_args_is_help=True
)
speakers_app = typer.Typer(
    help="Per-lantern speaker data (level, height, beam) for the coverage model.",
    no_args_is_help=True,
)
coverage_app = typer.Typer(help="Acoustic coverage of the lantern speakers.", no_args_is_help=True)
noise_app = typer.Typer(
    help="Noise maps (Lden / Lnight): the ambient a warning must rise above.", no_args_is_help=True
)


@buildings_app.command("import")
def buildings_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON footprints"),
    crs: str | None = typer.Option(
        None, help="CRS of the file, e.g. EPSG:2056 (default: the file's crs member, else WGS 84)"
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Check (repairing what can be repaired) and store footprints for the coverage model."""
    try:
        _db, settings = open_db(None, data_dir)
        footprints = save_footprints(settings.data_dir, read_footprints(file, crs))
    except LightctlError as exc:
        fail_with(exc)
    console.print(
        f"buildings: [bold]{len(footprints.ids)}[/] stored, {footprints.repaired} repaired; "
        "the coverage model rebuilds on its next use"
    )


@noise_app.command("import")
def noise_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="GeoJSON polygons of Lden / Lnight (e.g. an END map)"
    ),
    crs: str | None = typer.Option(
        None, help="CRS of the file, e.g. EPSG:2056 (default: the file's crs member, else WGS 84)"
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Check every area's level (20-100 dB(A)) and store the map; where it covers a street it
    replaces the street-class ambient (Lden by day, Lnight by night)."""
    try:
        _db, settings = open_db(None, data_dir)
        noise = save_noise_map(settings.data_dir, read_noise_map(file, crs))
    except LightctlError as exc:
        fail_with(exc)
    with_day = sum(1 for v in noise.lden if v == v)  # NaN != NaN: not given
    with_night = sum(1 for v in noise.lnight if v == v)
    console.print(
        f"noise map: [bold]{len(noise)}[/] areas stored ({with_day} with Lden, {with_night} with "
        f"Lnight, {noise.repaired} repaired); the coverage model rebuilds on its next use"
    )


@speakers_app.command("import")
def speakers_import(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="CSV: lantern_id,level_db,height_m[,heading_deg,beam_deg]",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Check every row (levels 60-130 dB(A), heights above 0) and store the file."""
    try:
        _db, settings = open_db(None, data_dir)
        default = SourceSpec(settings.speaker_level_db, settings.speaker_height_m)
        specs = read_speaker_specs(file, default)
        save_speaker_specs(settings.data_dir, specs)
    except LightctlError as exc:
        fail_with(exc)
    console.print(f"speakers: [bold]{len(specs)}[/] lanterns with their own speaker data stored")


@coverage_app.command("report")
def coverage_report(
    level_db: float | None = typer.Option(None, help="speech dB(A) at 1 m (60-130)"),
    height_m: float | None = typer.Option(None, help="speaker height above ground, m"),
    suggestions: int = typer.Option(5, min=0, max=50, help="next-speaker positions"),
    as_json: bool = typer.Option(False, "--json", help="the report as JSON"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Rate every street by the whole inventory's speakers, day and night, and say where one
    more speaker would help most."""
    try:
        db, settings = open_db(database_url, data_dir)
        source = SourceSpec(
            settings.speaker_level_db if level_db is None else level_db,
            settings.speaker_height_m if height_m is None else height_m,
        ).checked()
        service = CoverageService(
            db,
            settings.data_dir,
            source,
            settings.coverage_spacing_m,
            settings.coverage_radius_m,
            settings.facade_cap_db,
            lambda _id: None,
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("coverage matrix", total=None)

            def step(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            service.remember(service.build(service.key(), step))
        report = service.citywide(suggestions)
    except LightctlError as exc:
        fail_with(exc)
    shares = report.shares
    if as_json:
        body = {
            "day": shares,
            "night": report.night,
            "echo_risk": report.echo_risk,
            "length_m": round(report.length_m, 1),
            "speakers": report.speakers,
            "gap_count": report.gap_count,
            "warnings": report.warnings,
            "suggestions": [
                {
                    "lon": s.lon,
                    "lat": s.lat,
                    "street": s.street,
                    "newly_covered_m": s.newly_covered_m,
                }
                for s in report.suggestions
            ],
        }
        typer.echo(json.dumps(body, indent=2))
        return
    console.print(
        f"{report.length_m / 1000:.1f} km of street, {report.speakers} speakers: by day "
        f"{shares['intelligible']:.0%} intelligible, {shares['audible']:.0%} audible, "
        f"{shares['not_covered']:.0%} not covered; by night "
        f"{report.night['intelligible']:.0%} intelligible",
        markup=False,
    )
    for warning in report.warnings:
        console.print(f"  note: {warning}", markup=False)
    for n, s in enumerate(report.suggestions, 1):
        console.print(
            f"  next speaker {n}: {s.lat:.6f}, {s.lon:.6f} ({s.street or 'unnamed'}): "
            f"+{s.newly_covered_m:.0f} m intelligible",
            markup=False,
        )
