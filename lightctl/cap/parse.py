"""CAP 1.2 XML and NINA JSON → ``CapMessage``: everything the schema allows, checked exactly.

Every defect is collected with its place (``alert.info.0.area.1.polygon.0``) so one answer
names them all; defects that CAP tolerates in practice become named warnings instead.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from lightctl.cap.model import (
    CATEGORIES,
    CERTAINTIES,
    CERTAINTIES_11,
    DEFAULT_LANGUAGE,
    MSG_TYPES,
    RESPONSE_TYPES,
    SCOPES,
    SEVERITIES,
    STATUSES,
    URGENCIES,
    CapInfo,
    CapMessage,
    CapResource,
    Reference,
)
from lightctl.cap.parse_areas import area_of, with_geojson
from lightctl.cap.reader import LOOSE_TIME, Loc, Reader
from lightctl.cap.xmlread import CapRefused, Node, RawMessage, read_bytes
from lightctl.errors import summarise

ALERT_FIELDS = frozenset(
    [
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "source",
        "scope",
        "restriction",
        "addresses",
        "code",
        "note",
        "references",
        "incidents",
        "info",
    ]
)
INFO_FIELDS = frozenset(
    [
        "language",
        "category",
        "event",
        "responseType",
        "urgency",
        "severity",
        "certainty",
        "audience",
        "eventCode",
        "effective",
        "onset",
        "expires",
        "senderName",
        "headline",
        "description",
        "instruction",
        "web",
        "contact",
        "parameter",
        "resource",
        "area",
    ]
)
RESOURCE_FIELDS = frozenset(["resourceDesc", "mimeType", "size", "uri", "derefUri", "digest"])


def parse_message(data: bytes, content_type: str = "") -> CapMessage:
    """Read a CAP XML or NINA JSON body; ``CapRefused`` (a 422) names every defect."""
    return build_message(read_bytes(data, content_type))


def build_message(raw: RawMessage) -> CapMessage:
    r = Reader(raw)
    root = raw.root
    loc: Loc = ("alert",)
    r.known(root, ALERT_FIELDS, loc)
    identifier = r.one(root, "identifier", loc, required=True) or ""
    sender = r.one(root, "sender", loc, required=True) or ""
    for name, value in (("identifier", identifier), ("sender", sender)):
        if re.search(r"[\s,<&]", value):
            r.problem((*loc, name), "must not contain spaces, commas, < or &", value)
    sent = r.time(root, "sent", loc, required=True)
    status = r.choice(root, "status", loc, STATUSES)
    msg_type = r.choice(root, "msgType", loc, MSG_TYPES)
    scope = r.choice(root, "scope", loc, SCOPES)
    restriction = r.one(root, "restriction", loc)
    addresses = r.one(root, "addresses", loc)
    if scope == "Restricted" and restriction is None:
        r.warn((*loc, "restriction"), "scope Restricted without a restriction")
    references = _references(r, root, loc)
    if msg_type in ("Update", "Cancel", "Ack", "Error") and not references:
        r.problem(
            (*loc, "references"),
            f"msgType {msg_type} needs references (sender,identifier,sent of the messages "
            "it refers to); it is empty or missing",
        )
    infos = []
    for i, item in enumerate(root.get("info", [])):
        if not isinstance(item, dict):
            r.problem((*loc, "info", i), "must hold CAP info elements")
            continue
        infos.append(_info(r, item, (*loc, "info", i), sent))
    if r.problems:
        raise CapRefused(summarise(r.problems), r.problems)
    if sent is None:  # a missing or bad <sent> is one of the problems raised above
        raise CapRefused.single(("sent",), "missing or not a CAP date-time")
    message = CapMessage(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        scope=scope,
        source=r.one(root, "source", loc),
        restriction=restriction,
        addresses=addresses,
        codes=tuple(c.strip() for c in r.texts(root, "code", loc) if c.strip()),
        note=r.one(root, "note", loc),
        references=references,
        incidents=r.one(root, "incidents", loc),
        infos=tuple(infos),
        version=raw.version,
        form=raw.form,
        signed=raw.signed,
        warnings=(),
    )
    if raw.geojson is not None:
        message = with_geojson(r, message, raw.geojson)
    if r.problems:
        raise CapRefused(summarise(r.problems), r.problems)
    return _replace_warnings(message, tuple(r.warnings))


def _replace_warnings(message: CapMessage, warnings: tuple[str, ...]) -> CapMessage:
    from dataclasses import replace

    return replace(message, warnings=warnings)


def _references(r: Reader, root: Node, loc: Loc) -> tuple[Reference, ...]:
    text = r.one(root, "references", loc)
    if text is None:
        return ()
    out: list[Reference] = []
    loose = False
    for i, token in enumerate(text.split()):
        parts = token.split(",")
        if len(parts) == 3 and all(parts):
            out.append(Reference(parts[0], parts[1], parts[2]))
            continue
        if r.raw.form != "nina":
            r.problem((*loc, "references", i), "is not a sender,identifier,sent triple", token)
            continue
        # NINA/MoWaS writes identifiers separated by spaces with one trailing sender and time:
        # keep every part that is not a time as an identifier of unknown sender.
        loose = True
        for part in parts:
            if part and not LOOSE_TIME.match(part):
                out.append(Reference("", part, ""))
    if loose:
        r.warn((*loc, "references"), "not in CAP's sender,identifier,sent form; read as ids")
    return tuple(out)


def _info(r: Reader, node: Node, loc: Loc, sent: datetime | None) -> CapInfo:
    r.known(node, INFO_FIELDS, loc)
    language = r.one(node, "language", loc) or DEFAULT_LANGUAGE
    categories = tuple(c.strip() for c in r.texts(node, "category", loc))
    if not categories:
        r.problem((*loc, "category"), "is missing (required by CAP 1.2)")
    for i, cat in enumerate(categories):
        if cat not in CATEGORIES:
            r.problem((*loc, "category", i), f"must be one of {', '.join(CATEGORIES)}", cat)
    responses = tuple(c.strip() for c in r.texts(node, "responseType", loc))
    for i, resp in enumerate(responses):
        if resp not in RESPONSE_TYPES:
            r.problem(
                (*loc, "responseType", i), f"must be one of {', '.join(RESPONSE_TYPES)}", resp
            )
    certainties = CERTAINTIES_11 if r.raw.version == "1.1" else CERTAINTIES
    certainty = r.choice(node, "certainty", loc, certainties)
    if certainty == "Very Likely":
        certainty = "Likely"
    effective = r.time(node, "effective", loc)
    onset = r.time(node, "onset", loc)
    expires = r.time(node, "expires", loc)
    if expires is not None and sent is not None and expires < sent:
        r.problem(
            (*loc, "expires"),
            f"lies before the message's sent time ({sent.isoformat()})",
            expires.isoformat(),
        )
    resources = tuple(
        _resource(r, item, (*loc, "resource", i))
        for i, item in enumerate(node.get("resource", []))
        if _is_node(r, item, (*loc, "resource", i))
    )
    areas = tuple(
        area_of(r, item, (*loc, "area", i))
        for i, item in enumerate(node.get("area", []))
        if _is_node(r, item, (*loc, "area", i))
    )
    return CapInfo(
        language=language,
        categories=categories,
        event=r.one(node, "event", loc, required=True) or "",
        urgency=r.choice(node, "urgency", loc, URGENCIES),
        severity=r.choice(node, "severity", loc, SEVERITIES),
        certainty=certainty,
        response_types=responses,
        audience=r.one(node, "audience", loc),
        event_codes=r.pairs(node, "eventCode", loc),
        effective=effective,
        onset=onset,
        expires=expires,
        sender_name=r.one(node, "senderName", loc),
        headline=r.one(node, "headline", loc),
        description=r.one(node, "description", loc),
        instruction=r.one(node, "instruction", loc),
        web=r.one(node, "web", loc),
        contact=r.one(node, "contact", loc),
        parameters=r.pairs(node, "parameter", loc),
        resources=resources,
        areas=areas,
    )


def _is_node(r: Reader, item: Any, loc: Loc) -> bool:
    if isinstance(item, dict):
        return True
    r.problem(loc, "must hold elements, not text")
    return False


def _resource(r: Reader, node: Node, loc: Loc) -> CapResource:
    r.known(node, RESOURCE_FIELDS, loc)
    size_text = r.one(node, "size", loc)
    size = None
    if size_text is not None:
        if size_text.isdigit():
            size = int(size_text)
        else:
            r.problem((*loc, "size"), "must be a whole number of bytes", size_text)
    return CapResource(
        desc=r.one(node, "resourceDesc", loc, required=True) or "",
        mime_type=r.one(node, "mimeType", loc, required=True) or "",
        size=size,
        uri=r.one(node, "uri", loc),
        deref_uri=r.one(node, "derefUri", loc),
        digest=r.one(node, "digest", loc),
    )
