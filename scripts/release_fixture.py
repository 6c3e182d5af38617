"""Build the database of a release through its own code, filled as a user would, and dump it.

Run on a checkout of the release (the dump of 78b0477 in tests/fixtures/releases/ was made on that
commit), against a broker on 127.0.0.1:1883:

    python scripts/release_fixture.py tests/fixtures/releases/78b0477

It writes, per dialect, the schema the release created (`schema_sqlite.sql`,
`schema_postgresql.sql`) and one `rows.json` with every row, plus `secrets.json` with the plaintext
token and password made here, so the upgrade test can sign in with them after the upgrade. The
upgrade test (tests/integration/test_schema_upgrade.py) loads these into a fresh database, runs
`lightctl db upgrade` and checks that nothing was lost.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select
from sqlalchemy.schema import CreateIndex, CreateTable

from lightctl.api import create_app
from lightctl.runtime import Runtime
from lightctl.services.access.auth import AuthService
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.settings import Settings
from lightctl.store import Database

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _fill(db: Database, data_dir: Path) -> dict[str, str]:
    """Everything a user of the release keeps: inventory, users, tokens, alerts, steering,
    schedules, groups and the audit chain their requests wrote."""
    db.create_all()
    import_streets(db, FIXTURES / "zurich_streets_small.geojson")
    import_lanterns(db, FIXTURES / "zurich_lanterns_small.geojson")
    settings = Settings(
        data_dir=data_dir,
        mqtt_url="mqtt://127.0.0.1:1883",
        mqtt_root=f"fixture{uuid.uuid4().hex[:8]}",
        http_port=18999,
        prerender_templates=False,
    )
    runtime = Runtime(settings, db)
    auth = AuthService(db, lambda: datetime.now().astimezone())
    password = "release-fixture-password-1"
    auth.create_user("erika", password, "dispatcher")
    auth.create_user("otto", password, "operator")
    _row, token = auth.create_token("release-admin", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, runtime)) as client:

        def call(method: str, url: str, **kw: Any) -> dict[str, Any]:
            response = client.request(method, f"/api/v1{url}", headers=headers, **kw)
            assert response.status_code < 300, (url, response.status_code, response.text)
            return response.json() if response.content else {}

        call("POST", "/groups", json={"name": "post", "lanterns": _ids(call, "Poststrasse")})
        call("POST", "/groups", json={"name": "tal", "target": {"streets": ["Talacker"]}})
        free = call(
            "POST",
            "/alerts",
            json={
                "target": {"streets": ["Bahnhofstrasse"]},
                "messages": {"de": "Brand. Fenster schliessen.", "en": "Fire. Close windows."},
            },
        )
        call("POST", f"/alerts/{free['id']}/cancel")
        call(
            "POST",
            "/alerts",
            json={
                "target": {"groups": ["post"]},
                "template": "evacuation",
                "params": {"street": "Poststrasse", "meeting_point": "Lindenhof"},
                "languages": ["de", "en"],
                "exercise": True,
            },
        )
        steering = call(
            "POST",
            "/steering",
            json={
                "target": {"streets": ["Talacker"]},
                "light": {"on": True, "color": "#00FF00"},
                "ends_in_s": 600,
                "label": "stadium to station",
            },
        )
        call("DELETE", f"/steering/{steering['id']}")
        call(
            "PUT",
            "/schedules/altstadt",
            json={
                "group": "post",
                "default": {"brightness": 100, "steps": [{"at": "23:00", "brightness": 50}]},
            },
        )
    return {"token": token, "password": password, "user": "erika"}


def _ids(call: Any, street: str) -> list[str]:
    response = call("GET", "/lanterns", params={"street": street})
    return [row["id"] for row in response]  # type: ignore[union-attr]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    return value


def _dump(db: Database) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    meta = MetaData()
    meta.reflect(db.engine)
    statements: list[str] = []
    rows: dict[str, list[dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for table in meta.sorted_tables:
            table.schema = None
            statements.append(str(CreateTable(table).compile(db.engine)).strip() + ";")
            statements += [
                str(CreateIndex(ix).compile(db.engine)).strip() + ";"
                for ix in sorted(table.indexes, key=lambda ix: str(ix.name))
            ]
            keys = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
            query = select(table).order_by(*(table.c[k] for k in keys))
            rows[table.name] = [
                {k: _plain(v) for k, v in row._mapping.items()} for row in conn.execute(query)
            ]
    return "\n\n".join(statements) + "\n", rows


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Database(f"sqlite:///{tmp}/release.db")
        secrets = _fill(sqlite, Path(tmp) / "data")
        schema, rows = _dump(sqlite)
        (out / "schema_sqlite.sql").write_text(schema)
        sqlite.dispose()
        schema_name = f"fixture_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema_name}"')
            try:
                pg = Database(PG_URL, schema=schema_name)
                _fill(pg, Path(tmp) / "pgdata")
                pg_schema, _pg_rows = _dump(pg)
                (out / "schema_postgresql.sql").write_text(pg_schema)
                pg.dispose()
            finally:
                conn.execute(f'DROP SCHEMA "{schema_name}" CASCADE')
    (out / "rows.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    (out / "secrets.json").write_text(
        json.dumps({**secrets, "release": commit}, indent=1, sort_keys=True) + "\n"
    )
    counts = {name: len(r) for name, r in rows.items()}
    print(f"release {commit}: {counts}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
