"""What a steering sends: channel settings checked as wire payloads, made per lantern along a route,
and grouped so lanterns with identical payloads share one envelope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from lightctl.errors import FieldProblem, InvalidRequest, summarise
from lightctl.geo.guidance import RouteGuide
from lightctl.protocol import LightPayload, PathPayload, ProjectionPayload
from lightctl.protocol.wire import Channel, Payload, WireModel

# Which hardware each steerable channel needs (inventory capability names).
CAPABILITY: dict[Channel, str] = {"light": "rgb", "projection": "projector", "path": "path_light"}
PAYLOAD_MODEL: dict[str, type[LightPayload | ProjectionPayload | PathPayload]] = {
    "light": LightPayload,
    "projection": ProjectionPayload,
    "path": PathPayload,
}
# Chase and blink without a period: 2 s, a running light a walker can follow.
DEFAULT_PERIOD_MS = 2000
# The wire's largest phase (10 minutes): a route so long that its phases would pass it gets a
# faster running light instead, so phases keep rising all the way to the destination.
MAX_PHASE_MS = 600_000
# Arrows are rounded to whole degrees: 0.5° is invisible on the pavement, and lanterns along a
# straight street then share one payload (one signature, one envelope).
HEADING_DECIMALS = 0

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """One envelope to build: a channel's payload and the lanterns that get exactly it."""

    channel: Channel
    payload: Payload
    lantern_ids: tuple[str, ...]


def checked_payloads(
    settings: Mapping[str, dict[str, Any]], has_route: bool
) -> dict[Channel, LightPayload | ProjectionPayload | PathPayload]:
    """The requested settings as wire payloads; every mistake named by its field at once."""
    problems: list[FieldProblem] = []
    out: dict[Channel, LightPayload | ProjectionPayload | PathPayload] = {}
    for channel, data in settings.items():
        model = PAYLOAD_MODEL[channel]
        try:
            out[channel] = model.model_validate(data)  # type: ignore[index]
        except ValidationError as exc:
            for err in exc.errors():
                where = (channel, *(p for p in err["loc"] if isinstance(p, str | int)))
                problems.append(FieldProblem(where, err["msg"], _small(err.get("input"))))
    for channel, payload in out.items():
        problems += _consistency(channel, payload, has_route)
    if problems:
        raise InvalidRequest(summarise(problems), problems)
    return out


def _small(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) and len(str(value)) <= 200 else None


def _consistency(channel: str, payload: WireModel, has_route: bool) -> list[FieldProblem]:
    """What each field allows alone but not together."""
    if isinstance(payload, LightPayload) and payload.color and payload.cct_k:
        return [FieldProblem((channel, "cct_k"), "give color or cct_k (white), not both")]
    if isinstance(payload, ProjectionPayload):
        if payload.pictogram == "arrow" and payload.heading_deg is None and not has_route:
            return [
                FieldProblem(
                    (channel, "heading_deg"),
                    "an arrow needs heading_deg, or guidance along target.route to follow",
                )
            ]
        if payload.pictogram == "text" and not payload.text:
            return [FieldProblem((channel, "text"), "the text pictogram needs a text")]
    return []


def group_by_payload(assignments: Iterable[tuple[str, P]]) -> list[tuple[P, list[str]]]:
    """Lanterns grouped by identical payload (compared as wire bytes when it is a wire model),
    in order of first appearance: one envelope, and later one signature, per group."""
    groups: dict[Any, tuple[P, list[str]]] = {}
    for lantern_id, payload in assignments:
        key = payload.to_bytes() if isinstance(payload, WireModel) else payload
        found = groups.get(key)
        if found is None:
            groups[key] = (payload, [lantern_id])
        else:
            found[1].append(lantern_id)
    return list(groups.values())


def ms_per_metre(guide: RouteGuide, speed_mps: float) -> float:
    """How much later each metre along the route peaks: the running light's pace."""
    pace = 1000.0 / speed_mps
    if guide.length_m * pace > MAX_PHASE_MS:
        pace = MAX_PHASE_MS / guide.length_m
    return pace


def per_lantern(
    channel: Channel,
    payload: LightPayload | ProjectionPayload | PathPayload,
    lantern_ids: Sequence[str],
    guide: RouteGuide | None,
    pace_ms_per_m: float,
) -> list[tuple[str, Payload]]:
    """The payload each lantern gets: arrows turned to the route, chases phased along it."""
    if guide is None:
        return [(lid, _with_period(payload)) for lid in lantern_ids]
    out: list[tuple[str, Payload]] = []
    for i, lid in enumerate(lantern_ids):
        update: dict[str, Any] = {}
        if isinstance(payload, ProjectionPayload) and payload.pictogram == "arrow":
            heading = round(float(guide.headings_deg[i]), HEADING_DECIMALS) % 360.0
            update["heading_deg"] = heading
        if isinstance(payload, LightPayload | PathPayload) and _chases(payload):
            update["phase_ms"] = round(float(guide.along_m[i]) * pace_ms_per_m)
        out.append((lid, _with_period(payload.model_copy(update=update))))
    return out


def _chases(payload: LightPayload | PathPayload) -> bool:
    return (isinstance(payload, LightPayload) and payload.effect == "chase") or (
        isinstance(payload, PathPayload) and payload.mode == "chase"
    )


def _with_period(payload: P) -> P:
    """A chase, blink or pulse without a period gets the default one, so every lantern agrees."""
    if not isinstance(payload, LightPayload | PathPayload) or payload.period_ms is not None:
        return payload
    if isinstance(payload, LightPayload):
        periodic = payload.effect != "steady"
    else:
        periodic = payload.mode == "chase"
    if not periodic:
        return payload
    return payload.model_copy(update={"period_ms": DEFAULT_PERIOD_MS})  # type: ignore[return-value]


def plan(
    payloads: Mapping[Channel, LightPayload | ProjectionPayload | PathPayload],
    lantern_ids: Sequence[str],
    capabilities: Mapping[str, frozenset[str]],
    guide: RouteGuide | None,
    pace_ms_per_m: float,
) -> tuple[list[PlannedCommand], dict[str, list[str]]]:
    """Commands per channel and distinct payload, and per channel the lanterns without the
    hardware (by the inventory), which get nothing."""
    commands: list[PlannedCommand] = []
    unsupported: dict[str, list[str]] = {}
    for channel, payload in payloads.items():
        need = CAPABILITY[channel]
        able = [i for i, lid in enumerate(lantern_ids) if need in capabilities.get(lid, ())]
        missing = [lid for lid in lantern_ids if need not in capabilities.get(lid, ())]
        if missing:
            unsupported[channel] = missing
        sub_guide = None
        if guide is not None:
            sub_guide = RouteGuide(guide.headings_deg[able], guide.along_m[able], guide.length_m)
        ids = [lantern_ids[i] for i in able]
        for shared, group in group_by_payload(
            per_lantern(channel, payload, ids, sub_guide, pace_ms_per_m)
        ):
            commands.append(PlannedCommand(channel, shared, tuple(group)))
    return commands, unsupported
