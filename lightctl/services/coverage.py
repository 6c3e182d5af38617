"""Acoustic coverage of the inventory: the model built once per inventory, streets and
buildings version (in the background when they change), and what a preview, an alert or a
planner asks of it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.ops import substring

from lightctl.acoustics.matrix import Progress
from lightctl.acoustics.planning import (
    Suggestion,
    next_speakers,
)
from lightctl.acoustics.propagation import SourceSpec, check_level
from lightctl.acoustics.rating import (
    AUDIBLE,
    INTELLIGIBLE,
    NOT_COVERED,
    Coverage,
    Gap,
    echo_risk,
    find_gaps,
    rate,
    received_levels,
)
from lightctl.geo import buildings as building_files
from lightctl.geo import noise as noise_files
from lightctl.geo.crs import MetricProjection
from lightctl.protocol import LanternState
from lightctl.services import speaker_specs
from lightctl.services.coverage_model import CoverageModel, ModelKey, ambient_of, assemble
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store

__all__ = ["CoverageModel", "CoverageReport", "CoverageService", "ModelKey", "assemble"]

log = logging.getLogger(__name__)

# Gaps listed in a report (longest first); the count says how many there are in all.
MAX_GAPS = 50
# A lantern's nearest street segment counts as targeted within this distance (the inventory's
# street assignment uses 30 m too).
NEAREST_SEGMENT_M = 30.0
# Above this many matrix entries a report skips the echo check (it sorts every entry): a
# city-wide run at 100,000 lanterns stays within its second.
ECHO_MAX_ENTRIES = 5_000_000


@dataclass(frozen=True, slots=True)
class GapReport:
    street: str | None
    segment_id: str
    from_m: float
    to_m: float
    length_m: float
    lon: float
    lat: float
    coordinates: list[list[float]]


@dataclass(frozen=True, slots=True)
class SuggestionReport:
    lon: float
    lat: float
    street: str | None
    segment_id: str
    newly_covered_m: float


SegmentRow = tuple[
    str, str | None, str, list[list[float]], float, float, float, float, float, float
]


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Shares of the rated street length, by day (the figures) and by night."""

    shares: dict[str, float]
    night: dict[str, float]
    echo_risk: float | None
    length_m: float
    speakers: int
    broken_speakers: int
    gaps: list[GapReport]
    gap_count: int
    # id, name, class, lon/lat line, then metres intelligible, audible, not covered by day and
    # the same three by night
    segments: list[SegmentRow]
    warnings: list[str]
    matrix: dict[str, float | int | bool | str]
    suggestions: list[SuggestionReport] = field(default_factory=list)


