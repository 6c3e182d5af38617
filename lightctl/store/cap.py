"""CAP messages as received (with what was decided) and imported geocode boundaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint, or_
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.store.tables import utcnow
from lightctl.store.types import UtcDateTime


class CapMessageRow(SQLModel, table=True):
    """One CAP message (sender + identifier is the message: two paths give one row)."""

    __tablename__ = "cap_message"
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_cap_message_key"),)

    id: str = Field(primary_key=True, max_length=64)
    identifier: str = Field(index=True, max_length=300)
    sender: str = Field(max_length=300)
    sent: datetime = Field(sa_type=UtcDateTime)
    received_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UtcDateTime)
    msg_type: str = Field(max_length=20)
    status: str = Field(max_length=20)
    form: str = Field(default="xml", max_length=10)
    via: str = Field(default="push", max_length=120)  # push, or feed:<name>
    # played | updated | cancelled | all_clear | suggested | held | recorded | refused |
    # dismissed | sent | superseded
    decision: str = Field(index=True, max_length=20)
    reason: str = Field(default="", max_length=2000)
    alert_id: str | None = Field(default=None, index=True, max_length=64)
    hold_until: datetime | None = Field(default=None, index=True, sa_type=UtcDateTime)
    references_json: str = "[]"  # [[sender, identifier, sent], ...]
    # The suggestion or what played: texts, languages, target, severity, preview, warnings.
    plan_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    body_b64: str = Field(default="", sa_column=Column(Text, nullable=False))
    content_type: str = Field(default="", max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class GeocodeAreaRow(SQLModel, table=True):
    """An imported boundary: the area one geocode (ARS, WARNCELLID, SAME, EMMA_ID …) names."""

    __tablename__ = "geocode_area"

    scheme: str = Field(primary_key=True, max_length=40)
    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=300)
    geometry_json: str = Field(sa_column=Column(Text, nullable=False))  # GeoJSON, lon/lat
    source: str = Field(default="", max_length=300)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CapFeedRow(SQLModel, table=True):
    """A feed the service polls: a NINA dashboard for ARS keys, or a CAP/Atom feed URL."""

    __tablename__ = "cap_feed"

    name: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=10)  # nina | cap
    url: str = Field(max_length=1000)  # NINA: the API base; cap: the feed or message URL
    ars_json: str = "[]"  # NINA: the ARS keys whose dashboards are polled
    interval_s: int = 60
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # Conditional requests: per polled URL, its ETag and Last-Modified ({url: [etag, lm]}).
    validators_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    last_polled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_ok_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    failures: int = 0  # consecutive; the back-off doubles with each
    next_poll_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str = Field(default="", max_length=500)
    accepted: int = 0
    refused: int = 0
    not_modified: int = 0


# ---- messages ---------------------------------------------------------------------------------


def get(session: Session, message_id: str) -> CapMessageRow | None:
    return session.get(CapMessageRow, message_id)


def by_key(session: Session, sender: str, identifier: str) -> CapMessageRow | None:
    query = select(CapMessageRow).where(
        CapMessageRow.sender == sender, CapMessageRow.identifier == identifier
    )
    return session.exec(query).first()


def referenced(session: Session, refs: Iterable[tuple[str, str]]) -> list[CapMessageRow]:
    """Rows of the referenced messages, by (sender, identifier); an empty sender (NINA's
    references name identifiers only) matches any sender."""
    conditions: list[Any] = []
    for sender, identifier in refs:
        if sender:
            conditions.append(
                (col(CapMessageRow.sender) == sender)
                & (col(CapMessageRow.identifier) == identifier)
            )
        else:
            conditions.append(col(CapMessageRow.identifier) == identifier)
    if not conditions:
        return []
    query = select(CapMessageRow).where(or_(*conditions)).order_by(col(CapMessageRow.sent))
    return list(session.exec(query))


def held(session: Session) -> list[CapMessageRow]:
    query = select(CapMessageRow).where(CapMessageRow.decision == "held")
    return list(session.exec(query.order_by(col(CapMessageRow.received_at))))


def recent(
    session: Session, decisions: Sequence[str] | None = None, limit: int = 100
) -> list[CapMessageRow]:
    query = select(CapMessageRow)
    if decisions:
        query = query.where(col(CapMessageRow.decision).in_(list(decisions)))
    return list(session.exec(query.order_by(col(CapMessageRow.received_at).desc()).limit(limit)))


def of_alert(session: Session, alert_id: str) -> list[CapMessageRow]:
    query = select(CapMessageRow).where(CapMessageRow.alert_id == alert_id)
    return list(session.exec(query.order_by(col(CapMessageRow.sent))))


# ---- geocodes ---------------------------------------------------------------------------------

# ARS digits: Land (2), Regierungsbezirk (1), Kreis (2), Gemeindeverband (4), Gemeinde (3); a key
# ending in zeros from one of these boundaries on names the whole larger unit.
ARS_LEVELS = (2, 3, 5, 9, 12)


def ars_prefix(code: str) -> str:
    for length in ARS_LEVELS:
        if set(code[length:]) <= {"0"}:
            return code[:length]
    return code


def geocode_areas(session: Session, scheme: str, code: str) -> list[GeocodeAreaRow]:
    """The imported boundaries ``code`` covers: itself, or for an ARS of a Kreis or Land every
    imported municipality inside it."""
    exact = session.get(GeocodeAreaRow, (scheme, code))
    if exact is not None:
        return [exact]
    if scheme != "ARS" or not code.isdigit() or len(code) != 12:
        return []
    prefix = ars_prefix(code)
    if prefix == code:
        return []
    query = select(GeocodeAreaRow).where(
        GeocodeAreaRow.scheme == "ARS", col(GeocodeAreaRow.code).startswith(prefix)
    )
    return list(session.exec(query))


def save_geocodes(session: Session, rows: Sequence[GeocodeAreaRow]) -> tuple[int, int]:
    """Insert or replace; returns (added, replaced)."""
    added = replaced = 0
    for row in rows:
        old = session.get(GeocodeAreaRow, (row.scheme, row.code))
        if old is None:
            session.add(row)
            added += 1
        else:
            old.name, old.geometry_json = row.name, row.geometry_json
            old.source, old.imported_at = row.source, row.imported_at
            session.add(old)
            replaced += 1
    return added, replaced


def geocode_counts(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for scheme in session.exec(select(GeocodeAreaRow.scheme)):
        counts[scheme] = counts.get(scheme, 0) + 1
    return counts
