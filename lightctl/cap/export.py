"""Our alerts as CAP 1.2 (one ``info`` per spoken language) and as an Atom feed of them.

Identifiers name the alert and the state exported (``{sender}.{alert}.{unix ms}``), so an
update or cancel is a new message that references the first one, as CAP asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from lightctl.cap.xmlread import CAP12_NS

ATOM_NS = "http://www.w3.org/2005/Atom"
# A lantern exported as a circle of 1 m: an import of our own export reaches the same lanterns
# (poles that share a position come along, as they did in the alert). Past this many lanterns
# the export gives the convex hull instead, so a city-wide alert stays a small message.
LANTERN_CIRCLE_KM = 0.001
MAX_LANTERN_CIRCLES = 500

_SEVERITY = {"extreme": "Extreme", "severe": "Severe", "moderate": "Moderate", "minor": "Minor"}


@dataclass(frozen=True, slots=True)
class ExportedAlert:
    """What CAP needs of one alert (from the alert service's report)."""

    id: str
    created_at: datetime
    updated_at: datetime
    status: str  # active | cancelled | all_clear | awaiting_approval
    exercise: bool
    signal: str
    template: str | None
    severity: str
    expires_at: datetime
    messages: dict[str, str]
    languages: tuple[str, ...]
    target: dict[str, Any]
    streets: tuple[str, ...]
    lantern_points: tuple[tuple[float, float], ...]  # (lon, lat) of every lantern reached


def cap_time(at: datetime) -> str:
    """CAP's date-time: seconds and a numeric offset (``-00:00`` for UTC, never ``Z``)."""
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S-00:00")


def identifiers(alert: ExportedAlert, sender: str) -> tuple[str, str]:
    """(first message's identifier, this state's identifier)."""
    first = f"{sender}.{alert.id}.{_ms(alert.created_at)}"
    state_at = alert.updated_at if alert.updated_at > alert.created_at else alert.created_at
    return first, f"{sender}.{alert.id}.{_ms(state_at)}"


def _ms(at: datetime) -> int:
    """Milliseconds since the epoch: an update within the same second is still a new message."""
    return int(at.timestamp() * 1000)


def to_cap(alert: ExportedAlert, sender: str, sender_name: str) -> bytes:
    """The alert as a CAP 1.2 message (UTF-8 XML)."""
    first, ident = identifiers(alert, sender)
    if alert.status == "cancelled":
        msg_type = "Cancel"
    elif alert.status == "all_clear" or ident != first:
        msg_type = "Update"
    else:
        msg_type = "Alert"
    sent = alert.updated_at if msg_type != "Alert" else alert.created_at
    root = etree.Element(f"{{{CAP12_NS}}}alert", nsmap={None: CAP12_NS})
    _text(root, "identifier", ident)
    _text(root, "sender", sender)
    _text(root, "sent", cap_time(sent))
    _text(root, "status", "Exercise" if alert.exercise else "Actual")
    _text(root, "msgType", msg_type)
    _text(root, "scope", "Public")
    if alert.exercise:
        _text(root, "note", "Exercise: played as an exercise on the lanterns")
    if msg_type != "Alert":
        _text(root, "references", f"{sender},{first},{cap_time(alert.created_at)}")
    if msg_type == "Cancel":
        return _bytes(root)
    for lang in alert.languages:
        text = alert.messages.get(lang, "")
        info = etree.SubElement(root, f"{{{CAP12_NS}}}info")
        _text(info, "language", lang)
        _text(info, "category", "Safety")
        _text(info, "event", alert.template or "warning")
        _text(info, "responseType", "AllClear" if alert.status == "all_clear" else "Shelter")
        _text(info, "urgency", "Past" if alert.status == "all_clear" else "Immediate")
        _text(info, "severity", _SEVERITY.get(alert.severity, "Unknown"))
        _text(info, "certainty", "Observed")
        _text(info, "expires", cap_time(alert.expires_at))
        _text(info, "senderName", sender_name)
        _text(info, "headline", _headline(text))
        _text(info, "description", text)
        _area(info, alert)
    return _bytes(root)


def _headline(text: str) -> str:
    """The first sentence, at most 160 characters (CAP suggests brevity for headlines)."""
    first = text.split(". ", 1)[0].strip()
    return first if len(first) <= 160 else first[:159] + "…"


def _area(info: Any, alert: ExportedAlert) -> None:
    area = etree.SubElement(info, f"{{{CAP12_NS}}}area")
    _text(area, "areaDesc", ", ".join(alert.streets) or "lightctl target")
    geometry = alert.target.get("area")
    circle = alert.target.get("circle")
    if geometry or circle:
        for ring in _rings(geometry):
            _text(area, "polygon", " ".join(f"{lat:.7g},{lon:.7g}" for lon, lat in ring))
        if circle:
            km = float(circle["radius_m"]) / 1000
            _text(area, "circle", f"{circle['lat']:.7g},{circle['lon']:.7g} {km:g}")
        if not (alert.target.keys() - {"area", "circle", "repair", "allow_empty", "confirm_large"}):
            return
    points = alert.lantern_points
    if len(points) <= MAX_LANTERN_CIRCLES:
        for lon, lat in points:
            _text(area, "circle", f"{lat:.7f},{lon:.7f} {LANTERN_CIRCLE_KM:g}")
        return
    from shapely.geometry import MultiPoint

    hull = MultiPoint(points).convex_hull
    if hull.geom_type == "Polygon":
        ring = list(hull.exterior.coords)
        _text(area, "polygon", " ".join(f"{lat:.7f},{lon:.7f}" for lon, lat in ring))


def _rings(geometry: dict[str, Any] | None) -> list[list[Sequence[float]]]:
    """Outer rings of a GeoJSON Polygon or MultiPolygon (a Feature of one too)."""
    if not geometry:
        return []
    if geometry.get("type") == "Feature":
        geometry = geometry.get("geometry") or {}
    coords = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        return [list(coords[0])] if coords else []
    if geometry.get("type") == "MultiPolygon":
        return [list(poly[0]) for poly in coords if poly]
    return []


def _text(parent: Any, name: str, value: str) -> None:
    el = etree.SubElement(parent, f"{{{CAP12_NS}}}{name}")
    el.text = value


def _bytes(root: Any) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def atom_feed(alerts: Sequence[ExportedAlert], sender: str, base_url: str, now: datetime) -> bytes:
    """Active alerts for aggregators: one entry each, linking its CAP message."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _atom(feed, "id", f"{base_url}/api/v1/cap/feed.atom")
    _atom(feed, "title", f"{sender}: active warnings")
    _atom(feed, "updated", _rfc3339(max((a.updated_at for a in alerts), default=now)))
    author = etree.SubElement(feed, f"{{{ATOM_NS}}}author")
    _atom(author, "name", sender)
    link = etree.SubElement(feed, f"{{{ATOM_NS}}}link")
    link.set("rel", "self")
    link.set("href", f"{base_url}/api/v1/cap/feed.atom")
    for alert in alerts:
        _first, ident = identifiers(alert, sender)
        entry = etree.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _atom(entry, "id", f"urn:lightctl:{ident}")
        text = alert.messages.get(alert.languages[0], "") if alert.languages else ""
        _atom(entry, "title", _headline(text) or alert.id)
        _atom(entry, "updated", _rfc3339(alert.updated_at))
        _atom(entry, "summary", text)
        cap_link = etree.SubElement(entry, f"{{{ATOM_NS}}}link")
        cap_link.set("rel", "alternate")
        cap_link.set("type", "application/cap+xml")
        cap_link.set("href", f"{base_url}/api/v1/alerts/{alert.id}/cap")
    data: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _atom(parent: Any, name: str, value: str) -> None:
    el = etree.SubElement(parent, f"{{{ATOM_NS}}}{name}")
    el.text = value


def _rfc3339(at: datetime) -> str:
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
