"""CAP messages as received (with what was decided) and imported geocode boundaries."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint, delete, or_, update
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.domain.records import CapFeed, GeocodeArea, StoredCapMessage
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


def _message(row: CapMessageRow) -> StoredCapMessage:
    return StoredCapMessage(
        id=row.id,
        identifier=row.identifier,
        sender=row.sender,
        sent=row.sent,
        received_at=row.received_at,
        msg_type=row.msg_type,
        status=row.status,
        form=row.form,
        via=row.via,
        decision=row.decision,
        reason=row.reason,
        alert_id=row.alert_id,
        hold_until=row.hold_until,
        references=tuple(
            (str(sender), str(identifier), str(sent))
            for sender, identifier, sent in json.loads(row.references_json)
        ),
        plan=json.loads(row.plan_json),
        body=base64.b64decode(row.body_b64),
        content_type=row.content_type,
        updated_at=row.updated_at,
    )


def add_message(session: Session, message: StoredCapMessage) -> None:
    session.add(
        CapMessageRow(
            id=message.id,
            identifier=message.identifier,
            sender=message.sender,
            sent=message.sent,
            received_at=message.received_at,
            msg_type=message.msg_type,
            status=message.status,
            form=message.form,
            via=message.via,
            decision=message.decision,
            reason=message.reason,
            alert_id=message.alert_id,
            hold_until=message.hold_until,
            references_json=json.dumps([list(r) for r in message.references]),
            plan_json=json.dumps(message.plan, ensure_ascii=False),
            body_b64=base64.b64encode(message.body).decode("ascii"),
            content_type=message.content_type,
            updated_at=message.updated_at,
        )
    )


def delete_message(session: Session, message_id: str) -> None:
    session.execute(delete(CapMessageRow).where(col(CapMessageRow.id) == message_id))


def set_plan(session: Session, message_id: str, plan: dict[str, Any]) -> None:
    """Keep the plan made for the message (what a suggestion shows, or what played)."""
    session.execute(
        update(CapMessageRow)
        .where(col(CapMessageRow.id) == message_id)
        .values(plan_json=json.dumps(plan, ensure_ascii=False))
    )


def decide(
    session: Session,
    message_id: str,
    decision: str,
    reason: str,
    alert_id: str | None,
    hold_until: datetime | None,
    now: datetime,
    plan: dict[str, Any] | None = None,
) -> StoredCapMessage | None:
    """Record what was decided (an alert id, once set, stays; a plan of None keeps the stored
    one) and return the message as stored now; None: no such message."""
    values: dict[str, Any] = {
        "decision": decision,
        "reason": reason[:2000],
        "hold_until": hold_until,
        "updated_at": now,
    }
    if alert_id:
        values["alert_id"] = alert_id
    if plan is not None:
        values["plan_json"] = json.dumps(plan, ensure_ascii=False)
    session.execute(update(CapMessageRow).where(col(CapMessageRow.id) == message_id).values(values))
    return get(session, message_id)


def get(session: Session, message_id: str) -> StoredCapMessage | None:
    row = session.get(CapMessageRow, message_id)
    return _message(row) if row is not None else None


def by_key(session: Session, sender: str, identifier: str) -> StoredCapMessage | None:
    query = select(CapMessageRow).where(
        CapMessageRow.sender == sender, CapMessageRow.identifier == identifier
    )
    row = session.exec(query).first()
    return _message(row) if row is not None else None


def known_identifier(session: Session, identifier: str) -> bool:
    """Whether a message of this identifier (from any sender) was received."""
    query = select(CapMessageRow.id).where(CapMessageRow.identifier == identifier)
    return session.exec(query).first() is not None


def referenced(session: Session, refs: Iterable[tuple[str, str]]) -> list[StoredCapMessage]:
    """The referenced messages, by (sender, identifier); an empty sender (NINA's references
    name identifiers only) matches any sender."""
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
    return [_message(row) for row in session.exec(query)]


def held(session: Session) -> list[StoredCapMessage]:
    query = select(CapMessageRow).where(CapMessageRow.decision == "held")
    return [_message(row) for row in session.exec(query.order_by(col(CapMessageRow.received_at)))]


def any_held(session: Session) -> bool:
    query = select(CapMessageRow.id).where(CapMessageRow.decision == "held")
    return session.exec(query).first() is not None


def recent(
    session: Session, decisions: Sequence[str] | None = None, limit: int = 100
) -> list[StoredCapMessage]:
    query = select(CapMessageRow)
    if decisions:
        query = query.where(col(CapMessageRow.decision).in_(list(decisions)))
    query = query.order_by(col(CapMessageRow.received_at).desc()).limit(limit)
    return [_message(row) for row in session.exec(query)]


def of_alert(session: Session, alert_id: str) -> list[StoredCapMessage]:
    query = select(CapMessageRow).where(CapMessageRow.alert_id == alert_id)
    return [_message(row) for row in session.exec(query.order_by(col(CapMessageRow.sent)))]


# ---- feeds ------------------------------------------------------------------------------------


def _feed(row: CapFeedRow) -> CapFeed:
    return CapFeed(
        name=row.name,
        kind=row.kind,
        url=row.url,
        ars=tuple(json.loads(row.ars_json)),
        interval_s=row.interval_s,
        enabled=row.enabled,
        created_at=row.created_at,
        validators=json.loads(row.validators_json or "{}"),
        last_polled_at=row.last_polled_at,
        last_ok_at=row.last_ok_at,
        failures=row.failures,
        next_poll_at=row.next_poll_at,
        last_error=row.last_error,
        accepted=row.accepted,
        refused=row.refused,
        not_modified=row.not_modified,
    )


def add_feed(session: Session, feed: CapFeed) -> None:
    session.add(
        CapFeedRow(
            name=feed.name,
            kind=feed.kind,
            url=feed.url,
            ars_json=json.dumps(list(feed.ars)),
            interval_s=feed.interval_s,
            enabled=feed.enabled,
            created_at=feed.created_at,
            validators_json=json.dumps(feed.validators),
            last_polled_at=feed.last_polled_at,
            last_ok_at=feed.last_ok_at,
            failures=feed.failures,
            next_poll_at=feed.next_poll_at,
            last_error=feed.last_error,
            accepted=feed.accepted,
            refused=feed.refused,
            not_modified=feed.not_modified,
        )
    )


def get_feed(session: Session, name: str) -> CapFeed | None:
    row = session.get(CapFeedRow, name)
    return _feed(row) if row is not None else None


def all_feeds(session: Session) -> list[CapFeed]:
    return [_feed(row) for row in session.exec(select(CapFeedRow).order_by(CapFeedRow.name))]


def any_enabled_feed(session: Session) -> bool:
    return session.exec(select(CapFeedRow.name).where(CapFeedRow.enabled)).first() is not None


def delete_feed(session: Session, name: str) -> bool:
    """Remove the feed; False when there was none of this name."""
    result = session.execute(delete(CapFeedRow).where(col(CapFeedRow.name) == name))
    return bool(getattr(result, "rowcount", 0))


def record_poll(
    session: Session,
    name: str,
    validators: dict[str, Any],
    counts: Mapping[str, int],
    now: datetime,
    *,
    failures: int,
    last_error: str,
    last_ok_at: datetime | None,
    next_poll_at: datetime,
) -> None:
    """Store how a poll of the feed went: its validators, the messages it counted (added to
    the totals), its failures and when it is polled next (``last_ok_at`` None: unchanged)."""
    values: dict[str, Any] = {
        "last_polled_at": now,
        "validators_json": json.dumps(validators),
        "accepted": CapFeedRow.accepted + counts["accepted"],
        "refused": CapFeedRow.refused + counts["refused"],
        "not_modified": CapFeedRow.not_modified + counts["not_modified"],
        "failures": failures,
        "last_error": last_error,
        "next_poll_at": next_poll_at,
    }
    if last_ok_at is not None:
        values["last_ok_at"] = last_ok_at
    session.execute(update(CapFeedRow).where(col(CapFeedRow.name) == name).values(values))


# ---- geocodes ---------------------------------------------------------------------------------

# ARS digits: Land (2), Regierungsbezirk (1), Kreis (2), Gemeindeverband (4), Gemeinde (3); a key
# ending in zeros from one of these boundaries on names the whole larger unit.
ARS_LEVELS = (2, 3, 5, 9, 12)


def ars_prefix(code: str) -> str:
    for length in ARS_LEVELS:
        if set(code[length:]) <= {"0"}:
            return code[:length]
    return code


def _area(row: GeocodeAreaRow) -> GeocodeArea:
    return GeocodeArea(
        scheme=row.scheme,
        code=row.code,
        name=row.name,
        geometry=json.loads(row.geometry_json),
        source=row.source,
        imported_at=row.imported_at,
    )


def geocode_areas(session: Session, scheme: str, code: str) -> list[GeocodeArea]:
    """The imported boundaries ``code`` covers: itself, or for an ARS of a Kreis or Land every
    imported municipality inside it."""
    exact = session.get(GeocodeAreaRow, (scheme, code))
    if exact is not None:
        return [_area(exact)]
    if scheme != "ARS" or not code.isdigit() or len(code) != 12:
        return []
    prefix = ars_prefix(code)
    if prefix == code:
        return []
    query = select(GeocodeAreaRow).where(
        GeocodeAreaRow.scheme == "ARS", col(GeocodeAreaRow.code).startswith(prefix)
    )
    return [_area(row) for row in session.exec(query)]


def save_geocodes(session: Session, areas: Sequence[GeocodeArea]) -> tuple[int, int]:
    """Insert or replace; returns (added, replaced)."""
    added = replaced = 0
    for area in areas:
        geometry_json = json.dumps(area.geometry)
        old = session.get(GeocodeAreaRow, (area.scheme, area.code))
        if old is None:
            session.add(
                GeocodeAreaRow(
                    scheme=area.scheme,
                    code=area.code,
                    name=area.name,
                    geometry_json=geometry_json,
                    source=area.source,
                    imported_at=area.imported_at,
                )
            )
            added += 1
        else:
            old.name, old.geometry_json = area.name, geometry_json
            old.source, old.imported_at = area.source, area.imported_at
            session.add(old)
            replaced += 1
    return added, replaced


def geocode_counts(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for scheme in session.exec(select(GeocodeAreaRow.scheme)):
        counts[scheme] = counts.get(scheme, 0) + 1
    return counts
