"""CAP 1.2 XML and NINA JSON → ``CapMessage``: everything the schema allows, checked exactly.

Every defect is collected with its place (``alert.info.0.area.1.polygon.0``) so one answer
names them all; defects that CAP tolerates in practice become named warnings instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
    CapArea,
    CapCircle,
    CapInfo,
    CapMessage,
    CapResource,
    LatLonRing,
    NamedValue,
    Reference,
)
from lightctl.cap.xmlread import CapRefused, Node, RawMessage, read_bytes
from lightctl.errors import FieldProblem, summarise

Loc = tuple[str | int, ...]

# XSD dateTime restricted by CAP 1.2: a numeric UTC offset, no "Z", no fractions.
_CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
_LOOSE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")

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
AREA_FIELDS = frozenset(["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"])
PAIR_FIELDS = frozenset({"valueName", "value"})


def parse_message(data: bytes, content_type: str = "") -> CapMessage:
    """Read a CAP XML or NINA JSON body; ``CapRefused`` (a 422) names every defect."""
    return build_message(read_bytes(data, content_type))


class _Reader:
    def __init__(self, raw: RawMessage) -> None:
        self.raw = raw
        self.problems: list[FieldProblem] = []
        self.warnings: list[str] = list(raw.warnings)

    # ---- reporting ----------------------------------------------------------------------------

    def problem(self, loc: Loc, msg: str, value: Any = None) -> None:
        self.problems.append(FieldProblem(loc, msg, value))

    def warn(self, loc: Loc, msg: str) -> None:
        self.warnings.append(f"{'.'.join(str(p) for p in loc)}: {msg}")

    # ---- fields -------------------------------------------------------------------------------

    def known(self, node: Node, allowed: frozenset[str], loc: Loc) -> None:
        for name in node:
            if name not in allowed:
                if self.raw.form == "nina":
                    continue  # NINA adds its own keys; CAP's are checked below
                self.problem((*loc, name), "is not a CAP 1.2 element here")

    def texts(self, node: Node, key: str, loc: Loc) -> list[str]:
        out = []
        for i, value in enumerate(node.get(key, [])):
            if not isinstance(value, str):
                self.problem((*loc, key, i), "must be text")
                continue
            out.append(value)
        return out

    def one(self, node: Node, key: str, loc: Loc, required: bool = False) -> str | None:
        values = self.texts(node, key, loc)
        if len(values) > 1:
            self.problem((*loc, key), f"appears {len(values)} times; CAP allows it once")
        if not values or not values[0].strip():
            if required:
                what = "is empty" if values else "is missing"
                self.problem((*loc, key), f"{what} (required by CAP 1.2)")
            return None
        return values[0].strip()

    def choice(
        self, node: Node, key: str, loc: Loc, allowed: tuple[str, ...], required: bool = True
    ) -> str:
        value = self.one(node, key, loc, required)
        if value is None:
            return ""
        if value not in allowed:
            self.problem((*loc, key), f"must be one of {', '.join(allowed)}", value)
        return value

    def time(self, node: Node, key: str, loc: Loc, required: bool = False) -> datetime | None:
        text = self.one(node, key, loc, required)
        if text is None:
            return None
        if not _CAP_TIME.match(text):
            if not _LOOSE_TIME.match(text):
                self.problem(
                    (*loc, key), "is not a CAP date-time like 2026-05-01T14:00:00+02:00", text
                )
                return None
            self.warn((*loc, key), f"{text!r} is not CAP's form (numeric offset, no fractions)")
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            self.problem((*loc, key), "is not a valid date-time", text)
            return None
        return at.astimezone(UTC)

    def pairs(
        self, node: Node, key: str, loc: Loc, warn_empty: bool = False
    ) -> tuple[NamedValue, ...]:
        out = []
        for i, item in enumerate(node.get(key, [])):
            here = (*loc, key, i)
            if not isinstance(item, dict):
                self.problem(here, "must hold valueName and value")
                continue
            self.known(item, PAIR_FIELDS, here)
            name = self.one(item, "valueName", here, required=True)
            value = self.one(item, "value", here) or ""
            if not value and warn_empty:
                self.warn((*here, "value"), "is empty")
            if name is not None:
                out.append(NamedValue(name, value))
        return tuple(out)


def build_message(raw: RawMessage) -> CapMessage:
    r = _Reader(raw)
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
        message = _with_geojson(r, message, raw.geojson)
    if r.problems:
        raise CapRefused(summarise(r.problems), r.problems)
    return _replace_warnings(message, tuple(r.warnings))


def _replace_warnings(message: CapMessage, warnings: tuple[str, ...]) -> CapMessage:
    from dataclasses import replace

    return replace(message, warnings=warnings)


def _references(r: _Reader, root: Node, loc: Loc) -> tuple[Reference, ...]:
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
            if part and not _LOOSE_TIME.match(part):
                out.append(Reference("", part, ""))
    if loose:
        r.warn((*loc, "references"), "not in CAP's sender,identifier,sent form; read as ids")
    return tuple(out)


def _info(r: _Reader, node: Node, loc: Loc, sent: datetime | None) -> CapInfo:
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
        _area(r, item, (*loc, "area", i))
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


def _is_node(r: _Reader, item: Any, loc: Loc) -> bool:
    if isinstance(item, dict):
        return True
    r.problem(loc, "must hold elements, not text")
    return False


def _resource(r: _Reader, node: Node, loc: Loc) -> CapResource:
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


def _number(r: _Reader, text: str, loc: Loc, what: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        r.problem(loc, f"{what} is not a number", text)
        return None
    if value != value or value in (float("inf"), float("-inf")):
        r.problem(loc, f"{what} is not a finite number", text)
        return None
    return value


def _pair(r: _Reader, token: str, loc: Loc) -> tuple[float, float] | None:
    parts = token.split(",")
    if len(parts) != 2:
        r.problem(loc, 'is not a "lat,lon" pair', token)
        return None
    lat = _number(r, parts[0], loc, f"latitude in {token!r}")
    lon = _number(r, parts[1], loc, f"longitude in {token!r}")
    if lat is None or lon is None:
        return None
    if not -90 <= lat <= 90:
        r.problem(loc, "latitude must lie within -90..90 (CAP pairs are lat,lon)", token)
        return None
    if not -180 <= lon <= 180:
        r.problem(loc, "longitude must lie within -180..180", token)
        return None
    return lat, lon


def parse_polygon(r: _Reader, text: str, loc: Loc) -> LatLonRing | None:
    tokens = text.split()
    before = len(r.problems)
    ring = []
    for i, token in enumerate(tokens):
        pair = _pair(r, token, (*loc, i))
        if pair is not None:
            ring.append(pair)
    if len(r.problems) > before:
        return None
    if len(ring) < 4:
        r.problem(loc, f"has {len(ring)} lat,lon pairs; CAP needs at least 4 (first = last)")
        return None
    if ring[0] != ring[-1]:
        r.problem(loc, f"is not closed: first pair {tokens[0]} differs from last {tokens[-1]}")
        return None
    return tuple(ring)


def _circle(r: _Reader, text: str, loc: Loc) -> CapCircle | None:
    parts = text.split()
    if len(parts) != 2:
        r.problem(loc, 'must be "lat,lon radius" (radius in km)', text)
        return None
    pair = _pair(r, parts[0], loc)
    radius = _number(r, parts[1], loc, "radius")
    if pair is None or radius is None:
        return None
    if radius < 0:
        r.problem(loc, "radius must not be negative (kilometres; 0 is a point)", text)
        return None
    return CapCircle(pair[0], pair[1], radius)


def _area(r: _Reader, node: Node, loc: Loc) -> CapArea:
    r.known(node, AREA_FIELDS, loc)
    polygons = []
    for i, text in enumerate(r.texts(node, "polygon", loc)):
        ring = parse_polygon(r, text, (*loc, "polygon", i))
        if ring is not None:
            polygons.append(ring)
    circles = []
    for i, text in enumerate(r.texts(node, "circle", loc)):
        circle = _circle(r, text, (*loc, "circle", i))
        if circle is not None:
            circles.append(circle)
    altitude = r.one(node, "altitude", loc)
    ceiling = r.one(node, "ceiling", loc)
    altitude_ft = None if altitude is None else _number(r, altitude, (*loc, "altitude"), "altitude")
    ceiling_ft = None if ceiling is None else _number(r, ceiling, (*loc, "ceiling"), "ceiling")
    if ceiling is not None and altitude is None:
        r.warn((*loc, "ceiling"), "given without altitude")
    return CapArea(
        desc=r.one(node, "areaDesc", loc, required=True) or "",
        polygons=tuple(polygons),
        circles=tuple(circles),
        geocodes=r.pairs(node, "geocode", loc, warn_empty=True),
        altitude_ft=altitude_ft,
        ceiling_ft=ceiling_ft,
    )


def _with_geojson(r: _Reader, message: CapMessage, geojson: dict[str, Any]) -> CapMessage:
    """NINA's GeoJSON ([lon, lat] rings) becomes one more area in every info block."""
    from dataclasses import replace

    features = geojson.get("features") if geojson.get("type") == "FeatureCollection" else None
    geometries = [f.get("geometry") for f in features or [] if isinstance(f, dict)]
    if geojson.get("type") in ("Polygon", "MultiPolygon"):
        geometries = [geojson]
    rings: list[LatLonRing] = []
    for i, geom in enumerate(geometries):
        if not isinstance(geom, dict):
            continue
        polys: list[Any] = [geom.get("coordinates")] if geom.get("type") == "Polygon" else []
        if geom.get("type") == "MultiPolygon":
            polys = list(geom.get("coordinates") or [])
        for poly in polys:
            try:
                outer = poly[0]
                ring = tuple((float(p[1]), float(p[0])) for p in outer)
            except (TypeError, IndexError, ValueError):
                r.problem(("geojson", "features", i), "is not a GeoJSON polygon of [lon, lat]")
                continue
            if len(ring) >= 4 and ring[0] == ring[-1]:
                rings.append(ring)
            else:
                r.problem(("geojson", "features", i), "ring has fewer than 4 points or is open")
    if not rings:
        return message
    extra = CapArea(desc="GeoJSON", polygons=tuple(rings))
    infos = tuple(replace(i, areas=(*i.areas, extra)) for i in message.infos)
    return replace(message, infos=infos)
