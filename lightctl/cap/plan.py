"""A CAP message made concrete for our lanterns: who, what, how loud, and whether it may play
without a person (the policy). Reads the inventory and the geocode boundaries; stores nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from lightctl.cap.areas import CapTargeting, message_targeting, outside
from lightctl.cap.mapping import audio_resources_note, spoken, top_severity
from lightctl.cap.model import CapMessage
from lightctl.cap.xmlread import CapRefused
from lightctl.domain import priorities as slot
from lightctl.domain.alerts import AlertSpec
from lightctl.domain.guidance import EvacuationSpec
from lightctl.domain.targets import TargetSpec, target_from_json, target_to_json
from lightctl.errors import InvalidRequest
from lightctl.services.targets import TargetResolver
from lightctl.settings import SUPPORTED_LANGUAGES, CapSourcePolicy, Settings
from lightctl.store import Database
from lightctl.store import cap as cap_store

# CAP statuses that never reach a lantern (System: network traffic; Draft: not for use).
SILENT_STATUSES = frozenset({"System", "Draft"})
# Statuses that play only as an exercise (issue 16: "never drives real lanterns").
EXERCISE_STATUSES = frozenset({"Exercise", "Test"})


@dataclass(frozen=True, slots=True)
class Plan:
    """What the message would do here, shown in a suggestion and stored with the decision."""

    messages: dict[str, str]
    languages: tuple[str, ...]
    skipped_languages: tuple[str, ...]
    severity: str
    signal: str
    exercise: bool
    expires_at: datetime | None
    target: TargetSpec | None
    lantern_ids: tuple[str, ...]
    streets: list[tuple[str, int]]
    unknown_geocodes: list[str]
    outside_area: dict[str, Any] | None
    outside_share: float
    area: dict[str, Any] | None
    headline: str
    notes: list[str] = field(default_factory=list)
    # responseType Evacuate: the lanterns lead people out of the area (issue 18).
    evacuate: bool = False

    def alert_spec(self, repeat: int = 1, interval_s: float = 5.0) -> AlertSpec:
        if self.target is None:  # callers send only plans with an area
            raise ValueError("a CAP plan without an area cannot become an alert")
        return AlertSpec(
            repeat=repeat,
            interval_s=interval_s,
            target=self.target,
            messages=dict(self.messages),
            languages=self.languages,
            priority=slot.LIFE_SAFETY_AUTOMATIC,
            expires_at=self.expires_at,
            signal="all_clear" if self.signal == "all_clear" else "warning",
            exercise=self.exercise,
            severity=self.severity,
            # Out of the message's own area; where no way out can be planned the warning
            # still goes, without arrows (a feed is never refused for its geometry).
            evacuation=EvacuationSpec(fallback=True) if self.evacuate else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "languages": list(self.languages),
            "skipped_languages": list(self.skipped_languages),
            "severity": self.severity,
            "signal": self.signal,
            "exercise": self.exercise,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "target": target_to_json(self.target) if self.target else None,
            "lantern_ids": list(self.lantern_ids),
            "streets": [[n, c] for n, c in self.streets],
            "unknown_geocodes": self.unknown_geocodes,
            "outside_area": self.outside_area,
            "outside_share": self.outside_share,
            "area": self.area,
            "headline": self.headline,
            "notes": self.notes,
            "evacuate": self.evacuate,
        }


def plan_from_json(data: dict[str, Any]) -> Plan:
    expires = data.get("expires_at")
    target = data.get("target")
    return Plan(
        messages=dict(data.get("messages", {})),
        languages=tuple(data.get("languages", ())),
        skipped_languages=tuple(data.get("skipped_languages", ())),
        severity=data.get("severity", "severe"),
        signal=data.get("signal", "warning"),
        exercise=bool(data.get("exercise", False)),
        expires_at=datetime.fromisoformat(expires) if expires else None,
        target=target_from_json(target) if target else None,
        lantern_ids=tuple(data.get("lantern_ids", ())),
        streets=[(n, c) for n, c in data.get("streets", [])],
        unknown_geocodes=list(data.get("unknown_geocodes", [])),
        outside_area=data.get("outside_area"),
        outside_share=float(data.get("outside_share", 0.0)),
        area=data.get("area"),
        headline=data.get("headline", ""),
        notes=list(data.get("notes", [])),
        evacuate=bool(data.get("evacuate", False)),
    )


class Planner:
    def __init__(self, db: Database, settings: Settings, targets: TargetResolver) -> None:
        self._db = db
        self._settings = settings
        self._targets = targets

    def policy(self, sender: str, via: str = "push") -> CapSourcePolicy:
        """The sender's policy, else its feed's (``feed:<name>``), else ``*``; a source the
        operator did not list is refused (422)."""
        sources = self._settings.cap_sources
        found = sources.get(sender) or sources.get(via) or sources.get("*")
        if found is None:
            known = ", ".join(sorted(sources)) or "none configured"
            raise CapRefused.single(
                ("alert", "sender"),
                f"sender is not in the CAP policy (LIGHTCTL_CAP_SOURCES; known: {known})",
                sender,
            )
        return found

    def targeting(self, message: CapMessage) -> CapTargeting:
        with self._db.session() as session:
            extent = self._targets.index(session).extent

            def lookup(scheme: str, code: str) -> list[dict[str, Any]]:
                return [a.geometry for a in cap_store.geocode_areas(session, scheme, code)]

            return message_targeting(message, lookup, extent)

    def plan(self, message: CapMessage, now: datetime) -> Plan:
        s = self._settings
        words = spoken(
            message, SUPPORTED_LANGUAGES, s.cap_language_order, s.cap_lead_in, s.max_text_chars
        )
        targeting = self.targeting(message)
        notes = list(message.warnings) + list(targeting.warnings)
        notes += audio_resources_note(message, s.cap_audio_max_bytes)
        if words.skipped:
            notes.append(f"languages no engine speaks, skipped: {', '.join(words.skipped)}")
        lantern_ids: tuple[str, ...] = ()
        streets: list[tuple[str, int]] = []
        if targeting.target is not None:
            try:
                preview = self._targets.preview(targeting.target, with_features=False)
            except InvalidRequest as exc:
                notes.append(f"area cannot be resolved: {exc.message}")
            else:
                lantern_ids, streets = preview.lantern_ids, preview.streets
        with self._db.session() as session:
            index = self._targets.index(session)
        out_area, out_share = outside(targeting.area, index.extent, index.occupied_cells)
        expires = message.expires
        latest = now + timedelta(seconds=s.max_expires_s)
        if expires is not None and expires > latest:
            notes.append(f"expires {expires.isoformat()} is beyond {s.max_expires_s} s; capped")
            expires = latest
        return Plan(
            messages=words.messages,
            languages=words.languages,
            skipped_languages=words.skipped,
            severity=words.severity,
            signal=words.signal,
            exercise=message.status in EXERCISE_STATUSES,
            expires_at=expires,
            target=targeting.target,
            lantern_ids=lantern_ids,
            streets=streets,
            unknown_geocodes=[f"{c.name}:{c.value}" for c in targeting.unknown_geocodes],
            outside_area=out_area,
            outside_share=out_share,
            area=targeting.area,
            headline=words.headline,
            notes=notes,
            evacuate=any("Evacuate" in i.response_types for i in message.infos),
        )


def automatic(message: CapMessage, plan: Plan, policy: CapSourcePolicy) -> tuple[bool, str]:
    """Whether the plan plays at once, and why not when it does not (the suggestion says so)."""
    if not plan.languages:
        return False, "no language of the message is spoken by our voices"
    if plan.unknown_geocodes:
        return False, "geocodes no imported boundary explains: " + ", ".join(plan.unknown_geocodes)
    if plan.target is None:
        return False, "the message names no area we can place"
    if not policy.auto:
        return False, "the policy of this sender asks a person to send it"
    if message.status not in policy.statuses:
        return False, f"status {message.status} is not automatic for this sender"
    severity = top_severity(message)
    if severity not in policy.severities:
        return False, f"severity {severity} is not automatic for this sender"
    return True, "automatic by policy"


def with_edits(plan: Plan, messages: dict[str, str] | None, target: TargetSpec | None) -> Plan:
    """A suggestion as the dispatcher edited it before sending."""
    out = plan
    if messages:
        out = replace(out, messages=dict(messages), languages=tuple(messages))
    if target is not None:
        out = replace(out, target=target)
    return out
