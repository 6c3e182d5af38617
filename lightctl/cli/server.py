"""``lightctl serve`` for production and ``lightctl demo`` for everything in one command."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import typer
import uvicorn
from pydantic import ValidationError

from lightctl.api import create_app
from lightctl.broker import EmbeddedBroker, pick_port, port_is_free
from lightctl.cli.access import DemoAccounts, demo_accounts, refuse_open_production
from lightctl.cli.inventory import print_report
from lightctl.cli.output import EXIT_INVALID, console, fail, fail_with
from lightctl.errors import LightctlError
from lightctl.paths import DEMO_LANTERNS, DEMO_STREETS
from lightctl.runtime import Runtime
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.settings import Settings
from lightctl.signing import KeyStore
from lightctl.store import Database
from lightctl.templates import TemplateInvalid


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        fail("invalid settings", EXIT_INVALID, problems)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(
    host: str | None = typer.Option(None, help="listen address ($LIGHTCTL_HTTP_HOST)"),
    port: int | None = typer.Option(None, help="HTTP port ($LIGHTCTL_HTTP_PORT, default 8000)"),
    mqtt_url: str | None = typer.Option(None, help="mqtt://HOST:PORT ($LIGHTCTL_MQTT_URL)"),
    database_url: str | None = typer.Option(
        None, help="sqlite:///… or postgresql://… ($LIGHTCTL_DATABASE_URL)"
    ),
    data_dir: Path | None = typer.Option(None, help="clips and SQLite ($LIGHTCTL_DATA_DIR)"),
    public_url: str | None = typer.Option(
        None, help="URL lanterns fetch clips from ($LIGHTCTL_PUBLIC_URL)"
    ),
    sandbox: bool | None = typer.Option(
        None, "--sandbox/--no-sandbox", help="rehearsal: exercises only, simulator topics only"
    ),
    log_level: str = typer.Option("info"),
) -> None:
    """Run the API, outbox publisher and ack consumer against an external broker and database."""
    settings = _settings(
        http_host=host,
        http_port=port,
        mqtt_url=mqtt_url,
        database_url=database_url,
        data_dir=data_dir,
        public_url=public_url,
        sandbox=sandbox,
    )
    _logging(log_level)
    refuse_open_production(settings)
    if not port_is_free(settings.http_port, settings.http_host):
        fail(f"port {settings.http_port} on {settings.http_host} is already in use (--port)")
    uvicorn.run(
        create_app(settings, _checked_runtime(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_level=log_level,
        access_log=False,
    )


def demo(
    broker: str | None = typer.Option(
        None, help="use this broker (mqtt://HOST:PORT) instead of starting one"
    ),
    port: int = typer.Option(8000, help="HTTP port of the API and console"),
    data_dir: Path = typer.Option(Path("lightctl-data/demo"), help="SQLite, clips, broker config"),
    speed: float = typer.Option(1.0, min=0.1, max=1000, help="simulated playback speed factor"),
    fleet: bool = typer.Option(True, help="start the simulated fleet"),
    log_level: str = typer.Option("warning"),
) -> None:
    """Embedded broker, SQLite, API and a simulated fleet of real Zürich lanterns."""
    _logging(log_level)
    if not port_is_free(port):
        fail(f"port {port} is already in use; choose another with --port")
    if not DEMO_LANTERNS.exists():
        fail(f"the demo inventory {DEMO_LANTERNS} is missing; is this a full checkout?")
    embedded: EmbeddedBroker | None = None
    sim: subprocess.Popen[bytes] | None = None
    # uvicorn shuts down on SIGTERM and then raises it again; with the default handler that ends
    # the process before `finally` stops the simulator and broker, which would outlive the demo.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))
    try:
        if broker is None:
            embedded = EmbeddedBroker(data_dir)
            embedded.start()
            broker = embedded.url
            console.print(f"broker: {embedded.kind} on {broker}")
        # Operators inject faults into the simulated fleet from the console via its control API,
        # which answers only to this token (new on every start, handed to both by the demo).
        control_port = pick_port(0) if fleet else None
        control_token = secrets.token_urlsafe(32)
        settings = _settings(
            data_dir=data_dir,
            mqtt_url=broker,
            http_port=port,
            http_host="127.0.0.1",
            database_url=f"sqlite:///{data_dir / 'lightctl.db'}",
            database_auto_upgrade=True,  # the demo owns its database
            simulator_control_url=f"http://127.0.0.1:{control_port}" if control_port else None,
            simulator_control_token=control_token if control_port else None,
        )
        _load_demo_inventory(settings)
        accounts = demo_accounts(Database(settings.resolved_database_url))
        # The simulated lanterns check every signature against the keys the service signs with.
        keys = KeyStore.in_data_dir(settings.data_dir)
        keys.ensure()
        if fleet:
            sim = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "firmware_sim",
                    "--broker",
                    broker,
                    "--inventory",
                    str(DEMO_LANTERNS),
                    "--speed",
                    str(speed),
                    "--root",
                    settings.topic_root,
                    "--log-level",
                    log_level,
                    "--trust",
                    str(keys.trust_path),
                    "--control-port",
                    str(control_port),
                    # The lanterns' replay memory: a captured command never plays twice, even
                    # after the demo restarts.
                    "--state-dir",
                    str(data_dir / "sim"),
                ],
                env={**os.environ, "FIRMWARE_SIM_CONTROL_TOKEN": control_token},
            )
        _banner(settings, accounts)
        uvicorn.run(
            create_app(settings, _checked_runtime(settings)),
            host="127.0.0.1",
            port=port,
            log_level=log_level,
            access_log=False,
        )
    except LightctlError as exc:
        fail_with(exc)
    finally:
        if sim is not None:
            sim.terminate()
            try:
                sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sim.kill()
        if embedded is not None:
            embedded.stop()


def _checked_runtime(settings: Settings) -> Runtime:
    """A runtime whose templates are valid; otherwise name every bad file and key and exit."""
    runtime = Runtime(settings)
    try:
        runtime.load_templates()
    except TemplateInvalid as exc:
        fail(
            f"the warning templates in {exc.directory} are invalid",
            EXIT_INVALID,
            [{"loc": [p.file, p.key], "msg": p.message} for p in exc.problems],
        )
    try:
        # Before the server starts: an older or newer schema is refused here with the command
        # that fixes it, instead of a traceback from the server's start-up.
        runtime.db.create_all(upgrade=settings.database_auto_upgrade)
        runtime.claim_database()  # a second `serve` on one SQLite file stops here, saying so
        runtime.check_replicas()  # and one configured unlike the replicas already running
    except LightctlError as exc:
        fail_with(exc)
    if settings.environment == "production" and not runtime.keys.exists():
        fail(
            f"no command signing keys in {runtime.keys.directory}: run `lightctl keys generate` "
            "and provision the lanterns with its trust list first"
        )
    return runtime


def _load_demo_inventory(settings: Settings) -> None:
    db = Database(settings.resolved_database_url)
    db.create_all(upgrade=True)
    with console.status("loading the demo inventory (Zürich)…"):
        streets = import_streets(db, DEMO_STREETS, settings.street_max_distance_m)
        lanterns = import_lanterns(
            db, DEMO_LANTERNS, max_street_distance_m=settings.street_max_distance_m
        )
    print_report(streets, "demo street segments")
    print_report(lanterns, "demo lanterns")
    db.dispose()


def _simulator_lines(settings: Settings) -> str:
    """The simulated fleet's control API and its token, for rehearsals with curl."""
    token = settings.simulator_control_token
    if not settings.simulator_control_url or token is None:
        return ""
    return (
        f"Simulator control API (faults, trust list): {settings.simulator_control_url}\n"
        f"  Authorization: Bearer {token.get_secret_value()}\n\n"
    )


