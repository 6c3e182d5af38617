"""What became of a CAP message, and who asked: plain values the API and feeds report."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lightctl.domain.records import StoredCapMessage

# A message still "received" this long after it arrived lost its decision (the process died
# mid-way); another copy is then decided anew. Deciding takes seconds (speech synthesis).
STALE_RECEIVED_S = 300


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    roles: tuple[str, ...]
    issuing_role: str  # the role commands are signed in (feed, or a dispatcher's)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message."""

    message_id: str
    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    status: str
    via: str
    decision: str
    reason: str
    alert_ids: tuple[str, ...]
    duplicate: bool
    plan: dict[str, Any]


_IDENTIFIER = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?identifier>\s*([^<\s]{1,300})\s*<|\"identifier\"\s*:\s*\"([^\"]{1,300})\""
)


def identifier_in(body: bytes) -> str | None:
    """The message's identifier, read loosely from a body that was refused (for the audit)."""
    found = _IDENTIFIER.search(body[:65536])
    if found is None:
        return None
    raw = found.group(1) or found.group(2)
    return raw.decode("utf-8", "replace")


def broke_off(row: StoredCapMessage, now: datetime) -> bool:
    if row.decision == "failed":
        return True
    age = (now - row.received_at).total_seconds()
    return row.decision == "received" and age > STALE_RECEIVED_S


def replace_hold(row: StoredCapMessage) -> StoredCapMessage:
    return replace(row, hold_until=None)


def outcome_of(row: StoredCapMessage, duplicate: bool = False) -> Outcome:
    alert_ids = (row.alert_id,) if row.alert_id else ()
    return Outcome(
        message_id=row.id,
        identifier=row.identifier,
        sender=row.sender,
        sent=row.sent,
        msg_type=row.msg_type,
        status=row.status,
        via=row.via,
        decision=row.decision,
        reason=row.reason,
        alert_ids=alert_ids,
        duplicate=duplicate,
        plan=row.plan,
    )
