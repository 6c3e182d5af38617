"""Which lanterns a Target reaches: one in-memory index over the inventory, queried in metres.

The index is built once from plain arrays (no database here): ids, streets and capabilities here,
positions in metres with an STRtree in ``lightctl.geo.points``. Selectors are checked, resolved to
index positions, united, and ``exclude`` subtracted, as plain set algebra on sorted arrays.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lightctl.domain.targets import (
    CAPABILITIES,
    Circle,
    GroupDefinition,
    ResolvedTarget,
    Route,
    TargetSpec,
)
from lightctl.errors import FieldProblem, InvalidRequest, summarise
from lightctl.geo.crs import MetricProjection
from lightctl.geo.limits import check_corridor
from lightctl.geo.names import normalize_street_name, suggest
from lightctl.geo.points import MetricPoints
from lightctl.geo.shapes import (
    Extent,
    Loc,
    area_lonlat,
    check_distance,
    check_lonlat,
    check_not_swapped,
    line_lonlat,
)

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
Groups = Mapping[str, GroupDefinition]

# Issue 3: more lanterns than this need "confirm_large": true (a whole city is ~40,000 lanterns).
DEFAULT_MAX_LANTERNS = 100_000

_EMPTY: IntArray = np.empty(0, dtype=np.intp)
_SELECTORS = "lanterns, groups, streets, area, circle or route"


class LanternIndex:
    """Lantern ids (sorted), positions, street, capabilities and availability as arrays."""

    __slots__ = (
        "_by_street",
        "_caps",
        "_codes",
        "_ids",
        "_lats",
        "_lons",
        "_online",
        "_points",
        "_street_names",
        "extent",
    )

    def __init__(
        self,
        ids: Sequence[str],
        lons: npt.ArrayLike,
        lats: npt.ArrayLike,
        street_keys: Sequence[str | None],
        capabilities: npt.ArrayLike,
        online: Sequence[bool | None],
        street_names: Mapping[str, str] | None = None,
    ) -> None:
        """``capabilities`` is an (n, 4) boolean array in ``CAPABILITIES`` order; ``street_names``
        maps a street key to the spelling shown (the key itself when absent)."""
        order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
        self._ids: npt.NDArray[np.object_] = np.asarray(ids, dtype=object)[order]
        n = len(self._ids)
        if n > 1 and bool(np.any(self._ids[1:] == self._ids[:-1])):
            raise ValueError("lantern ids must be unique")
        self._lons = np.asarray(lons, dtype=np.float64)[order]
        self._lats = np.asarray(lats, dtype=np.float64)[order]
        if not (len(self._lons) == len(self._lats) == len(street_keys) == len(online) == n):
            raise ValueError("every lantern array must have one entry per id")
        if not (np.isfinite(self._lons).all() and np.isfinite(self._lats).all()):
            raise ValueError("lantern positions must be finite lon/lat")
        self._caps = np.asarray(capabilities, dtype=bool).reshape(n, len(CAPABILITIES))[order]
        state = {True: 1, False: 0, None: -1}
        self._online = np.fromiter((state[o] for o in online), dtype=np.int8, count=n)[order]
        codes: dict[str, int] = {}
        raw = np.fromiter(
            (-1 if k is None else codes.setdefault(k, len(codes)) for k in street_keys),
            dtype=np.int32,
            count=n,
        )
        self._codes = raw[order]
        names = street_names or {}
        self._street_names = [names.get(k, k) for k in codes]
        by_code = np.argsort(self._codes, kind="stable")
        bounds = np.searchsorted(self._codes[by_code], np.arange(len(codes) + 1))
        self._by_street: dict[str, IntArray] = {
            key: np.sort(by_code[bounds[c] : bounds[c + 1]]) for key, c in codes.items()
        }
        self._points: MetricPoints | None = None
        self.extent: Extent | None = None
        if n:
            self.extent = (
                float(self._lons.min()),
                float(self._lats.min()),
                float(self._lons.max()),
                float(self._lats.max()),
            )
            self._points = MetricPoints(self._lons, self._lats)

    def __len__(self) -> int:
        return len(self._ids)

    def layout(self) -> tuple[list[str], list[str | None], FloatArray, FloatArray]:
        """Every lantern's id, street key and x/y in metres (the index's projection), in index
        order: what the fan-out groups of protocol v2 are built from (``geo/groups.py``)."""
        keys = list(self._by_street)  # in street-code order
        streets = [keys[c] if c >= 0 else None for c in self._codes.tolist()]
        if self._points is None:
            empty = np.zeros(0, dtype=np.float64)
            return [], [], empty, empty
        x, y = self._points.xy()
        return list(self._ids.tolist()), streets, x, y

    def capabilities_by_id(self, ids: Sequence[str]) -> dict[str, frozenset[str]]:
        """What each known lantern can do, from the index (no database round trip)."""
        positions, _unknown = self.positions_of(ids)
        names = list(CAPABILITIES)
        out: dict[str, frozenset[str]] = {}
        for lantern_id, flags in zip(
            self._ids[positions].tolist(), self._caps[positions].tolist(), strict=True
        ):
            out[lantern_id] = frozenset(n for n, on in zip(names, flags, strict=True) if on)
        return out

    def able(self, ids: Sequence[str], capabilities: Sequence[str]) -> dict[str, list[str]]:
        """Per capability, the known ``ids`` that have it, one street's lanterns next to each
        other: the order an alert's delivery rows are written in, so a chunk of them covers
        whole fan-out groups (issue 14). Vectorised: 100,000 lanterns in well under 0.1 s."""
        positions, _unknown = self.positions_of(ids)
        positions = positions[np.argsort(self._codes[positions], kind="stable")]
        out: dict[str, list[str]] = {}
        for name in capabilities:
            column = list(CAPABILITIES).index(name)
            out[name] = self._ids[positions[self._caps[positions, column]]].tolist()
        return out

    def occupied_cells(self, bounds: Extent, cell_m: float = 200.0) -> list[Extent]:
        """The grid cells (about ``cell_m`` on a side, lon/lat boxes) within ``bounds`` that hold
        at least one lantern: where the inventory reaches, for "the part of an area outside the
        inventory" (a bounding box would count a bay or a park between districts as covered)."""
        if not len(self._ids):
            return []
        west, south, east, north = bounds
        inside = (
            (self._lons >= west)
            & (self._lons <= east)
            & (self._lats >= south)
            & (self._lats <= north)
        )
        if not inside.any():
            return []
        mid = math.radians((south + north) / 2)
        dlat = cell_m / 111_320.0
        dlon = cell_m / (111_320.0 * max(math.cos(mid), 0.01))
        cols = np.floor((self._lons[inside] - west) / dlon).astype(np.int64)
        rows = np.floor((self._lats[inside] - south) / dlat).astype(np.int64)
        cells = np.unique(np.stack([cols, rows], axis=1), axis=0)
        return [
            (
                west + int(c) * dlon,
                south + int(r) * dlat,
                west + (int(c) + 1) * dlon,
                south + (int(r) + 1) * dlat,
            )
            for c, r in cells
        ]

    @property
    def projection(self) -> MetricProjection | None:
        """The metric CRS the index measures in (the UTM zone of the inventory's centre)."""
        return None if self._points is None else self._points.projection

    def street_names(self) -> list[str]:
        """The spelling of every street with at least one lantern, sorted."""
        return sorted(self._street_names)

    # ---- resolution -------------------------------------------------------------------------

    def resolve(
        self,
        spec: TargetSpec,
        groups: Groups | None = None,
        *,
        max_lanterns: int = DEFAULT_MAX_LANTERNS,
        loc: Loc = ("target",),
        within: tuple[str, ...] = (),
    ) -> ResolvedTarget:
        """The lanterns ``spec`` reaches, refusing an empty or too large result unless allowed.

        ``within`` names groups being defined, so a definition that reaches itself is a cycle.
        """
        positions = self.resolve_positions(
            spec, groups, max_lanterns=max_lanterns, loc=loc, within=within
        )
        return ResolvedTarget(self.ids_at(positions), self.streets_at(positions))

    def resolve_positions(
        self,
        spec: TargetSpec,
        groups: Groups | None = None,
        *,
        max_lanterns: int = DEFAULT_MAX_LANTERNS,
        loc: Loc = ("target",),
        within: tuple[str, ...] = (),
    ) -> IntArray:
        """``resolve`` as index positions, for callers that summarise the result."""
        positions = self.select(spec, groups or {}, loc=loc, within=within)
        if not len(positions) and not spec.allow_empty:
            raise InvalidRequest.at(loc, "no lanterns in target")
        if len(positions) > max_lanterns and not spec.confirm_large:
            raise InvalidRequest.at(
                loc,
                f"the target reaches {len(positions)} lanterns, more than the ceiling of "
                f'{max_lanterns}; send "confirm_large": true to go ahead',
                len(positions),
            )
        return positions

    def select(
        self,
        spec: TargetSpec,
        groups: Groups,
        *,
        loc: Loc = ("target",),
        within: tuple[str, ...] = (),
        repair: bool = False,
    ) -> IntArray:
        """Sorted index positions of the union of the selectors minus ``exclude`` (no ceiling)."""
        if spec.is_empty():
            what = "exclude" if loc and loc[-1] == "exclude" else "target"
            raise InvalidRequest.at(loc, f"{what} is empty: give {_SELECTORS}")
        repair = repair or spec.repair
        problems: list[FieldProblem] = []
        parts: list[IntArray] = []

        for selector in ("lanterns", "groups", "streets", "area", "circle", "route"):
            value = getattr(spec, selector)
            if value is None or value == ():
                continue
            where = (*loc, selector)
            try:
                if selector == "lanterns":
                    parts.append(self._lanterns(value, where))
                elif selector == "groups":
                    parts.append(self._groups(value, groups, where, within, repair))
                elif selector == "streets":
                    parts.append(self._streets(value, where))
                elif selector == "area":
                    parts.append(self._area(value, where, repair))
                elif selector == "circle":
                    parts.append(self._circle(value, where))
                else:
                    parts.append(self._route(value, where))
            except InvalidRequest as exc:  # every selector's mistakes at once
                problems.extend(exc.problems)
        excluded = _EMPTY
        if spec.exclude is not None:
            try:
                excluded = self.select(
                    spec.exclude, groups, loc=(*loc, "exclude"), within=within, repair=repair
                )
            except InvalidRequest as exc:
                problems.extend(exc.problems)
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        chosen = np.unique(np.concatenate(parts)).astype(np.intp)
        return np.setdiff1d(chosen, excluded, assume_unique=True).astype(np.intp)

    def positions_of(self, ids: Sequence[str]) -> tuple[IntArray, list[int]]:
        """Index positions of the known ``ids``, and the indices into ``ids`` of unknown ones."""
        if not len(self._ids) or not len(ids):
            return _EMPTY, list(range(len(ids)))
        query = np.asarray(list(ids), dtype=object)
        pos = np.minimum(np.searchsorted(self._ids, query), len(self._ids) - 1)
        found = np.asarray(self._ids[pos] == query, dtype=bool)
        return pos[found].astype(np.intp), np.flatnonzero(~found).tolist()

    def ids_at(self, positions: IntArray) -> tuple[str, ...]:
        return tuple(self._ids[positions].tolist())

    def streets_at(self, positions: IntArray) -> tuple[str, ...]:
        """Streets the lanterns at ``positions`` stand on, most lanterns first."""
        return tuple(name for name, _n in self.street_counts(positions))

    def street_counts(self, positions: IntArray) -> list[tuple[str, int]]:
        codes = self._codes[positions]
        counts = np.bincount(codes[codes >= 0], minlength=len(self._street_names))
        found = [(self._street_names[c], int(counts[c])) for c in np.flatnonzero(counts)]
        return sorted(found, key=lambda item: (-item[1], item[0]))

    def _lanterns(self, ids: Sequence[str], loc: Loc) -> IntArray:
        positions, unknown = self.positions_of(ids)
        if unknown:
            problems = [FieldProblem((*loc, i), "unknown lantern id", ids[i]) for i in unknown]
            raise InvalidRequest(summarise(problems), problems)
        return positions

    def _streets(self, names: Sequence[str], loc: Loc) -> IntArray:
        problems: list[FieldProblem] = []
        parts: list[IntArray] = [_EMPTY]
        for i, name in enumerate(names):
            found = self._by_street.get(normalize_street_name(name))
            if found is None:
                problems.append(
                    FieldProblem(
                        (*loc, i),
                        "no lantern stands on a street of this name",
                        name,
                        tuple(suggest(name, self._street_names)),
                    )
                )
            else:
                parts.append(found)
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        return np.concatenate(parts)

    def _groups(
        self, names: Sequence[str], groups: Groups, loc: Loc, within: tuple[str, ...], repair: bool
    ) -> IntArray:
        problems: list[FieldProblem] = []
        parts: list[IntArray] = [_EMPTY]
        for i, name in enumerate(names):
            definition = groups.get(name)
            if name in within:
                cycle = " → ".join((*within[within.index(name) :], name))
                problems.append(FieldProblem((*loc, i), f"group cycle: {cycle}", name))
            elif definition is None:
                close = tuple(difflib.get_close_matches(name, list(groups), n=5, cutoff=0.6))
                problems.append(FieldProblem((*loc, i), "unknown group", name, close))
            elif definition.target is None:
                positions, missing = self.positions_of(definition.lanterns)
                if missing:  # lanterns leave the inventory; the rest of the group still counts
                    log.warning("group %s: %d lanterns no longer exist", name, len(missing))
                parts.append(positions)
            else:
                try:
                    parts.append(
                        self.select(
                            definition.target,
                            groups,
                            loc=(*loc, i),
                            within=(*within, name),
                            repair=repair,
                        )
                    )
                except InvalidRequest as exc:
                    problems.extend(exc.problems)
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        return np.concatenate(parts)

    def _area(self, data: Any, loc: Loc, repair: bool) -> IntArray:
        shape = area_lonlat(data, loc, repair)
        check_not_swapped(shape.bounds, self.extent, loc)
        return _EMPTY if self._points is None else self._points.in_area(shape)

    def _circle(self, circle: Circle, loc: Loc) -> IntArray:
        lon, lat = check_lonlat(circle.lon, circle.lat, loc, "the centre")
        radius = check_distance(circle.radius_m, (*loc, "radius_m"), "radius")
        check_not_swapped((lon, lat, lon, lat), self.extent, loc)
        return _EMPTY if self._points is None else self._points.in_circle(lon, lat, radius)

    def _route(self, route: Route, loc: Loc) -> IntArray:
        problems: list[FieldProblem] = []
        line = width = None
        try:
            line = line_lonlat(route.line, (*loc, "line"))
            check_not_swapped(line.bounds, self.extent, (*loc, "line"))
        except InvalidRequest as exc:
            problems += exc.problems
        try:
            width = check_distance(route.width_m, (*loc, "width_m"), "width")
        except InvalidRequest as exc:
            problems += exc.problems
        if problems or line is None or width is None:
            raise InvalidRequest(summarise(problems), problems)
        check_corridor(line, width, loc)
        return _EMPTY if self._points is None else self._points.near_line(line, width)

    # ---- what a preview shows ----------------------------------------------------------------

    def capability_counts(self, positions: IntArray) -> dict[str, int]:
        counts = self._caps[positions].sum(axis=0)
        return {name: int(counts[i]) for i, name in enumerate(CAPABILITIES)}

    def features(
        self, positions: IntArray, online: Mapping[str, bool | None] | None = None
    ) -> dict[str, Any]:
        """A GeoJSON FeatureCollection of the lanterns at ``positions`` (for a map); ``online``
        overrides the availability the index was built with."""
        built = {1: True, 0: False, -1: None}
        features = []
        for lantern_id, lon, lat, code, caps, state in zip(
            self._ids[positions].tolist(),
            self._lons[positions].tolist(),
            self._lats[positions].tolist(),
            self._codes[positions].tolist(),
            self._caps[positions].tolist(),
            self._online[positions].tolist(),
            strict=True,
        ):
            features.append(
                {
                    "type": "Feature",
                    "id": lantern_id,
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {
                        "street": self._street_names[code] if code >= 0 else None,
                        "capabilities": [c for c, on in zip(CAPABILITIES, caps, strict=True) if on],
                        "online": built[state] if online is None else online.get(lantern_id),
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}
