"""The coverage model of one inventory version: everything projected into one metric CRS, the
listener points, the sparse lantern -> listener matrix and the ambient per street segment, built
together so that no report mixes two versions."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

from lightctl.acoustics.matrix import AttenuationMatrix, Progress, Sources, build_matrix
from lightctl.acoustics.planning import (
    DEFAULT_FACADE_DISTANCE_M,
    facade_capped,
    facade_distances,
)
from lightctl.acoustics.propagation import Propagation, SourceSpec
from lightctl.acoustics.rating import ambient_by_segment
from lightctl.acoustics.receivers import Receivers, check_spacing, place_receivers
from lightctl.geo import noise as noise_files
from lightctl.geo.crs import MetricProjection
from lightctl.geo.names import normalize_street_name

__all__ = ["CoverageModel", "ModelKey", "ambient_of", "assemble"]


@dataclass(frozen=True, slots=True)
class ModelKey:
    inventory: int
    streets: tuple[int, int, int]
    buildings: str
    speakers: str  # version of the per-lantern speaker file ("" when none)
    source: SourceSpec
    spacing_m: float
    radius_m: float
    facade_cap_db: float
    noise: str = ""  # version of the imported noise map ("" when none)


@dataclass(slots=True)
class CoverageModel:
    """Everything a report needs, built together so that none mixes two versions."""

    key: ModelKey
    projection: MetricProjection | None
    ids: npt.NDArray[np.object_]
    position: dict[str, int]
    street_keys: list[str | None]  # per lantern
    x: npt.NDArray[np.float64]  # per lantern, metres
    y: npt.NDArray[np.float64]
    has_speaker: npt.NDArray[np.bool_]
    levels_db: npt.NDArray[np.float64]  # per lantern, façade-capped
    facade_allowed_db: npt.NDArray[np.float64]  # per lantern: the most the façade cap allows
    receivers: Receivers
    segment_ids: list[str]
    segment_names: list[str | None]
    segment_classes: list[str]
    segments_by_key: dict[str, list[int]]
    ambient_day_db: npt.NDArray[np.float64]  # per segment: noise map where it says, else class
    ambient_night_db: npt.NDArray[np.float64]
    noise_mapped: int  # segments whose ambient comes from the noise map
    segment_mids: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]  # lon, lat per segment
    lines: list[shapely.Geometry]  # metric
    matrix: AttenuationMatrix
    buildings: list[shapely.Geometry]  # metric
    tree: cKDTree | None
    built_s: float
    built_at: float = field(default_factory=time.time)


def assemble(
    key: ModelKey,
    ids: Sequence[str],
    lons: npt.NDArray[np.float64],
    lats: npt.NDArray[np.float64],
    has_speaker: npt.NDArray[np.bool_],
    street_keys: Sequence[str | None],
    segments: Sequence[tuple[str, str | None, str, list[list[float]]]],
    footprints_lonlat: Sequence[shapely.Geometry],
    source: SourceSpec,
    spacing_m: float,
    radius_m: float,
    facade_cap_db: float,
    progress: Progress | None = None,
    specs: Mapping[str, SourceSpec] | None = None,
    noise: noise_files.NoiseMap | None = None,
) -> CoverageModel:
    """Project everything into one metric CRS and build the receivers and the matrix;
    ``specs`` gives lanterns their own level, height and beam (the rest use ``source``),
    ``noise`` the ambient level where a noise map covers a segment's midpoint."""
    check_spacing(spacing_m)
    seg_lons = np.array([c[0] for s in segments for c in s[3]], dtype=np.float64)
    seg_lats = np.array([c[1] for s in segments for c in s[3]], dtype=np.float64)
    all_lons = np.concatenate([lons, seg_lons])
    all_lats = np.concatenate([lats, seg_lats])
    projection = MetricProjection.for_extent(all_lons, all_lats) if len(all_lons) else None
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    sorted_ids = np.asarray(ids, dtype=object)[order]
    xs = ys = np.zeros(0)
    if projection is not None and len(ids):
        xs, ys = projection.to_xy(lons[order], lats[order])
    lines_xy: list[npt.NDArray[np.float64]] = []
    if projection is not None and len(seg_lons):
        sx, sy = projection.to_xy(seg_lons, seg_lats)
        cut = np.cumsum([len(s[3]) for s in segments])[:-1]
        lines_xy = [
            np.column_stack(p) for p in zip(np.split(sx, cut), np.split(sy, cut), strict=True)
        ]
    receivers = place_receivers(lines_xy, spacing_m)
    buildings: list[shapely.Geometry] = []
    if projection is not None and footprints_lonlat:
        proj = projection
        # One transform call projects every footprint's coordinates together.
        projected = shapely.transform(
            np.asarray(list(footprints_lonlat), dtype=object),
            lambda c: np.column_stack(proj.to_xy(c[:, 0], c[:, 1])),
        )
        buildings = list(projected)
    model = Propagation()
    own = [(specs or {}).get(str(i), source) for i in sorted_ids]
    heights = np.array([s.height_m for s in own], dtype=np.float64)
    nan = float("nan")
    sources = Sources(
        xs,
        ys,
        heights,
        np.array([nan if s.heading_deg is None else s.heading_deg for s in own], dtype=np.float64),
        np.array([nan if s.beam_deg is None else s.beam_deg for s in own], dtype=np.float64),
        source.off_axis_db,
    )
    matrix = build_matrix(sources, receivers, buildings, model, radius_m, progress)
    facade = facade_distances(xs, ys, buildings, DEFAULT_FACADE_DISTANCE_M)
    allowed = facade_capped(np.full(len(xs), np.inf), facade, heights, facade_cap_db)
    levels = np.minimum(np.array([s.level_db for s in own], dtype=np.float64), allowed)
    by_key: dict[str, list[int]] = {}
    keys: dict[str, str] = {}  # a street has many segments: normalise each name once
    for n, seg in enumerate(segments):
        if seg[1]:
            street = keys.get(seg[1])
            if street is None:
                street = keys[seg[1]] = normalize_street_name(seg[1])
            by_key.setdefault(street, []).append(n)
    tree = cKDTree(np.column_stack([receivers.x, receivers.y])) if len(receivers) else None
    mids = _midpoints(segments)
    day, night, mapped = ambient_of([seg[2] for seg in segments], mids, noise)
    return CoverageModel(
        key=key,
        projection=projection,
        ids=sorted_ids,
        position={str(i): n for n, i in enumerate(sorted_ids)},
        street_keys=[street_keys[k] for k in order.tolist()],
        x=xs,
        y=ys,
        has_speaker=np.asarray(has_speaker, dtype=bool)[order],
        levels_db=levels,
        facade_allowed_db=allowed,
        receivers=receivers,
        segment_ids=[s[0] for s in segments],
        segment_names=[s[1] for s in segments],
        segment_classes=[s[2] for s in segments],
        segments_by_key=by_key,
        ambient_day_db=day,
        ambient_night_db=night,
        noise_mapped=mapped,
        segment_mids=mids,
        lines=_lines(lines_xy),
        matrix=matrix,
        buildings=buildings,
        tree=tree,
        built_s=0.0,
    )


