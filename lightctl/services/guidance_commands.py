"""What an evacuation alert sends on top of its warning: per lantern the projected arrow (or
neutral, shelter, no entry, exit pictogram) and a running light phased along the way out, and
the sentence that tells people to follow the arrows, naming the same meeting points."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from lightctl.domain.alerts import AlertSpec
from lightctl.domain.guidance import EvacuationSpec, Shown, evacuation_to_json
from lightctl.errors import InvalidRequest
from lightctl.paths import CONFIG_DIR
from lightctl.protocol import (
    FEATURE_PROJECTION_FLASH,
    PathPayload,
    ProjectionFlash,
    ProjectionPayload,
)
from lightctl.protocol.wire import Channel, Payload
from lightctl.services.alerts.commands import SEVERITY_COLOURS
from lightctl.services.alerts.texts import AlertTexts
from lightctl.services.guidance_plan import GuidancePlan
from lightctl.services.speech import template_sentences
from lightctl.services.steering.commands import DEFAULT_PERIOD_MS, group_by_payload
from lightctl.templates import Template, load_templates, render

# The follow-the-arrows sentences, one template each, in every required language.
GUIDANCE_TEMPLATES_DIR = CONFIG_DIR / "guidance"
# Where the pictogram means "go this way" the footpath light runs that way too.
CHASING = ("arrow", "neutral", "exit")
# Full brightness: at night the running light is what people follow.
PATH_LEVEL = 100
# A running light's phase in sixteenths of its period: 125 ms at 2 s, 0.6 m at 5 m/s.
PHASE_STEPS = 16
# Which hardware each guidance channel needs (inventory capability names).
NEEDS: dict[Channel, str] = {"projection": "projector", "path": "path_light"}
# Evacuation arrows flash: flashing directional signs were noticed about twice as often as
# steady ones (77 % against 38 %). 1 Hz (half the 2 Hz the protocol allows, a third of the
# 3 Hz seizure line), shown 700 ms of each second so the arrow stays readable, every lantern on
# the same wall-clock phase so a street flashes as one. Only arrows flash: "both ways", exit,
# no entry and shelter stay steady, so the one flashing sign is the one that says where to go.
# Route steering (visitor flows, corridors) stays steady too: a flashing arrow is kept for
# evacuation, where its meaning must not be worn out by everyday use.
EVACUATION_FLASH = ProjectionFlash(period_ms=1000, on_ms=700)
FLASHING = ("arrow",)


def load_phrases() -> dict[str, Template]:
    return load_templates(GUIDANCE_TEMPLATES_DIR)


def meeting_point_words(spec: EvacuationSpec) -> str:
    """The meeting points as the voice names them."""
    return ", ".join(m.name for m in spec.meeting_points)


def with_meeting_point(spec: AlertSpec, templates: Mapping[str, Template]) -> AlertSpec:
    """The alert with its template's ``meeting_point`` filled from the evacuation's meeting
    points, or refused when it names another place than the arrows lead to."""
    evac = spec.evacuation
    if evac is None or not evac.meeting_points or spec.template is None:
        return spec
    template = templates.get(spec.template)
    if template is None or "meeting_point" not in template.placeholder_names:
        return spec
    params = dict(spec.params or {})
    said = params.get("meeting_point")
    names = [m.name for m in evac.meeting_points]
    if said is None:
        params["meeting_point"] = meeting_point_words(evac)
        return replace(spec, params=params)
    if said.strip() not in (*names, meeting_point_words(evac)):
        raise InvalidRequest.at(
            ("params", "meeting_point"),
            f"the text names {said!r} but the arrows lead to {meeting_point_words(evac)}: "
            "leave meeting_point out (it is filled in) or name the same place",
            said,
            tuple(names),
        )
    return spec


def guided_texts(
    texts: AlertTexts, spec: EvacuationSpec, plan: GuidancePlan, phrases: Mapping[str, Template]
) -> AlertTexts:
    """The alert's words with "follow the arrows toward <meeting points>" (or "out of the
    danger area") and, when some lanterns have no way out, "where no arrow shows, stay inside",
    in every language of the alert that the sentences exist in."""
    wanted: list[tuple[Template, dict[str, str]]] = []
    if spec.meeting_points:
        wanted.append((phrases["follow_to"], {"meeting_point": meeting_point_words(spec)}))
    else:
        wanted.append((phrases["follow_out"], {}))
    if any(r.kind == "shelter" for r in plan.lanterns):
        wanted.append((phrases["shelter"], {}))
    messages = dict(texts.messages)
    segments = {lang: list(parts) for lang, parts in texts.segments.items()}
    for lang in texts.languages:
        for template, params in wanted:
            if lang not in template.text:
                continue
            messages[lang] = f"{messages[lang].rstrip()} {render(template, lang, params)}"
            segments[lang] += template_sentences(template, lang, params)
    return replace(texts, messages=messages, segments=segments)


def flash_for(kind: str, features: frozenset[str]) -> ProjectionFlash | None:
    """How a lantern showing ``kind`` flashes: arrows flash on firmware that lists the
    feature in its state; everything else, and lanterns whose firmware predates flashing (or
    that never reported), are steady (an unknown key would make them refuse the command)."""
    if kind in FLASHING and FEATURE_PROJECTION_FLASH in features:
        return EVACUATION_FLASH
    return None


def guidance_payloads(
    plan: GuidancePlan,
    spec: EvacuationSpec,
    severity: str,
    language: str,
    capabilities: Mapping[str, frozenset[str]],
    phrases: Mapping[str, Template],
    features: Callable[[str], frozenset[str]] = lambda _id: frozenset(),
) -> list[tuple[Channel, Payload, list[str]]]:
    """Per channel and distinct payload, the lanterns that get it (only those with the
    hardware): projected pictograms turned to their headings (arrows flashing where the
    lantern's ``features`` say it can), and running lights whose phase rises toward safety so
    the light runs the way people should walk."""
    colour = SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["severe"])
    shelter_text = phrases["shelter"].projection_text.get(language, "")
    projection: list[tuple[str, Payload]] = []
    path: list[tuple[str, Payload]] = []
    pace = 1000.0 / spec.chase_speed_mps  # ms later per metre nearer safety
    for row in plan.lanterns:
        if row.pictogram is None:
            continue
        caps = capabilities.get(row.id, frozenset())
        if NEEDS["projection"] in caps:
            projection.append(
                (
                    row.id,
                    ProjectionPayload(
                        pictogram=row.pictogram,
                        heading_deg=row.heading_deg,
                        text=shelter_text[:64] if row.kind == "shelter" else None,
                        color=colour,
                        flash=flash_for(row.kind, features(row.id)),
                    ),
                )
            )
        if row.kind in CHASING and row.metres is not None and NEEDS["path"] in caps:
            path.append(
                (
                    row.id,
                    PathPayload(
                        level=PATH_LEVEL,
                        mode="chase",
                        period_ms=DEFAULT_PERIOD_MS,
                        # Measured back from safety itself, not from the farthest lantern:
                        # a lantern's phase then depends on its own way out only, and an edit
                        # that changes others' ways leaves its running light (and command) be.
                        phase_ms=chase_phase(-row.metres, pace),
                    ),
                )
            )
    out: list[tuple[Channel, Payload, list[str]]] = []
    channels: list[tuple[Channel, list[tuple[str, Payload]]]] = [
        ("projection", projection),
        ("path", path),
    ]
    for channel, assignments in channels:
        for payload, ids in group_by_payload(assignments):
            out.append((channel, payload, ids))
    return out


def chase_phase(nearer_m: float, pace_ms_per_m: float) -> int:
    """The running light's phase for a lantern ``nearer_m`` metres nearer safety than some
    reference (any: the wave is periodic, only the differences between lanterns show): later
    by the pace, taken modulo the period and in sixteenths of it, so lanterns share a handful
    of payloads."""
    step = DEFAULT_PERIOD_MS / PHASE_STEPS
    phase = (nearer_m * pace_ms_per_m) % DEFAULT_PERIOD_MS
    return int(round(phase / step) % PHASE_STEPS * step)


def guidance_document(
    spec: EvacuationSpec, plan: GuidancePlan | None, said: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What the alert keeps: the request, what each lantern shows and since when, a summary
    (without a plan: the request, so a later update tries again), and ``said``: a free-text
    alert's words as written, before the guidance sentences were added."""
    words = {"said": dict(said)} if said else {}
    if plan is None:
        summary_ = {
            "mode": "none",
            "meeting_points": [m.name for m in spec.meeting_points],
            "counts": {},
            "exits": [],
            "warnings": ["no way out could be planned: the warning went without arrows"],
            "shelter_in_place": [],
            "without_street": [],
        }
        return {"spec": evacuation_to_json(spec), "shown": {}, "summary": summary_, **words}
    return {
        "spec": evacuation_to_json(spec),
        "shown": {r.id: [r.kind, r.heading_deg, r.changed_at, r.exit] for r in plan.lanterns},
        "summary": summary(spec, plan),
        **words,
    }


def summary(spec: EvacuationSpec, plan: GuidancePlan) -> dict[str, Any]:
    return {
        "mode": plan.mode,
        "meeting_points": [m.name for m in spec.meeting_points],
        "counts": plan.counts(),
        "exits": [{"name": e.name, "lanterns": e.lanterns} for e in plan.exits],
        "warnings": plan.warnings,
        "shelter_in_place": [r.id for r in plan.lanterns if r.kind == "shelter"],
        "without_street": [r.id for r in plan.lanterns if r.kind == "no_street"],
    }


def shown_of(stored: Mapping[str, Any]) -> dict[str, Shown]:
    return {lid: Shown(v[0], v[1], float(v[2])) for lid, v in stored["shown"].items()}


def guided_ids(plan: GuidancePlan) -> set[str]:
    """Lanterns whose projector shows guidance instead of the warning pictogram."""
    return {r.id for r in plan.lanterns if r.pictogram is not None}


def without(
    commands: Sequence[tuple[Any, Sequence[str]]], channel: str, drop: set[str]
) -> list[tuple[Any, Sequence[str]]]:
    """The commands with ``drop`` taken out of every ``channel`` command's lanterns."""
    out: list[tuple[Any, Sequence[str]]] = []
    for row, ids in commands:
        if row.channel == channel:
            ids = [i for i in ids if i not in drop]
            if not ids:
                continue
        out.append((row, ids))
    return out