class CoverageService:
    """Owns the coverage model; ``start`` builds it in a thread, a changed key rebuilds it there
    while reports go on with the previous one (flagged ``stale``)."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        source: SourceSpec,
        spacing_m: float,
        radius_m: float,
        facade_cap_db: float,
        reported: Callable[[str], LanternState | None],
    ) -> None:
        self._db = db
        self._data_dir = data_dir
        self._source = source
        self._spacing_m = spacing_m
        self._radius_m = radius_m
        self._facade_cap_db = facade_cap_db
        self._reported = reported
        self._model: CoverageModel | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.progress: tuple[int, int] = (0, 0)

    # ---- the model ---------------------------------------------------------------------------

    def key(self) -> ModelKey:
        with self._db.session() as session:
            inventory = lantern_store.inventory_version(session)
            streets = lantern_store.street_segments_fingerprint(session)
        return ModelKey(
            inventory,
            streets,
            building_files.stored_version(self._data_dir),
            speaker_specs.specs_version(self._data_dir),
            self._source,
            self._spacing_m,
            self._radius_m,
            self._facade_cap_db,
            noise_files.stored_version(self._data_dir),
        )

    def start(self) -> None:
        """Build the first model in the background (a preview meanwhile says it is not ready)."""
        self._rebuild_in_background(self.key())

    def refresh(self) -> CoverageModel:
        """The model for the current key, built now if it moved (tests, the CLI, benchmarks)."""
        key = self.key()
        current = self._model
        if current is not None and current.key == key:
            return current
        with self._lock:
            current = self._model
            if current is not None and current.key == key:
                return current
            model = self.build(key)
            self._model = model
            return model

    def remember(self, model: CoverageModel) -> None:
        """Use a model built outside (the CLI shows the build's progress)."""
        self._model = model

    def current(self) -> tuple[CoverageModel | None, bool]:
        """(model, stale): the latest model, and whether a newer one is being built."""
        key = self.key()
        model = self._model
        if model is not None and model.key == key:
            return model, False
        self._rebuild_in_background(key)
        return model, True

    def _rebuild_in_background(self, key: ModelKey) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return

        def run() -> None:
            with self._lock:
                model = self._model
                if model is not None and model.key == key:
                    return
                try:
                    self._model = self.build(key)
                except Exception:  # the next report asks again; a broken file must not loop
                    log.exception("coverage model build failed")

        self._thread = threading.Thread(target=run, name="coverage-build", daemon=True)
        self._thread.start()

    def wait(self, timeout_s: float = 60.0) -> None:
        """Let a background build finish (tests, the CLI)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def build(self, key: ModelKey, progress: Progress | None = None) -> CoverageModel:
        started = time.perf_counter()
        current = self._model
        if current is not None and replace(current.key, noise=key.noise) == key:
            # Only the noise map moved: the ambient changes, the matrix does not.
            noise = noise_files.load_noise_map(self._data_dir)
            day, night, mapped = ambient_of(current.segment_classes, current.segment_mids, noise)
            log.info("coverage model: new noise map, %d segments from it", mapped)
            return replace(
                current,
                key=key,
                ambient_day_db=day,
                ambient_night_db=night,
                noise_mapped=mapped,
            )
        with self._db.session() as session:
            rows = lantern_store.index_rows(session)
            segments = lantern_store.all_street_segments(session)
        footprints = building_files.load_footprints(self._data_dir)
        model = assemble(
            key,
            rows.ids,
            np.asarray(rows.lons),
            np.asarray(rows.lats),
            np.asarray([c[0] for c in rows.capabilities], dtype=bool),
            rows.street_keys,
            segments,
            footprints.polygons,
            self._source,
            self._spacing_m,
            self._radius_m,
            self._facade_cap_db,
            progress or self._progress,
            speaker_specs.load_speaker_specs(self._data_dir),
            noise_files.load_noise_map(self._data_dir),
        )
        model.built_s = time.perf_counter() - started
        log.info(
            "coverage model built: %d lanterns, %d receivers, %d entries in %.2f s",
            len(model.ids),
            len(model.receivers),
            model.matrix.gain.nnz,
            model.built_s,
        )
        return model

    def _progress(self, done: int, total: int) -> None:
        self.progress = (done, total)

    # ---- reports -----------------------------------------------------------------------------

    def for_lanterns(
        self, lantern_ids: Sequence[str], only: Collection[str] | None = None
    ) -> CoverageReport:
        """Coverage of the streets ``lantern_ids`` stand on, by the working speakers among
        them (``only``: of those, just the lanterns that confirmed playing)."""
        model, stale = self.current()
        if model is None:
            return _not_ready(self.progress)
        positions = self._positions(model, lantern_ids)
        segments = self._segments_of(model, positions)
        playing = (
            positions
            if only is None
            else self._positions(model, [i for i in lantern_ids if i in only])
        )
        return self._report(model, playing, segments, stale, confirmed=only is not None)

    def _positions(self, model: CoverageModel, lantern_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        found = np.fromiter(
            (model.position.get(i, -1) for i in lantern_ids), dtype=np.int64, count=len(lantern_ids)
        )
        return found[found >= 0]

    def citywide(self, suggestions: int = 5, level_db: float | None = None) -> CoverageReport:
        """Every street by every working speaker; ``level_db`` plays them all at that level
        (still held to the façade cap) to see what a louder or quieter setting would do."""
        model, stale = self.current()
        if model is None:
            return _not_ready(self.progress)
        every = np.arange(len(model.ids), dtype=np.int64)
        segments = np.arange(len(model.segment_ids), dtype=np.int64)
        if level_db is not None:
            check_level(level_db, ("level_db",))
            model = replace(model, levels_db=np.minimum(level_db, model.facade_allowed_db))
        return self._report(
            model, every, segments, stale, suggestions=suggestions, with_segments=True
        )

    def _segments_of(
        self, model: CoverageModel, positions: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Segments of the targeted lanterns' streets, and each lantern's nearest segment."""
        found: set[int] = set()
        for key in {model.street_keys[p] for p in positions.tolist()}:
            if key:
                found.update(model.segments_by_key.get(key, ()))
        if model.tree is not None and len(positions):
            xy = np.column_stack([model.x[positions], model.y[positions]])
            dist, nearest = model.tree.query(xy, distance_upper_bound=NEAREST_SEGMENT_M)
            hit = np.isfinite(dist)
            found.update(np.unique(model.receivers.segment[nearest[hit]]).tolist())
        return np.array(sorted(found), dtype=np.int64)

    def working(
        self, model: CoverageModel, positions: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], int]:
        """The positions whose speaker works: fitted, and not reported broken."""
        fitted = positions[model.has_speaker[positions]]
        keep = np.ones(len(fitted), dtype=bool)
        for n, p in enumerate(fitted):
            state = self._reported(str(model.ids[p]))
            if state is not None and (
                "speaker" in state.broken
                or (state.capabilities and "speaker" not in state.capabilities)
            ):
                keep[n] = False
        return fitted[keep], int((~keep).sum())

    def _report(
        self,
        model: CoverageModel,
        positions: npt.NDArray[np.int64],
        segments: npt.NDArray[np.int64],
        stale: bool,
        confirmed: bool = False,
        suggestions: int = 0,
        with_segments: bool = False,
    ) -> CoverageReport:
        warnings: list[str] = []
        if stale:
            warnings.append(
                "the inventory changed: this coverage is of the previous version (rebuilding)"
            )
        if not model.segment_ids:
            warnings.append(
                "no street segments are imported: nothing to rate (lightctl streets import)"
            )
        speakers, broken = self.working(model, positions)
        if len(speakers) == 0:
            if confirmed:
                why = "no lantern confirmed playing"
            elif len(positions) == 0:
                why = "no lanterns"
            elif not model.has_speaker[positions].any():
                why = "none of these lanterns has a speaker"
            else:
                why = "no lantern has a working speaker"
            warnings.append(f"{why}: every street is not covered")
        if broken:
            warnings.append(f"{broken} speaker(s) reported broken are left out")
        levels = np.full(len(model.ids), np.nan)
        levels[speakers] = model.levels_db[speakers]
        at_all = received_levels(model.matrix, levels)
        pts = model.receivers.of_segments(segments)
        at = at_all[pts]
        seg_of = model.receivers.segment[pts]
        day_ambient, night_ambient = model.ambient_day_db, model.ambient_night_db
        day = rate(at, day_ambient[seg_of]) if len(pts) else np.zeros(0, np.int8)
        night = rate(at, night_ambient[seg_of]) if len(pts) else np.zeros(0, np.int8)
        lengths = model.receivers.length_m[pts]
        total = float(lengths.sum())
        entries = int(np.diff(model.matrix.gain.indptr)[speakers].sum()) if len(speakers) else 0
        echo_share: float | None = None
        echo = np.zeros(len(pts), dtype=bool)
        if entries <= ECHO_MAX_ENTRIES:
            echo = echo_risk(model.matrix, levels)[pts]
            echo_share = float(lengths[echo].sum() / total) if total > 0 else 0.0
        else:
            warnings.append("echo risk not checked for this many speakers")
        coverage = Coverage(
            segments, pts, at, day, echo, lengths, find_gaps(model.receivers, pts, day)
        )
        gaps = [self._gap(model, g) for g in coverage.gaps[:MAX_GAPS]]
        rows = []
        if with_segments and len(segments):
            per = coverage.segment_lengths(model.receivers)
            by_night = replace(coverage, rating=night).segment_lengths(model.receivers)
            for s, (bad, audible, good, _echo), (bad_n, audible_n, good_n, _) in zip(
                segments, per, by_night, strict=True
            ):
                rows.append(
                    (
                        model.segment_ids[s],
                        model.segment_names[s],
                        model.segment_classes[s],
                        self._lonlat(model, model.lines[s]),
                        float(good),
                        float(audible),
                        float(bad),
                        float(good_n),
                        float(audible_n),
                        float(bad_n),
                    )
                )
        picks: list[SuggestionReport] = []
        if suggestions and len(pts):
            found = next_speakers(
                model.receivers,
                at_all,
                day_ambient[model.receivers.segment],
                pts,
                model.buildings,
                self._source.level_db,
                self._source.height_m,
                count=suggestions,
            )
            picks = [self._suggestion(model, s) for s in found]
        return CoverageReport(
            shares=_shares(day, lengths),
            night=_shares(night, lengths),
            echo_risk=echo_share,
            length_m=total,
            speakers=len(speakers),
            broken_speakers=broken,
            gaps=gaps,
            gap_count=len(coverage.gaps),
            segments=rows,
            warnings=warnings,
            matrix={
                "stale": stale,
                "lanterns": len(model.ids),
                "receivers": len(model.receivers),
                "entries": int(model.matrix.gain.nnz),
                "blocked_pairs": model.matrix.blocked_pairs,
                "buildings": len(model.buildings),
                "noise_mapped_segments": model.noise_mapped,
                "built_s": round(model.built_s, 3),
            },
            suggestions=picks,
        )

    def _lonlat(self, model: CoverageModel, line: shapely.Geometry) -> list[list[float]]:
        coords = shapely.get_coordinates(line)
        lons, lats = _projection(model).to_lonlat(coords[:, 0], coords[:, 1])
        return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lons, lats, strict=True)]

    def _gap(self, model: CoverageModel, gap: Gap) -> GapReport:
        line = model.lines[gap.segment]
        part = substring(line, gap.from_m, gap.to_m)
        coords = self._lonlat(model, part if part.geom_type == "LineString" else line)
        mid = line.interpolate((gap.from_m + gap.to_m) / 2.0)
        lon, lat = _projection(model).to_lonlat([mid.x], [mid.y])
        return GapReport(
            street=model.segment_names[gap.segment],
            segment_id=model.segment_ids[gap.segment],
            from_m=round(gap.from_m, 1),
            to_m=round(gap.to_m, 1),
            length_m=round(gap.length_m, 1),
            lon=round(float(lon[0]), 7),
            lat=round(float(lat[0]), 7),
            coordinates=coords,
        )

    def _suggestion(self, model: CoverageModel, s: Suggestion) -> SuggestionReport:
        lon, lat = _projection(model).to_lonlat([s.x], [s.y])
        seg = int(model.receivers.segment[s.receiver])
        return SuggestionReport(
            lon=round(float(lon[0]), 7),
            lat=round(float(lat[0]), 7),
            street=model.segment_names[seg],
            segment_id=model.segment_ids[seg],
            newly_covered_m=round(s.newly_covered_m, 1),
        )


