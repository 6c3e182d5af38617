"""``lightctl target preview``: who a target reaches, before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from lightctl.cli.client import ApiClient, api_url
from lightctl.cli.output import console, fail
from lightctl.domain.targets import CAPABILITIES

app = typer.Typer(help="Preview targets (streets, areas, circles, routes).", no_args_is_help=True)

# Beyond this many ids the table lists the first ones; --ids prints them all.
_SHOWN_IDS = 20


def parse_circle(text: str, option: str = "--circle") -> dict[str, float]:
    """``LON,LAT,RADIUS_M`` as a Target circle."""
    parts = [p.strip() for p in text.split(",")]
    try:
        lon, lat, radius = (float(p) for p in parts)
    except ValueError:
        fail(f"{option} needs LON,LAT,RADIUS_M (e.g. 8.5392,47.3702,150), got {text!r}")
    return {"lon": lon, "lat": lat, "radius_m": radius}


def read_geometry(path: Path, option: str) -> dict[str, Any]:
    """A GeoJSON geometry from a file: a geometry, a Feature, or a collection of one Feature."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        fail(f"{option} {path}: cannot read GeoJSON ({exc})")
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features") or []
        if len(features) != 1:
            fail(f"{option} {path}: a FeatureCollection must hold exactly one Feature here")
        data = features[0]
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict):
        fail(f"{option} {path}: not a GeoJSON geometry")
    return data


def build_target(
    streets: list[str],
    lanterns: list[str],
    groups: list[str],
    circle: str | None,
    area: Path | None,
    route: Path | None,
    width: float | None,
) -> dict[str, Any]:
    target: dict[str, Any] = {}
    if streets:
        target["streets"] = streets
    if lanterns:
        target["lanterns"] = lanterns
    if groups:
        target["groups"] = groups
    if circle is not None:
        target["circle"] = parse_circle(circle)
    if area is not None:
        target["area"] = read_geometry(area, "--area")
    if route is not None:
        if width is None:
            fail("--route needs --width METRES (the reach on each side of the line)")
        target["route"] = {"line": read_geometry(route, "--route"), "width_m": width}
    elif width is not None:
        fail("--width goes with --route")
    return target


@app.command("preview")
def preview(
    street: list[str] = typer.Option([], "--street", "-s", help="street name (repeatable)"),
    lantern: list[str] = typer.Option([], "--lantern", "-l", help="lantern id (repeatable)"),
    group: list[str] = typer.Option([], "--group", "-g", help="group name (repeatable)"),
    circle: str | None = typer.Option(None, help="LON,LAT,RADIUS_M"),
    area: Path | None = typer.Option(None, help="GeoJSON Polygon/MultiPolygon file", exists=True),
    route: Path | None = typer.Option(None, help="GeoJSON LineString file", exists=True),
    width: float | None = typer.Option(None, help="metres on each side of --route"),
    exclude_street: list[str] = typer.Option([], help="street to leave out (repeatable)"),
    exclude_lantern: list[str] = typer.Option([], help="lantern to leave out (repeatable)"),
    exclude_group: list[str] = typer.Option([], help="group to leave out (repeatable)"),
    exclude_circle: str | None = typer.Option(None, help="LON,LAT,RADIUS_M to leave out"),
    exclude_area: Path | None = typer.Option(None, help="GeoJSON area to leave out", exists=True),
    repair: bool = typer.Option(False, help="repair invalid polygons instead of refusing"),
    allow_empty: bool = typer.Option(False, help="accept a target with no lanterns"),
    confirm_large: bool = typer.Option(False, help="accept more lanterns than the ceiling"),
    ids: bool = typer.Option(False, "--ids", help="list every lantern id"),
    geojson: Path | None = typer.Option(None, help="write the lanterns as GeoJSON to this file"),
    api: str | None = typer.Option(None, help="API base URL (default $LIGHTCTL_API_URL)"),
    token: str | None = typer.Option(
        None, "--token", envvar="LIGHTCTL_TOKEN", help="API token ($LIGHTCTL_TOKEN)"
    ),
) -> None:
    """Show how many lanterns a target reaches, what they can do and which are offline."""
    target = build_target(street, lantern, group, circle, area, route, width)
    if not target:
        fail("give a target: --street, --lantern, --group, --circle, --area or --route")
    exclude = build_target(
        exclude_street, exclude_lantern, exclude_group, exclude_circle, exclude_area, None, None
    )
    if exclude:
        target["exclude"] = exclude
    flags = {"repair": repair, "allow_empty": allow_empty, "confirm_large": confirm_large}
    target.update({name: True for name, on in flags.items() if on})
    result = ApiClient(api_url(api), token=token).request(
        "POST", "/targets/preview", json=target, params={"geojson": geojson is not None}
    )
    print_preview(result, show_all_ids=ids)
    if geojson is not None:
        geojson.write_text(json.dumps(result["geojson"], ensure_ascii=False), encoding="utf-8")
        console.print(f"GeoJSON of {result['lantern_count']} lanterns written to {geojson}")


def print_preview(result: dict[str, Any], show_all_ids: bool = False) -> None:
    count = result["lantern_count"]
    summary = Table("reached", "lanterns", title="target preview", title_justify="left")
    summary.add_row("[bold]lanterns[/]", f"[bold]{count}[/]")
    for cap in CAPABILITIES:
        summary.add_row(f"with {cap.replace('_', ' ')}", str(result["capabilities"].get(cap, 0)))
    offline = result["offline_count"]
    summary.add_row("offline now", f"[red]{offline}[/]" if offline else "0")
    summary.add_row("availability unknown", str(result["availability_unknown_count"]))
    broken = result.get("broken_speaker_count", 0)
    summary.add_row("speaker broken", f"[red]{broken}[/]" if broken else "0")
    console.print(summary)
    streets = Table("street", "lanterns", title="streets touched", title_justify="left")
    for s in result["streets"]:
        streets.add_row(s["name"], str(s["lantern_count"]))
    if result["without_street_count"]:
        streets.add_row("[dim](no named street)[/]", str(result["without_street_count"]))
    console.print(streets)
    shown = result["lantern_ids"] if show_all_ids else result["lantern_ids"][:_SHOWN_IDS]
    if shown:
        more = count - len(shown)
        tail = f" … and {more} more (--ids lists all)" if more else ""
        console.print("ids: " + ", ".join(shown) + tail, markup=False)
