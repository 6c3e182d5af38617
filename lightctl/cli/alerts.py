"""``lightctl alert``: send a warning and watch every lantern confirm it."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lightctl.cli.client import ApiClient, api_url
from lightctl.cli.output import EXIT_NOT_DELIVERED, console, fail

app = typer.Typer(help="Send warnings and follow their delivery.", no_args_is_help=True)

FINAL = {
    "done",
    "applied",
    "rejected",
    "failed",
    "expired",
    "interrupted",
    "cancelled",
    "superseded",
    "unreachable",
}
DELIVERED = {"done", "applied"}
STATE_ORDER = [
    "planned",
    "published",
    "received",
    "playing",
    "done",
    "applied",
    "interrupted",
    "rejected",
    "failed",
    "expired",
    "cancelled",
    "superseded",
    "unreachable",
]


def _summary(counts: dict[str, int]) -> str:
    return "  ".join(f"{s} {counts[s]}" for s in STATE_ORDER if counts.get(s))


@app.command("send")
def send(
    street: list[str] = typer.Option([], "--street", "-s", help="street name (repeatable)"),
    lantern: list[str] = typer.Option([], "--lantern", "-l", help="lantern id (repeatable)"),
    template: str | None = typer.Option(None, "--template", help="pre-approved template id"),
    param: list[str] = typer.Option([], "--param", "-p", help="template placeholder NAME=VALUE"),
    lang: list[str] = typer.Option([], "--lang", help="language (of the following --text)"),
    text: list[str] = typer.Option([], "--text", "-t", help="message in the preceding --lang"),
    priority: int = typer.Option(1, min=1, max=16, help="1 = life safety (dispatcher)"),
    expires_in: int | None = typer.Option(None, "--expires-in", help="seconds until expiry"),
    signal: str | None = typer.Option(None, help="warning | all_clear | none (default: template)"),
    repeat: int = typer.Option(1, min=1, max=5),
    exercise: bool = typer.Option(False, help="mark as an exercise"),
    wait: bool = typer.Option(True, help="show delivery progress until every lantern answered"),
    timeout: float = typer.Option(600.0, help="seconds to wait for the lanterns"),
    api: str | None = typer.Option(None, help="API base URL (default $LIGHTCTL_API_URL)"),
    token: str | None = typer.Option(
        None, "--token", envvar="LIGHTCTL_TOKEN", help="API token ($LIGHTCTL_TOKEN)"
    ),
) -> None:
    """Send a spoken warning, e.g. --street Bahnhofstrasse --lang de --text "…" --lang en …"""
    if not street and not lantern:
        fail("give a target: --street NAME or --lantern ID")
    body: dict[str, Any] = {
        "target": {"streets": street, "lanterns": lantern},
        "languages": lang,
        "priority": priority,
        "repeat": repeat,
        "exercise": exercise,
    }
    if template is not None:
        if text:
            fail("--text is for free messages; with --template give --param NAME=VALUE")
        pairs = [p.partition("=") for p in param]
        bad = [p for p, eq, _v in pairs if not eq]
        if bad:
            fail(f"--param needs NAME=VALUE (got {bad[0]!r})")
        body["template"] = template
        body["params"] = {name: value for name, _eq, value in pairs}
    else:
        if len(lang) != len(text):
            fail(f"give one --text per --lang (got {len(lang)} --lang and {len(text)} --text)")
        if not lang:
            fail("give --template ID or at least one --lang with its --text")
        body["messages"] = dict(zip(lang, text, strict=True))
    if signal is not None:
        body["signal"] = signal
    if expires_in is not None:
        body["expires_in_s"] = expires_in
    client = ApiClient(api_url(api), token=token)
    alert = client.request("POST", "/alerts", json=body)
    console.print(
        f"alert [bold]{alert['id']}[/] sent to {alert['lantern_count']} lanterns "
        f"({', '.join(alert['languages'])}); expires {alert['expires_at']}"
    )
    for clip in alert["clips"]:
        note = f" (fallback: {clip['fallback_reason']})" if clip.get("fallback_reason") else ""
        console.print(f"  {clip['lang']}: {clip['duration_s']:.1f} s by {clip['engine']}{note}")
    if wait:
        _follow(client, alert["id"], alert["lantern_count"], timeout)


def _follow(client: ApiClient, alert_id: str, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    with Progress(
        TextColumn("[bold]lanterns answered"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
    ) as progress:
        task = progress.add_task("", total=total)
        while time.monotonic() < deadline:
            counts = client.request("GET", f"/alerts/{alert_id}")["counts"]
            final = sum(n for s, n in counts.items() if s in FINAL)
            progress.update(task, completed=final, description=_summary(counts))
            if final >= total:
                break
            time.sleep(0.5)
    console.print(f"[bold]{alert_id}[/]: {_summary(counts)}")
    missing = total - sum(n for s, n in counts.items() if s in DELIVERED)
    if sum(n for s, n in counts.items() if s in FINAL) < total:
        fail(
            f"timed out after {timeout:.0f} s; `lightctl alert status {alert_id}` shows more",
            EXIT_NOT_DELIVERED,
        )
    if missing:
        fail(
            f"{missing} of {total} lanterns did not confirm delivery; "
            f"see `lightctl alert status {alert_id} --lanterns`",
            EXIT_NOT_DELIVERED,
        )


@app.command("status")
def status(
    alert_id: str,
    lanterns: bool = typer.Option(False, "--lanterns", help="list every lantern's state"),
    api: str | None = typer.Option(None, help="API base URL"),
    token: str | None = typer.Option(
        None, "--token", envvar="LIGHTCTL_TOKEN", help="API token ($LIGHTCTL_TOKEN)"
    ),
) -> None:
    """Show an alert's delivery counts (and optionally every lantern)."""
    alert = ApiClient(api_url(api), token=token).request(
        "GET", f"/alerts/{alert_id}", params={"lanterns": lanterns}
    )
    exercise = " [yellow](exercise)[/]" if alert["exercise"] else ""
    console.print(
        f"[bold]{alert['id']}[/] {alert['status']}{exercise}, "
        f"priority {alert['priority']}, {alert['lantern_count']} lanterns, "
        f"expires {alert['expires_at']}"
    )
    table = Table("state", "lanterns")
    for state in STATE_ORDER:
        if alert["counts"].get(state):
            table.add_row(state, str(alert["counts"][state]))
    console.print(table)
    if lanterns and alert.get("lanterns"):
        rows = Table("lantern", "state", "reason", "attempts", "updated")
        for d in alert["lanterns"]:
            rows.add_row(
                d["lantern"], d["state"], d.get("reason") or "", str(d["attempts"]), d["updated_at"]
            )
        console.print(rows)


@app.command("list")
def list_alerts(
    api: str | None = typer.Option(None, help="API base URL"),
    token: str | None = typer.Option(
        None, "--token", envvar="LIGHTCTL_TOKEN", help="API token ($LIGHTCTL_TOKEN)"
    ),
) -> None:
    """The latest alerts, newest first."""
    alerts = ApiClient(api_url(api), token=token).request("GET", "/alerts")
    table = Table("id", "created", "status", "lanterns", "languages", "exercise")
    for a in alerts:
        table.add_row(
            a["id"],
            a["created_at"],
            a["status"],
            str(a["lantern_count"]),
            ",".join(a["languages"]),
            "yes" if a["exercise"] else "",
        )
    console.print(table)