def _projection(model: CoverageModel) -> MetricProjection:
    """The model's metric CRS; only a model with neither lanterns nor streets has none, and it
    has no gaps or suggestions to place."""
    if model.projection is None:
        raise RuntimeError("coverage model without a projection")
    return model.projection


def _shares(ratings: npt.NDArray[np.int8], lengths: npt.NDArray[np.float64]) -> dict[str, float]:
    total = float(lengths.sum())
    out = {}
    for name, code in (
        ("intelligible", INTELLIGIBLE),
        ("audible", AUDIBLE),
        ("not_covered", NOT_COVERED),
    ):
        out[name] = round(float(lengths[ratings == code].sum() / total), 4) if total > 0 else 0.0
    return out


def _not_ready(progress: tuple[int, int]) -> CoverageReport:
    done, total = progress
    return CoverageReport(
        shares={"intelligible": 0.0, "audible": 0.0, "not_covered": 0.0},
        night={"intelligible": 0.0, "audible": 0.0, "not_covered": 0.0},
        echo_risk=None,
        length_m=0.0,
        speakers=0,
        broken_speakers=0,
        gaps=[],
        gap_count=0,
        segments=[],
        warnings=[
            f"the coverage model is being built ({done} of {total} lanterns): try again shortly"
        ],
        matrix={"stale": True, "lanterns": total, "receivers": 0, "entries": 0},
    )
