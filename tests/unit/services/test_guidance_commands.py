"""The evacuation's words and payloads: the template's meeting point is the one the arrows lead
to, the running light's phase follows the way, and the request round-trips as stored."""

from __future__ import annotations

import pytest

from lightctl.domain.alerts import AlertSpec
from lightctl.domain.guidance import (
    EvacuationSpec,
    MeetingPoint,
    evacuation_from_json,
    evacuation_to_json,
)
from lightctl.domain.targets import Circle, TargetSpec
from lightctl.errors import InvalidRequest
from lightctl.paths import TEMPLATES_DIR
from lightctl.protocol import FEATURE_PROJECTION_FLASH, ProjectionFlash, ProjectionPayload
from lightctl.services.guidance_commands import (
    EVACUATION_FLASH,
    chase_phase,
    guidance_payloads,
    load_phrases,
    with_meeting_point,
)
from lightctl.services.guidance_plan import PICTOGRAM, GuidancePlan, LanternPlan
from lightctl.templates import load_templates

TEMPLATES = load_templates(TEMPLATES_DIR)
EVAC = EvacuationSpec(meeting_points=(MeetingPoint("Lindenhof", 8.541, 47.3728),))


def _spec(params: dict[str, str]) -> AlertSpec:
    return AlertSpec(
        target=TargetSpec(circle=Circle(8.54, 47.37, 100)),
        messages={},
        languages=("de",),
        template="evacuation",
        params=params,
        evacuation=EVAC,
    )


def test_the_template_meeting_point_is_filled_from_the_arrows() -> None:
    spec = with_meeting_point(_spec({"street": "Bahnhofstrasse"}), TEMPLATES)
    assert spec.params == {"street": "Bahnhofstrasse", "meeting_point": "Lindenhof"}
    same = with_meeting_point(_spec({"street": "X", "meeting_point": "Lindenhof"}), TEMPLATES)
    assert same.params == {"street": "X", "meeting_point": "Lindenhof"}


def test_a_text_naming_another_place_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        with_meeting_point(_spec({"street": "X", "meeting_point": "Paradeplatz"}), TEMPLATES)
    problem = (refused.value.problems or [])[0]
    assert problem.loc == ("params", "meeting_point")
    assert "Lindenhof" in problem.msg


def test_the_running_light_peaks_later_nearer_safety_modulo_its_period() -> None:
    pace = 200.0  # ms per metre at 5 m/s
    assert chase_phase(0.0, pace) == 0
    assert chase_phase(5.0, pace) == 1000
    assert chase_phase(12.5, pace) == 500  # 2,500 ms is half a period past one period
    assert chase_phase(5.2, pace) == 1000  # in sixteenths of the 2 s period (125 ms)


def test_the_request_round_trips_as_stored() -> None:
    spec = EvacuationSpec(
        hazard=TargetSpec(circle=Circle(8.54, 47.37, 100)),
        core=TargetSpec(circle=Circle(8.54, 47.37, 20)),
        meeting_points=EVAC.meeting_points,
        buffer_m=30.0,
        holes_safe=True,
        fallback=True,
    )
    assert evacuation_from_json(evacuation_to_json(spec)) == spec


def test_the_follow_sentences_exist_in_every_template_language() -> None:
    phrases = load_phrases()
    assert set(phrases) == {"follow_to", "follow_out", "shelter"}
    for template in phrases.values():
        assert set(TEMPLATES["evacuation"].languages) <= set(template.languages)


def _row(lid: str, kind: str, heading: float | None) -> LanternPlan:
    return LanternPlan(
        id=lid,
        lon=8.54,
        lat=47.37,
        kind=kind,
        pictogram=PICTOGRAM[kind],
        heading_deg=heading,
        exit="Lindenhof" if kind != "shelter" else None,
        metres=40.0 if kind != "shelter" else None,
        reason=None,
        changed_at=0.0,
    )


def test_evacuation_arrows_flash_where_the_firmware_can_and_nothing_else_flashes() -> None:
    rows = [
        _row("new-arrow", "arrow", 35.0),
        _row("old-arrow", "arrow", 35.0),
        _row("new-walk", "neutral", None),
        _row("new-no-entry", "no_entry", 200.0),
        _row("new-shelter", "shelter", None),
    ]
    plan = GuidancePlan(rows, [], [], False, "meeting_points", {})
    features = {lid: frozenset({FEATURE_PROJECTION_FLASH}) for lid in ("new-arrow", "new-walk")}
    features |= {"new-no-entry": frozenset({FEATURE_PROJECTION_FLASH})}
    features |= {"new-shelter": frozenset({FEATURE_PROJECTION_FLASH})}
    caps = {r.id: frozenset({"projector"}) for r in rows}
    out = guidance_payloads(
        plan, EVAC, "severe", "de", caps, load_phrases(), lambda lid: features.get(lid, frozenset())
    )
    shown: dict[str, ProjectionPayload] = {}
    for channel, payload, ids in out:
        if channel == "projection":
            assert isinstance(payload, ProjectionPayload)
            shown.update(dict.fromkeys(ids, payload))
    assert shown["new-arrow"].flash == ProjectionFlash(period_ms=1000, on_ms=700)
    assert shown["new-arrow"].heading_deg == 35.0
    # The same arrow on firmware that never said it can flash: steady, and a payload of its own.
    assert shown["old-arrow"].flash is None
    assert shown["old-arrow"].heading_deg == 35.0
    assert "flash" not in shown["old-arrow"].model_dump(exclude_none=True)
    for steady in ("new-walk", "new-no-entry", "new-shelter"):
        assert shown[steady].flash is None, steady
    # At most 2 Hz, well under the 3 Hz seizure line.
    assert 1000 / EVACUATION_FLASH.period_ms <= 2
