"""The audit trail: who did what, when, to which lanterns; each record chained to the last by hash.

A record's hash is sha256(previous hash + canonical JSON of the record), so editing any record
breaks its own hash and deleting one leaves a gap in the sequence and a broken link. Someone with
write access to the database could still rewrite the whole tail; ``verify`` prints the head hash so
it can be noted elsewhere (a ticket, a printout) and compared later with ``--expect-head``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from typing import Any, Literal

from lightctl.store import Database
from lightctl.store import audit as audit_store
from lightctl.store.audit import AuditRow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ExportFormat = Literal["jsonl", "csv"]
CSV_FIELDS = ("seq", "at", "actor", "roles", "action", "subject", "detail", "hash", "prev_hash")


def canonical(value: Any) -> str:
    """The one JSON spelling that is hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, body: str) -> str:
    return sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: str
    actor: str
    roles: list[str]
    action: str
    subject: str | None
    detail: dict[str, Any]
    hash: str
    prev_hash: str

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditRecord:
        body = json.loads(row.body)
        return cls(
            seq=row.seq,
            at=body.get("at", ""),
            actor=row.actor,
            roles=list(body.get("roles", [])),
            action=row.action,
            subject=row.subject,
            detail=dict(body.get("detail") or {}),
            hash=row.hash,
            prev_hash=row.prev_hash,
        )

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CSV_FIELDS}


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int
    message: str


@dataclass(slots=True)
class VerifyReport:
    records: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class AuditTrail:
    """Append and verify; one writer at a time (a thread lock here, the head row's lock in SQL)."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()

    def append(
        self,
        action: str,
        actor: str,
        roles: tuple[str, ...] | list[str] = (),
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditRecord:
        with self._lock, self._db.session() as session:
            head = audit_store.lock_head(session)
            seq, at = head.seq + 1, self._clock()
            body = canonical(
                {
                    "seq": seq,
                    "at": at.isoformat(),
                    "actor": actor,
                    "roles": sorted(roles),
                    "action": action,
                    "subject": subject,
                    "detail": detail or {},
                }
            )
            digest = chain_hash(head.hash, body)
            row = AuditRow(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                body=body,
                prev_hash=head.hash,
                hash=digest,
            )
            session.add(row)
            head.seq, head.hash = seq, digest
            session.add(head)
        return AuditRecord.from_row(row)

    def recent(
        self,
        since: datetime | None = None,
        action: str | None = None,
        subject: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        with self._db.session() as session:
            rows = audit_store.query(session, since, action, subject, limit, offset)
        return [AuditRecord.from_row(r) for r in rows]

    def recorded(self, action: str, subjects: list[str]) -> set[str]:
        with self._db.session() as session:
            return audit_store.subjects_with(session, action, subjects)

    def verify(self) -> VerifyReport:
        """Walk the chain from the start; name every record that was edited, and every gap."""
        report = VerifyReport()
        expected_seq, prev_hash = 1, GENESIS
        with self._db.session() as session:
            for row in audit_store.records(session):
                report.records += 1
                if row.seq != expected_seq:
                    missing = (
                        f"record {expected_seq} is missing"
                        if row.seq == expected_seq + 1
                        else f"records {expected_seq}-{row.seq - 1} are missing"
                    )
                    report.findings.append(Finding(expected_seq, f"{missing} (deleted)"))
                elif row.prev_hash != prev_hash and report.records > 1:
                    report.findings.append(
                        Finding(
                            row.seq - 1,
                            f"record {row.seq - 1} was edited: record {row.seq} was chained "
                            "to a different hash",
                        )
                    )
                report.findings.extend(_check_row(row))
                expected_seq, prev_hash = row.seq + 1, row.hash
            head = audit_store.head(session)
        if head is not None:
            report.head_seq, report.head_hash = head.seq, head.hash
            if head.seq >= expected_seq:
                report.findings.append(
                    Finding(
                        expected_seq,
                        f"records {expected_seq}-{head.seq} are missing (deleted from the end)",
                    )
                )
            elif head.seq == expected_seq - 1 and head.hash != prev_hash:
                report.findings.append(
                    Finding(head.seq, f"record {head.seq} was edited: the head seals another hash")
                )
        return report

    def export(self, since: datetime | None, fmt: ExportFormat) -> Iterator[str]:
        """Every record from ``since`` on, as JSON lines or CSV (with a header), chain order."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        if fmt == "csv":
            writer.writeheader()
            yield _drain(out)
        with self._db.session() as session:
            for row in audit_store.records(session):
                if since is not None and _aware(row.at) < since:
                    continue
                record = AuditRecord.from_row(row).as_dict()
                if fmt == "jsonl":
                    yield json.dumps(record, ensure_ascii=False) + "\n"
                else:
                    record["roles"] = ",".join(record["roles"])
                    record["detail"] = canonical(record["detail"])
                    writer.writerow(record)
                    yield _drain(out)


def _check_row(row: AuditRow) -> list[Finding]:
    if chain_hash(row.prev_hash, row.body) != row.hash:
        return [Finding(row.seq, f"record {row.seq} was edited: its hash does not match")]
    try:
        body = json.loads(row.body)
    except ValueError:
        return [Finding(row.seq, f"record {row.seq} was edited: its body is not JSON")]
    differ = [
        name
        for name, value in (
            ("seq", row.seq),
            ("actor", row.actor),
            ("action", row.action),
            ("subject", row.subject),
        )
        if body.get(name) != value
    ]
    if not _same_instant(row.at, body.get("at")):
        differ.append("at")
    if differ:
        return [Finding(row.seq, f"record {row.seq} was edited: {', '.join(differ)} changed")]
    return []


def _same_instant(column: datetime, text: Any) -> bool:
    """The queried ``at`` column against the hashed one (SQLite drops the zone; both are UTC)."""
    try:
        hashed = datetime.fromisoformat(str(text))
    except ValueError:
        return False
    return _aware(column) == _aware(hashed)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
