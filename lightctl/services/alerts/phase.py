"""Where a warning stands on the street, from its commands' deliveries: what the running list shows.

The status says what the service decided (cancelled, all clear); the phase says what the
lanterns do about it. A cancelled warning is ``ending`` until every lantern confirmed its
release, and a delivered one is ``holding`` while its light or pictogram stays on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lightctl.domain.delivery import DeliveryState, is_terminal
from lightctl.services.alerts.reports import AlertReport

Phase = Literal["held", "sending", "playing", "holding", "ending", "ended"]
# A lantern holds a `set` it received or applied (or may still receive: planned, published).
_HOLDING = frozenset({"planned", "published", "received", "playing", "applied", "done"})
# A release the lantern never confirmed: it lets go by itself when the command it names expires.
_UNCONFIRMED = frozenset({"failed", "unreachable", "expired", "rejected", "interrupted"})


@dataclass(frozen=True, slots=True)
class StreetState:
    phase: Phase
    # While holding (or ending on lanterns that did not confirm the release): until when.
    until: datetime | None
    # The channels still held on some lantern: "audio", "light", "projection", "path".
    holding: tuple[str, ...]
    # Delivery states of every release the warning sent (cancel, all-clear, update).
    releases: dict[str, int]

    @property
    def running(self) -> bool:
        return self.phase != "ended"


def _open(counts: dict[str, int]) -> int:
    return sum(n for state, n in counts.items() if not is_terminal(DeliveryState(state)))


def street_state(report: AlertReport) -> StreetState:
    """The warning's phase on the street at ``report.now``."""
    now = report.now
    releases: Counter[str] = Counter()
    for cmd in report.commands:
        if cmd.op == "release":
            releases.update(cmd.counts)
    live = [c for c in report.commands if c.op == "set" and c.expires_at > now]
    held = [c for c in live if any(c.counts.get(s) for s in _HOLDING)]
    channels = tuple(sorted({c.channel for c in held}))
    until = max((c.expires_at for c in held), default=None)
    status = report.status
    rel = dict(releases)
    if status == "awaiting_approval":
        return StreetState("held", None, (), rel)
    if status in ("cancelled", "all_clear"):
        if _open(rel) or (status == "all_clear" and _open(report.counts)):
            return StreetState("ending", until, channels, rel)
        if any(rel.get(s) for s in _UNCONFIRMED):
            latest = max((c.expires_at for c in live), default=None)
            if latest is not None:
                return StreetState("ending", latest, channels, rel)
        return StreetState("ended", None, (), rel)
    if status == "sending":
        playing = report.counts.get("playing", 0) > 0
        return StreetState("playing" if playing else "sending", until, channels, rel)
    if until is not None:
        return StreetState("holding", until, channels, rel)
    return StreetState("ended", None, (), rel)
