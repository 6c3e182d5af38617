"""``lightctl serve`` for production and ``lightctl demo`` for everything in one command."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp

from lightctl.api import create_app
from lightctl.broker import EmbeddedBroker, pick_port, port_is_free
from lightctl.cli.access import (
    DemoAccounts,
    demo_accounts,
    end_demo_session,
    refuse_open_production,
)
from lightctl.cli.inventory import print_report
from lightctl.cli.output import EXIT_INVALID, console, fail, fail_with
from lightctl.errors import LightctlError
from lightctl.paths import DEMO_LANTERNS, DEMO_STREETS
from lightctl.runtime import Runtime
from lightctl.security import broker as lockdown
from lightctl.security.ack_keys import AckKey, generate_keys, write_private
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.settings import Settings
from lightctl.signing import KeyStore
from lightctl.store import Database
from lightctl.store import lantern_keys as key_store
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
    _run(settings, _checked_runtime(settings), settings.http_host, settings.http_port, log_level)


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
    accounts: DemoAccounts | None = None
    accounts_db: Database | None = None
    # uvicorn shuts down on SIGTERM and then raises it again; with the default handler that ends
    # the process before `finally` stops the simulator and broker, which would outlive the demo.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))
    try:
        # Like production: every demo lantern signs its acks with its own key, and the embedded
        # broker lets in only the generated accounts (service, simulator gateways), on 127.0.0.1.
        lantern_ids = lockdown.inventory_ids(DEMO_LANTERNS)
        broker_dir = data_dir / "broker"
        mqtt_account: dict[str, object] = {}
        if broker is None:
            embedded = EmbeddedBroker.locked_down(broker_dir, lantern_ids)
            creds = embedded.credentials
            if creds is None:  # locked_down always generates them; never start an open broker
                raise RuntimeError("the demo broker was made without credentials")
            ack_keys, credentials_file = creds.ack_keys, embedded.credentials_file
            mqtt_account = {
                "mqtt_username": creds.service[0],
                "mqtt_password_file": embedded.service_password_file,
            }
        else:
            ack_keys = generate_keys(lantern_ids)
            credentials_file = broker_dir / "ack-keys.json"
            write_private(credentials_file, ack_keys)
        # Operators inject faults into the simulated fleet from the console via its control API,
        # which answers only to this token (new on every start, handed to both by the demo).
        control_port = pick_port(0) if fleet else None
        control_token = secrets.token_urlsafe(32)
        settings = _settings(
            data_dir=data_dir,
            mqtt_url=embedded.url if embedded is not None else broker,
            http_port=port,
            http_host="127.0.0.1",
            database_url=f"sqlite:///{data_dir / 'lightctl.db'}",
            database_auto_upgrade=True,  # the demo owns its database
            simulator_control_url=f"http://127.0.0.1:{control_port}" if control_port else None,
            simulator_control_token=control_token if control_port else None,
            **mqtt_account,
        )
        if embedded is not None:
            embedded.roots = (settings.topic_root,)
            embedded.start()
            broker = embedded.url
            console.print(
                f"broker: {embedded.kind} on {broker} (127.0.0.1 only; accounts and ack keys "
                f"in {embedded.credentials_file}, no anonymous clients)",
                markup=False,
                soft_wrap=True,  # one line at any terminal width: scripts read the port from it
            )
        _load_demo_inventory(settings)
        _store_ack_keys(settings, ack_keys)
        accounts_db = Database(settings.resolved_database_url)
        accounts = demo_accounts(accounts_db, settings.session_ttl_s)
        # The simulated lanterns check every signature against the keys the service signs with.
        keys = KeyStore.in_data_dir(settings.data_dir)
        keys.ensure()
        if fleet and broker is not None:  # broker: the embedded one's URL, or the one given
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
                    "--credentials",
                    str(credentials_file),
                    # The lanterns' replay memory: a captured command never plays twice, even
                    # after the demo restarts.
                    "--state-dir",
                    str(data_dir / "sim"),
                ],
                env={**os.environ, "FIRMWARE_SIM_CONTROL_TOKEN": control_token},
            )
        _banner(settings, accounts)
        _run(settings, _checked_runtime(settings), "127.0.0.1", port, log_level)
    except LightctlError as exc:
        fail_with(exc)
    finally:
        if accounts is not None and accounts_db is not None:
            try:
                end_demo_session(accounts_db, accounts)
            except (LightctlError, SQLAlchemyError):  # the token still expires on its own
                logging.getLogger(__name__).warning("could not revoke the demo's API token")
            accounts_db.dispose()
        if sim is not None:
            sim.terminate()
            try:
                sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sim.kill()
        if embedded is not None:
            embedded.stop()


# What shut-down gives responses still running after the progress streams were ended (a large
# export, an upload) before they are cut: a SIGTERM never waits forever.
GRACEFUL_SHUTDOWN_S = 10


class _Server(uvicorn.Server):
    """uvicorn waits for open responses before it runs the application's shut-down; progress
    streams are told first, so they end at once instead of holding the process."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self._runtime = runtime

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._runtime.events is not None:
            self._runtime.events.close()
        await super().shutdown(sockets)


def uvicorn_config(app: ASGIApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    """How lightctl runs under uvicorn (also the integration tests' live service)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        # The client address is the peer's; forwarded headers count only from the proxies in
        # settings.trusted_proxies (api/addresses.py). uvicorn's own default believes
        # X-Forwarded-For from anyone reaching 127.0.0.1, which let a local caller be anyone.
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def _run(settings: Settings, runtime: Runtime, host: str, port: int, log_level: str) -> None:
    config = uvicorn_config(create_app(settings, runtime), host, port, log_level)
    _Server(config, runtime).run()


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


def _store_ack_keys(settings: Settings, keys: dict[str, AckKey]) -> None:
    """The demo makes new lantern keys on every start: the previous ones are forgotten."""
    db = Database(settings.resolved_database_url)
    rows = [key_store.LanternKey(k.lantern_id, k.kid, k.public.public_key) for k in keys.values()]
    with db.session() as session:
        key_store.add_keys(session, rows, datetime.now(UTC), replace=True, forget_old=True)
    db.dispose()


def _banner(settings: Settings, accounts: DemoAccounts) -> None:
    base = settings.resolved_public_url
    token = accounts.token
    until = f"{accounts.expires_at:%Y-%m-%d %H:%M} UTC" if accounts.expires_at else "never"
    sign_ins = "\n".join(f"  {user} / {pw}" for user, pw in accounts.passwords.items())
    # soft_wrap: commands in the banner must stay copy-pasteable at any terminal width.
    text = f"""
[bold green]lightctl demo is starting[/] on {base}  (OpenAPI: {base}/docs)

Open the console at [bold]{base}/[/] and sign in as (user / password, new on every start):
{sign_ins}
API token of the dispatcher (for the CLI and curl; revoked when the demo stops, expires {until}):
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