def _banner(settings: Settings, accounts: DemoAccounts) -> None:
    base = settings.resolved_public_url
    token = accounts.token
    sign_ins = "\n".join(f"  {user} / {pw}" for user, pw in accounts.passwords.items())
    # soft_wrap: commands in the banner must stay copy-pasteable at any terminal width.
    text = f"""
[bold green]lightctl demo is starting[/] on {base}  (OpenAPI: {base}/docs)

Open the console at [bold]{base}/[/] and sign in as (user / password, new on every start):
{sign_ins}
API token of the dispatcher (for the CLI and curl):
  export LIGHTCTL_TOKEN={token}

{_simulator_lines(settings)}Send a first warning to every lantern on Bahnhofstrasse:
  lightctl alert send --street Bahnhofstrasse \\
      --lang de --text "Brand in der Bahnhofstrasse. Fenster und Türen schliessen." \\
      --lang en --text "Fire on Bahnhofstrasse. Close windows and doors."
or with curl:
  curl -s -X POST {base}/api/v1/alerts -H "Authorization: Bearer $LIGHTCTL_TOKEN" \\
      -H 'content-type: application/json' \\
      -d '{{"target": {{"streets": ["Bahnhofstrasse"]}},
           "messages": {{"de": "Brand. Fenster schliessen.", "en": "Fire. Close windows."}}}}'
Press Ctrl+C to stop.
"""
    console.print(text, soft_wrap=True, highlight=False)
