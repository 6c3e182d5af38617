"""The audit trail's hash chain: an edited or deleted record is found and named, on SQLite and
PostgreSQL, through the service and through `lightctl audit verify`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text

from lightctl.cli import app
from lightctl.services.audit import AuditTrail
from lightctl.store import Database
from tests.support import cli_runner, flat

runner = cli_runner()


def _trail(database: Database, n: int = 5) -> AuditTrail:
    database.create_all()
    trail = AuditTrail(database, lambda: datetime.now(UTC))
    for i in range(1, n + 1):
        trail.append("alerts.create", "alice", ("dispatcher",), f"al_{i}", {"text": f"Brand {i}"})
    return trail


def _sql(database: Database, statement: str, **params: object) -> None:
    with database.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_an_intact_chain_verifies(database: Database) -> None:
    report = _trail(database).verify()
    assert report.ok, report.findings
    assert report.records == 5
    assert report.head_seq == 5


def test_an_edited_record_is_named(database: Database) -> None:
    trail = _trail(database)
    row = "SELECT body FROM audit_record WHERE seq = 3"
    with database.engine.connect() as conn:
        body = json.loads(conn.execute(text(row)).scalar_one())
    body["detail"]["text"] = "nothing happened"
    _sql(database, "UPDATE audit_record SET body = :b WHERE seq = 3", b=json.dumps(body))
    report = trail.verify()
    assert not report.ok
    assert [f.seq for f in report.findings] == [3]
    assert "record 3 was edited" in report.findings[0].message


def test_an_edited_column_is_named(database: Database) -> None:
    trail = _trail(database)
    _sql(database, "UPDATE audit_record SET actor = 'mallory' WHERE seq = 2")
    report = trail.verify()
    assert [f.seq for f in report.findings] == [2]
    assert "actor" in report.findings[0].message


def test_a_deleted_record_is_named(database: Database) -> None:
    trail = _trail(database)
    _sql(database, "DELETE FROM audit_record WHERE seq = 2")
    report = trail.verify()
    assert not report.ok
    assert report.findings[0].seq == 2
    assert "record 2 is missing" in report.findings[0].message


def test_a_deleted_tail_is_found(database: Database) -> None:
    trail = _trail(database)
    _sql(database, "DELETE FROM audit_record WHERE seq >= 4")
    report = trail.verify()
    assert [f.seq for f in report.findings] == [4]
    assert "4-5 are missing" in report.findings[0].message


def test_a_rehashed_record_breaks_the_next_link(database: Database) -> None:
    """Editing a record *and* recomputing its hash still breaks the following record's link."""
    from lightctl.services.audit import chain_hash

    trail = _trail(database)
    with database.engine.connect() as conn:
        prev, body = conn.execute(
            text("SELECT prev_hash, body FROM audit_record WHERE seq = 2")
        ).one()
    forged = body.replace("Brand 2", "Nothing")
    digest = chain_hash(prev, forged)
    _sql(database, "UPDATE audit_record SET body = :b, hash = :h WHERE seq = 2", b=forged, h=digest)
    report = trail.verify()
    assert [f.seq for f in report.findings] == [2]


def test_cli_verify_and_export(database: Database, tmp_path: object) -> None:
    _trail(database, 3)
    url = database.url
    if not database.is_sqlite:
        return  # the CLI takes a URL without a schema; SQLite covers the command itself
    ok = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert ok.exit_code == 0, ok.output
    assert "3 records" in flat(ok.output)
    out = runner.invoke(app, ["audit", "export", "--format", "jsonl", "--database-url", url])
    lines = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    assert [r["seq"] for r in lines] == [1, 2, 3]
    csv_out = runner.invoke(app, ["audit", "export", "--format", "csv", "--database-url", url])
    assert csv_out.output.splitlines()[0].startswith("seq,at,actor")
    # --since: records from that time on (all three were written just now).
    for since, count in (("2000-01-01", 3), ("2999-01-01T00:00Z", 0)):
        part = runner.invoke(
            app, ["audit", "export", "--since", since, "--format", "jsonl", "--database-url", url]
        )
        assert part.exit_code == 0, part.output
        assert sum(1 for line in part.output.splitlines() if line.startswith("{")) == count
    bad_since = runner.invoke(
        app, ["audit", "export", "--since", "yesterday", "--database-url", url]
    )
    assert bad_since.exit_code == 2
    assert "not an ISO date" in flat(bad_since.output)
    _sql(database, "DELETE FROM audit_record WHERE seq = 2")
    bad = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert bad.exit_code == 5
    assert "record 2 is missing" in flat(bad.output)