def _midpoints(
    segments: Sequence[tuple[str, str | None, str, list[list[float]]]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Lon and lat of each segment's midpoint along its line (its only vertex if it has one)."""
    mids = [
        shapely.LineString(s[3]).interpolate(0.5, normalized=True)
        if len(s[3]) > 1
        else shapely.Point(s[3][0])
        for s in segments
    ]
    return np.array([m.x for m in mids], dtype=float), np.array([m.y for m in mids], dtype=float)


def ambient_of(
    classes: Sequence[str],
    mids: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    noise: noise_files.NoiseMap | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
    """Day and night ambient per segment: the street-class default, replaced where the noise
    map holds the segment's midpoint (Lden by day, Lnight by night); and how many it replaced."""
    day = ambient_by_segment(classes, night=False)
    night = ambient_by_segment(classes, night=True)
    if noise is None or not len(noise) or not len(classes):
        return day, night, 0
    mapped_day, mapped_night = noise_files.ambient_from_map(mids, noise)
    day = np.where(np.isfinite(mapped_day), mapped_day, day)
    night = np.where(np.isfinite(mapped_night), mapped_night, night)
    return day, night, int((np.isfinite(mapped_day) | np.isfinite(mapped_night)).sum())


def _lines(lines_xy: Sequence[npt.NDArray[np.float64]]) -> list[shapely.Geometry]:
    """Every segment as a metric LineString, made in one call (a one-vertex segment as a line
    from that vertex to itself)."""
    if not lines_xy:
        return []
    parts = [v if len(v) > 1 else np.vstack([v[0], v[0]]) for v in lines_xy]
    counts = np.array([len(v) for v in parts])
    made = shapely.linestrings(np.vstack(parts), indices=np.repeat(np.arange(len(parts)), counts))
    return list(made)
