"""What a caller asks to reach: the Target of ARCHITECTURE.md as a plain value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Circle:
    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class Route:
    line: dict[str, Any]  # GeoJSON LineString, lon/lat
    width_m: float


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """Union of the given selectors minus ``exclude``; every selector is optional."""

    lanterns: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    area: dict[str, Any] | None = None
    circle: Circle | None = None
    route: Route | None = None
    exclude: TargetSpec | None = None
    repair: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            self.lanterns or self.groups or self.streets or self.area or self.circle or self.route
        )


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """The frozen lantern set of a target plus what the dispatcher sees in a preview."""

    lantern_ids: tuple[str, ...]
    streets: tuple[str, ...]
