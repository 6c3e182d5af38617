"""A CAP 1.2 message as plain, typed values: what the parser produces and the mapping reads.

Coordinates keep CAP's own order in their names (``lat``, ``lon``) so nobody swaps them by
accident; radii stay in kilometres (``radius_km``) as CAP gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
RESPONSE_TYPES = (
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
)
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
# CAP 1.1 also allowed "Very Likely"; read as "Likely" (CAP 1.2 section 3.2.2 says so).
CERTAINTIES_11 = (*CERTAINTIES, "Very Likely")

# CAP 1.2 section 3.2.2: an info block without <language> is in en-US.
DEFAULT_LANGUAGE = "en-US"


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``sender,identifier,sent`` triple of ``<references>`` (sender or sent may be empty
    for NINA's non-CAP references, which name identifiers only)."""

    sender: str
    identifier: str
    sent: str


@dataclass(frozen=True, slots=True)
class NamedValue:
    """``valueName``/``value`` pairs: eventCode, parameter and geocode."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class CapCircle:
    lat: float
    lon: float
    radius_km: float  # 0 is legal: a point


# A polygon ring as CAP gives it: (lat, lon) pairs, first equal to last.
LatLonRing = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class CapArea:
    desc: str
    polygons: tuple[LatLonRing, ...] = ()
    circles: tuple[CapCircle, ...] = ()
    geocodes: tuple[NamedValue, ...] = ()
    altitude_ft: float | None = None
    ceiling_ft: float | None = None


@dataclass(frozen=True, slots=True)
class CapResource:
    desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None  # base64 content carried in the message
    digest: str | None = None

    @property
    def is_audio(self) -> bool:
        return "audio" in self.mime_type.lower()


@dataclass(frozen=True, slots=True)
class CapInfo:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    response_types: tuple[str, ...] = ()
    audience: str | None = None
    event_codes: tuple[NamedValue, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[NamedValue, ...] = ()
    resources: tuple[CapResource, ...] = ()
    areas: tuple[CapArea, ...] = ()

    def parameter(self, name: str) -> str | None:
        return next((p.value for p in self.parameters if p.name == name), None)


@dataclass(frozen=True, slots=True)
class CapMessage:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    source: str | None = None
    restriction: str | None = None
    addresses: str | None = None
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[Reference, ...] = ()
    incidents: str | None = None
    infos: tuple[CapInfo, ...] = ()
    # "1.2", or "1.1" for a message in the older namespace (read with the 1.2 rules).
    version: str = "1.2"
    # "xml" (CAP XML) or "nina" (NINA's CAP as JSON).
    form: str = "xml"
    signed: bool = False
    # Defects that did not stop the message, each naming the element (shown and audited).
    warnings: tuple[str, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """The info blocks' languages, first occurrence order, each once."""
        return tuple(dict.fromkeys(i.language for i in self.infos))

    @property
    def areas(self) -> tuple[CapArea, ...]:
        return tuple(a for i in self.infos for a in i.areas)

    @property
    def expires(self) -> datetime | None:
        """The latest expiry any info block gives (None: no expiry stated)."""
        found = [i.expires for i in self.infos if i.expires is not None]
        return max(found) if found else None
