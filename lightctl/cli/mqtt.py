"""``lightctl mqtt credentials``: broker lock-down files generated from the inventory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from lightctl.cli.access import actor
from lightctl.cli.inventory import DataDirOption, DbOption, open_db
from lightctl.cli.output import EXIT_INVALID, console, fail
from lightctl.security import broker
from lightctl.security.ack_keys import PUBLIC_FILE, AckKeyFileError, PublicAckKey, read_public
from lightctl.security.certs import write_ca_and_server
from lightctl.services.audit import AuditTrail
from lightctl.store import Database
from lightctl.store import lantern_keys as key_store
from lightctl.store import lanterns as lantern_store

app = typer.Typer(help="Broker lock-down for production.", no_args_is_help=True)


@app.command("credentials")
def credentials(
    out: Path = typer.Option(..., "--out", help="directory for passwd, acl, conf, certificates"),
    inventory: Path | None = typer.Option(
        None, "--inventory", exists=True, dir_okay=False, help="GeoJSON lantern inventory"
    ),
    from_db: bool = typer.Option(False, "--from-db", help="lanterns (and gateways) in the DB"),
    root: list[str] = typer.Option(["lightctl"], "--root", help="MQTT topic root (repeatable)"),
    gateway_prefix: str | None = typer.Option(
        "sim", help="credentials for `firmware-sim` gateways PREFIX-00.. (--inventory; '' none)"
    ),
    per_connection: int = typer.Option(500, min=1, help="lanterns per simulator gateway"),
    tls: bool = typer.Option(True, help="make a CA and a broker certificate, add a TLS listener"),
    hostname: list[str] = typer.Option(
        ["localhost", "127.0.0.1"], "--hostname", help="names the certificate is valid for"
    ),
    plain_port: int = typer.Option(1883, help="plain listener port (0: none)"),
    tls_port: int = typer.Option(8883, help="TLS listener port"),
    ack_keys: bool = typer.Option(
        True,
        help="an Ed25519 ack key per lantern (private in credentials.json, public in "
        f"{PUBLIC_FILE}; --from-db stores the public keys at once)",
    ),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Password file (one user per lantern, gateway and the service), ACL, mosquitto.conf, and
    each lantern's ack signing key."""
    if (inventory is None) == (not from_db):
        fail("give exactly one of --inventory FILE or --from-db")
    gateways: dict[str, list[str]] = {}
    db: Database | None = None
    if inventory is not None:
        ids = broker.inventory_ids(inventory)
        if gateway_prefix:
            gateways = broker.simulator_gateways(ids, gateway_prefix, per_connection)
    else:
        db, _settings = open_db(database_url, data_dir)
        with db.session() as session:
            rows = lantern_store.gateways_of_all(session)
        ids = [lid for lid, _gateway in rows]
        for lid, gateway in rows:
            if gateway:
                gateways.setdefault(gateway, []).append(lid)
    if not ids:
        fail("no lanterns found: import the inventory first, or give --inventory")
    try:
        creds = broker.BrokerCredentials.generate(
            ids, gateways, ack_keys_for=ids if ack_keys else ()
        )
    except ValueError as exc:
        fail(str(exc))
    hasher = broker.write_all(out, creds, root)
    if db is not None and creds.ack_keys:
        stored = _store_keys(db, [k.public for k in creds.ack_keys.values()], replace=True)
        detail = {"lanterns": len(creds.ack_keys), "new": stored, "replace": True}
        AuditTrail(db, _now).append("lantern_keys.import", actor(), (), str(out), detail)
        console.print(f"  {stored} ack keys stored; the lanterns' earlier keys are revoked")
        db.dispose()
    if tls:
        write_ca_and_server(out, hostname)
    conf = broker.conf_text(out.resolve(), plain_port or None, tls_port, tls)
    (out / broker.CONF_FILE).write_text(conf, encoding="utf-8")
    console.print(
        f"{len(ids)} lanterns, {len(gateways)} gateways and the service ({hasher}) written to {out}"
    )
    console.print(
        f"  service: LIGHTCTL_MQTT_USERNAME={creds.service[0]} "
        f"LIGHTCTL_MQTT_PASSWORD_FILE={out / broker.SERVICE_PASSWORD_FILE}",
        markup=False,
    )
    console.print(
        f"  {broker.SECRETS_FILE} holds every plain password and private ack key: provision "
        "the lanterns, then keep it offline"
    )
    if creds.ack_keys and db is None:
        console.print(
            f"  store the public ack keys: lightctl mqtt lantern-keys {out / PUBLIC_FILE}",
            markup=False,
        )


@app.command("lantern-keys")
def lantern_keys(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=f"{PUBLIC_FILE}"),
    replace: bool = typer.Option(
        True, help="revoke each lantern's earlier keys (--no-replace: keep them during a roll-out)"
    ),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Store the lanterns' public ack keys: from then on their acks must be signed."""
    try:
        keys = read_public(file)
    except AckKeyFileError as exc:
        fail(str(exc), EXIT_INVALID)
    db, _settings = open_db(database_url, data_dir)
    try:
        stored = _store_keys(db, keys, replace=replace)
        detail: dict[str, object] = {"lanterns": len(keys), "new": stored, "replace": replace}
        AuditTrail(db, _now).append("lantern_keys.import", actor(), (), str(file), detail)
    except ValueError as exc:
        fail(f"{file}: {exc}", EXIT_INVALID)
    finally:
        db.dispose()
    console.print(f"{stored} new ack keys of {len(keys)} lanterns stored")


@app.command("revoke-lantern-key")
def revoke_lantern_key(
    lantern: list[str] = typer.Argument(..., help="lantern id(s) whose ack keys end"),
    database_url: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """End a lantern's ack keys (a replaced board, a key that leaked): its acks are then taken
    unsigned, or refused with LIGHTCTL_ACKS_MUST_BE_SIGNED, until new keys are imported."""
    db, _settings = open_db(database_url, data_dir)
    try:
        with db.session() as session:
            revoked = {lid: key_store.revoke(session, lid, _now()) for lid in lantern}
        unknown = [lid for lid, n in revoked.items() if n == 0]
        if unknown:
            fail(f"no unrevoked ack key for {', '.join(unknown)}", EXIT_INVALID)
        AuditTrail(db, _now).append(
            "lantern_keys.revoke", actor(), (), ",".join(lantern), {"keys": sum(revoked.values())}
        )
    finally:
        db.dispose()
    console.print(f"revoked {sum(revoked.values())} ack keys of {len(lantern)} lanterns")


def _now() -> datetime:
    return datetime.now(UTC)


def _store_keys(db: Database, keys: list[PublicAckKey], *, replace: bool) -> int:
    rows = [key_store.LanternKey(k.lantern_id, k.kid, k.public_key) for k in keys]
    with db.session() as session:
        return key_store.add_keys(session, rows, _now(), replace=replace)
