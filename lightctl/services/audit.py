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
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Literal

from lightctl.domain.records import AuditEntry
from lightctl.store import Database
from lightctl.store import audit as audit_store

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ExportFormat = Literal["jsonl", "csv"]
CSV_FIELDS = ("seq", "at", "actor", "roles", "action", "subject", "detail", "hash", "prev_hash")
# Nesting kept when a request body is stored or a record shown: a Target with an area polygon
# and an ``exclude`` is ~8 levels deep; anything deeper is cut and marked, so no reader (ours,
# pydantic's, a spreadsheet's) meets a structure deep enough to exhaust its recursion.
MAX_DETAIL_DEPTH = 16
CUT = "…(deeper levels not kept)"
REDACTED = "***"
# A field is secret-looking when a word of its name is one of these (``newPassword``,
# ``api-key``, ``client_secret``, ``passwd``) or its name contains one of the long ones run
# together (``apitoken``, ``dbpassword``).
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "key",
        "apikey",
        "credential",
        "credentials",
        "authorization",
        "cookie",
        "otp",
        "pin",
        "signature",
        "sig",
    }
)
_SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "privatekey", "credential")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# CSV cells starting with these are formulas to a spreadsheet (=cmd|' /C calc'!A0).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def secret_name(name: str) -> bool:
    """True for a field name that looks like it holds a secret (redacted by name, whatever the
    value)."""
    words = [w.lower() for w in _WORD.findall(name)]
    if any(w in SECRET_WORDS for w in words):
        return True
    joined = "".join(words)
    return any(part in joined for part in _SECRET_PARTS)


def scrub(value: Any, max_depth: int = MAX_DETAIL_DEPTH) -> Any:
    """A copy of a JSON value with secret-looking fields redacted and nesting cut at
    ``max_depth``; iterative, so no depth of input can exhaust the interpreter's recursion."""
    root: list[Any] = [None]
    # (source, container to fill, key or index in it, depth)
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]
    while stack:
        source, parent, slot, depth = stack.pop()
        if isinstance(source, dict | list) and depth >= max_depth:
            parent[slot] = CUT
        elif isinstance(source, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for key, item in source.items():
                name = str(key)
                if secret_name(name):
                    copy[name] = REDACTED
                else:
                    copy[name] = None
                    stack.append((item, copy, name, depth + 1))
        elif isinstance(source, list):
            items: list[Any] = [None] * len(source)
            parent[slot] = items
            for index, item in enumerate(source):
                stack.append((item, items, index, depth + 1))
        else:
            parent[slot] = source
    return root[0]


def spreadsheet_safe(cell: Any) -> Any:
    """A CSV cell a spreadsheet opens as text: formula-looking text gets a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


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
    def of(cls, row: AuditEntry) -> AuditRecord:
        """The record as shown and exported: its detail scrubbed (secret-looking fields
        redacted, nesting cut) also when it was stored before that rule; the stored body, which
        the hash covers, is not changed."""
        body = _loads(row.body)
        detail = body.get("detail")
        roles = body.get("roles")
        return cls(
            seq=row.seq,
            at=str(body.get("at", "")),
            actor=row.actor,
            roles=[str(r) for r in roles] if isinstance(roles, list) else [],
            action=row.action,
            subject=row.subject,
            detail=scrub(detail) if isinstance(detail, dict) else {},
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
            entry = AuditEntry(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                body=body,
                prev_hash=head.hash,
                hash=digest,
            )
            audit_store.append(session, entry)
        return AuditRecord.of(entry)

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
        return [AuditRecord.of(r) for r in rows]

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
                if since is not None and row.at < since:
                    continue
                record = AuditRecord.of(row).as_dict()
                if fmt == "jsonl":
                    yield json.dumps(record, ensure_ascii=False) + "\n"
                else:
                    record["roles"] = ",".join(record["roles"])
                    record["detail"] = canonical(record["detail"])
                    writer.writerow({k: spreadsheet_safe(v) for k, v in record.items()})
                    yield _drain(out)


def _check_row(row: AuditEntry) -> list[Finding]:
    if chain_hash(row.prev_hash, row.body) != row.hash:
        return [Finding(row.seq, f"record {row.seq} was edited: its hash does not match")]
    try:
        body = json.loads(row.body)
    except (ValueError, RecursionError):
        return [Finding(row.seq, f"record {row.seq} was edited: its body is not JSON")]
    if not isinstance(body, dict):
        return [Finding(row.seq, f"record {row.seq} was edited: its body is not an object")]
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
    """The queried ``at`` column against the hashed one (UTC; a hashed time without a zone is
    UTC too)."""
    try:
        hashed = datetime.fromisoformat(str(text))
    except ValueError:
        return False
    if hashed.tzinfo is None:
        hashed = hashed.replace(tzinfo=UTC)
    return column == hashed


def _loads(text: str) -> dict[str, Any]:
    """A stored body; one too deep for the parser (stored before bodies were capped) is shown
    as a note instead of failing the whole listing."""
    try:
        value = json.loads(text)
    except RecursionError:
        return {"detail": {"note": "the stored detail nests too deeply to show"}}
    except ValueError:
        return {"detail": {"note": "the stored body is not JSON"}}
    return value if isinstance(value, dict) else {}


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
