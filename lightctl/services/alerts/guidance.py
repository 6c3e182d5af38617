"""An alert's evacuation guidance: planned on its lanterns (with the hysteresis it stored), the
follow-the-arrows words added to its texts, and its guidance commands instead of the warning
pictogram. Used by ``AlertService`` on create and update."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from lightctl.domain.alerts import AlertSpec
from lightctl.domain.guidance import EvacuationSpec, Shown, evacuation_from_json
from lightctl.domain.records import Command
from lightctl.errors import InvalidRequest, summarise
from lightctl.protocol import CommandEnvelope
from lightctl.services import guidance_commands as guide
from lightctl.services.alerts import commands as build
from lightctl.services.alerts.texts import AlertTexts
from lightctl.services.guidance import GuidanceService
from lightctl.services.guidance_plan import GuidancePlan
from lightctl.services.sequence import SequenceCounter
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from lightctl.templates import Template

log = logging.getLogger(__name__)


def _held(stored: Mapping[str, Any], evac: EvacuationSpec) -> dict[str, Shown] | None:
    """What the lanterns show now, for the hysteresis, while people are led to the same places
    as before; new meeting points (or leaving the area instead) turn every arrow at once."""
    before = evacuation_from_json(stored["spec"])
    if before.meeting_points != evac.meeting_points:
        return None
    return guide.shown_of(stored)


class Evacuations:
    """Evacuation guidance for alerts; each envelope signed once where it is built."""

    def __init__(
        self,
        db: Database,
        guidance: GuidanceService,
        seq: SequenceCounter,
        sign: Callable[[CommandEnvelope], CommandEnvelope],
        features: Callable[[str], frozenset[str]] = lambda _id: frozenset(),
    ) -> None:
        self._db = db
        self._guidance = guidance
        self._seq = seq
        self._sign = sign
        # What each lantern's firmware says it understands (its last reported state).
        self._features = features
        self._phrases = guide.load_phrases()

    def named(self, spec: AlertSpec, templates: Mapping[str, Template]) -> AlertSpec:
        """The spec with its template's meeting point filled in (or refused: another place)."""
        return guide.with_meeting_point(spec, templates)

    def texts(self, texts: AlertTexts, spec: AlertSpec, plan: GuidancePlan | None) -> AlertTexts:
        """The words with "follow the arrows ..." added when the alert evacuates."""
        if plan is None or spec.evacuation is None:
            return texts
        return guide.guided_texts(texts, spec.evacuation, plan, self._phrases)

    def stored(self, spec: AlertSpec, plan: GuidancePlan | None) -> dict[str, Any] | None:
        """What the alert keeps (None without evacuation)."""
        if spec.evacuation is None:
            return None
        return guide.guidance_document(spec.evacuation, plan, said=spec.messages)

    def plan(
        self, spec: AlertSpec, lanterns: Sequence[str], stored: Mapping[str, Any] | None
    ) -> GuidancePlan | None:
        """The alert's guidance, or None without ``evacuation``; mistakes named under
        ``evacuation``; no safe place at all is refused (send shelter in place instead)."""
        evac = spec.evacuation
        if evac is None:
            return None
        shown = _held(stored, evac) if stored else None
        try:
            plan = self._guidance.plan(evac, lanterns, alert_target=spec.target, previous=shown)
        except InvalidRequest as exc:
            if evac.fallback:
                log.warning("evacuation without guidance: %s", exc.message)
                return None
            problems = [replace(p, loc=("evacuation", *p.loc)) for p in exc.problems or []]
            raise InvalidRequest(summarise(problems), problems) from None
        if plan.no_safe_place and evac.fallback:
            log.warning("evacuation without guidance: the hazard leaves no safe place")
            return None
        if plan.no_safe_place:
            raise InvalidRequest.at(
                ("evacuation", "hazard"),
                "no safe place: the hazard covers every walkable street its lanterns can reach; "
                "send the warning without evacuation and tell people to shelter in place "
                "(POST /guidance/preview shows which lanterns have a way out)",
            )
        return plan

    def commands(
        self,
        commands: list[tuple[Command, Sequence[str]]],
        alert_id: str,
        spec: AlertSpec,
        texts: AlertTexts,
        plan: GuidancePlan | None,
        now: datetime,
        expires_at: datetime,
        role: str,
    ) -> list[tuple[Command, Sequence[str]]]:
        """The warning's commands with, on guided lanterns, the guidance instead of the
        warning pictogram, and the running lights along the way out."""
        if plan is None or spec.evacuation is None:
            return commands
        out = guide.without(commands, "projection", guide.guided_ids(plan))
        with self._db.session() as session:
            caps = lantern_store.capabilities_of(session, [r.id for r in plan.lanterns])
        for channel, payload, ids in guide.guidance_payloads(
            plan,
            spec.evacuation,
            texts.severity,
            texts.languages[0],
            caps,
            self._phrases,
            self._features,
        ):
            env = build.envelope(
                alert_id=alert_id,
                role=role,
                channel=channel,
                priority=spec.priority,
                issued_at=now,
                expires_at=expires_at,
                exercise=spec.exercise,
                payload=payload,
                seq=self._seq.next(),
            )
            out.append((build.stored(self._sign(env)), ids))
        return out
