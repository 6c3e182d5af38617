"""What a caller asks to reach: the Target of ARCHITECTURE.md as a plain value, and named groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What a lantern can do, in the order previews count them and inventories store them.
CAPABILITIES = ("speaker", "rgb", "projector", "path_light")


@dataclass(frozen=True, slots=True)
class Circle:
    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class Route:
    line: dict[str, Any]  # GeoJSON LineString, lon/lat
    width_m: float  # reach on each side of the line: the corridor is twice as wide


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """Union of the given selectors minus ``exclude``; every selector is optional.

    ``repair`` lets invalid polygons be repaired (here and in everything nested); ``allow_empty``
    and ``confirm_large`` count only on the outermost target.
    """

    lanterns: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    area: dict[str, Any] | None = None
    circle: Circle | None = None
    route: Route | None = None
    exclude: TargetSpec | None = None
    repair: bool = False
    allow_empty: bool = False
    confirm_large: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            self.lanterns
            or self.groups
            or self.streets
            or self.area is not None
            or self.circle is not None
            or self.route is not None
        )

    def group_names(self) -> set[str]:
        """Every group this target names, its ``exclude`` included (not the groups' own groups)."""
        names = set(self.groups)
        if self.exclude is not None:
            names |= self.exclude.group_names()
        return names


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """The frozen lantern set of a target (sorted ids) and the streets those lanterns stand on."""

    lantern_ids: tuple[str, ...]
    streets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GroupDefinition:
    """A named group: a static lantern list, or a stored target re-resolved on every use."""

    name: str
    lanterns: tuple[str, ...] = ()
    target: TargetSpec | None = None
    description: str = ""

    @property
    def kind(self) -> str:
        return "static" if self.target is None else "target"


def target_to_json(spec: TargetSpec) -> dict[str, Any]:
    """The target as JSON, every selector included, defaults left out (stored with alerts)."""
    out: dict[str, Any] = {}
    if spec.lanterns:
        out["lanterns"] = list(spec.lanterns)
    if spec.groups:
        out["groups"] = list(spec.groups)
    if spec.streets:
        out["streets"] = list(spec.streets)
    if spec.area is not None:
        out["area"] = spec.area
    if spec.circle is not None:
        c = spec.circle
        out["circle"] = {"lon": c.lon, "lat": c.lat, "radius_m": c.radius_m}
    if spec.route is not None:
        out["route"] = {"line": spec.route.line, "width_m": spec.route.width_m}
    if spec.exclude is not None:
        out["exclude"] = target_to_json(spec.exclude)
    for flag in ("repair", "allow_empty", "confirm_large"):
        if getattr(spec, flag):
            out[flag] = True
    return out


def target_from_json(data: Mapping[str, Any]) -> TargetSpec:
    """The inverse of ``target_to_json`` (for targets this service stored itself)."""
    circle = data.get("circle")
    route = data.get("route")
    exclude = data.get("exclude")
    return TargetSpec(
        lanterns=tuple(str(x) for x in data.get("lanterns", ())),
        groups=tuple(str(x) for x in data.get("groups", ())),
        streets=tuple(str(x) for x in data.get("streets", ())),
        area=data.get("area"),
        circle=None
        if circle is None
        else Circle(float(circle["lon"]), float(circle["lat"]), float(circle["radius_m"])),
        route=None if route is None else Route(route["line"], float(route["width_m"])),
        exclude=None if exclude is None else target_from_json(exclude),
        repair=bool(data.get("repair", False)),
        allow_empty=bool(data.get("allow_empty", False)),
        confirm_large=bool(data.get("confirm_large", False)),
    )
