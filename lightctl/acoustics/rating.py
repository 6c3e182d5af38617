"""Rate the streets: intelligible, audible or not covered, and where late arrivals blur speech.

- intelligible: level >= ambient + 10 dB (voice-alarm practice, NFPA 72 / IEC 60268-16);
- audible: ambient + 5 to + 10 dB (a tone is noticed, words are lost);
- not covered: below ambient + 5 dB.
Echo risk: among the arrivals within 10 dB of the loudest, the last comes more than 50 ms after
the first (the ear fuses later sound only within about 50 ms).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lightctl.acoustics.matrix import AttenuationMatrix
from lightctl.acoustics.receivers import Receivers
from lightctl.errors import InvalidRequest

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

INTELLIGIBLE_MARGIN_DB = 10.0
AUDIBLE_MARGIN_DB = 5.0
ECHO_DELAY_S = 0.050
ECHO_WITHIN_DB = 10.0
NOT_COVERED, AUDIBLE, INTELLIGIBLE = 0, 1, 2
RATINGS = ("not_covered", "audible", "intelligible")

# Typical A-weighted ambient, day / night (LAeq, dB(A)), by street class: busy roads carry
# traffic noise (WHO / EU noise maps put arterials at 65-75 by day), side streets are quiet.
AMBIENT_DB: dict[str, tuple[float, float]] = {
    "arterial": (70.0, 60.0),
    "collector": (65.0, 55.0),
    "residential": (55.0, 45.0),
    "pedestrian": (60.0, 48.0),
}
# Overture / OpenStreetMap road classes to the four ambient classes.
STREET_CLASS: dict[str, str] = {
    "motorway": "arterial",
    "trunk": "arterial",
    "primary": "arterial",
    "secondary": "collector",
    "tertiary": "collector",
    "unclassified": "residential",
    "residential": "residential",
    "living_street": "residential",
    "service": "residential",
    "pedestrian": "pedestrian",
    "footway": "pedestrian",
    "path": "pedestrian",
    "steps": "pedestrian",
    "cycleway": "pedestrian",
}


def street_class(road_class: str) -> str:
    """The ambient class of a road class (residential when unknown)."""
    key = (road_class or "").strip().lower()
    return key if key in AMBIENT_DB else STREET_CLASS.get(key, "residential")


def ambient_by_segment(
    road_classes: Sequence[str],
    night: bool,
    table: Mapping[str, tuple[float, float]] = AMBIENT_DB,
    measured: Mapping[int, float] | None = None,
) -> FloatArray:
    """Ambient level per segment: an imported noise-map value where given, else by class."""
    out = np.array([table[street_class(c)][1 if night else 0] for c in road_classes], dtype=float)
    for segment, level in (measured or {}).items():
        if not np.isfinite(level) or not 20.0 <= level <= 100.0:
            raise InvalidRequest.at(
                ("noise_map", segment), "ambient must be 20 to 100 dB(A)", level
            )
        out[segment] = level
    return out


def received_levels(matrix: AttenuationMatrix, levels_db: npt.ArrayLike) -> FloatArray:
    """Level at every receiver, dB(A), from lanterns playing at ``levels_db`` (NaN or -inf:
    silent); -inf where nothing reaches."""
    levels = np.asarray(levels_db, dtype=np.float64)
    active = np.flatnonzero(np.isfinite(levels))
    if active.size == 0:
        return np.full(matrix.shape[1], -np.inf)
    if active.size * 5 > len(levels):
        # Many lanterns: one product with the whole matrix (no copy of its rows) is cheaper.
        power = np.where(np.isfinite(levels), 10.0 ** (np.nan_to_num(levels, nan=0.0) / 10.0), 0.0)
        energy = matrix.gain.T @ power
    else:
        energy = matrix.gain[active].T @ (10.0 ** (levels[active] / 10.0))
    with np.errstate(divide="ignore"):
        return np.asarray(10.0 * np.log10(energy), dtype=np.float64)


def echo_risk(matrix: AttenuationMatrix, levels_db: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Per receiver: a significant arrival more than 50 ms after the first significant one."""
    levels = np.asarray(levels_db, dtype=np.float64)
    active = np.flatnonzero(np.isfinite(levels))
    m = matrix.shape[1]
    if active.size < 2:
        return np.zeros(m, dtype=bool)
    indptr = matrix.gain.indptr
    starts, ends = indptr[active], indptr[active + 1]
    counts = ends - starts
    entries = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    cols = matrix.gain.indices[entries]
    lvl = np.repeat(levels[active], counts) + 10.0 * np.log10(matrix.gain.data[entries])
    delay = matrix.delay_s[entries].astype(np.float64)
    loudest = np.full(m, -np.inf)
    np.maximum.at(loudest, cols, lvl)
    significant = lvl >= loudest[cols] - ECHO_WITHIN_DB
    first = np.full(m, np.inf)
    last = np.full(m, -np.inf)
    np.minimum.at(first, cols[significant], delay[significant])
    np.maximum.at(last, cols[significant], delay[significant])
    return np.asarray((last - first) > ECHO_DELAY_S)


def rate(levels_at: FloatArray, ambient_at: FloatArray) -> npt.NDArray[np.int8]:
    margin = levels_at - ambient_at
    out = np.full(len(margin), NOT_COVERED, dtype=np.int8)
    out[margin >= AUDIBLE_MARGIN_DB] = AUDIBLE
    out[margin >= INTELLIGIBLE_MARGIN_DB] = INTELLIGIBLE
    return out


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of not-covered receivers along one segment, in metres from its start."""

    segment: int
    from_m: float
    to_m: float
    first: int  # receiver positions [first, last]
    last: int

    @property
    def length_m(self) -> float:
        return self.to_m - self.from_m


@dataclass(frozen=True, slots=True)
class Coverage:
    """Shares of street length per rating over the rated segments, and what backs them."""

    segments: IntArray
    receivers: IntArray  # receiver positions rated, in segment order
    level_db: FloatArray  # per rated receiver
    rating: npt.NDArray[np.int8]
    echo: npt.NDArray[np.bool_]
    length_m: FloatArray  # per rated receiver
    gaps: list[Gap]

    @property
    def total_m(self) -> float:
        return float(self.length_m.sum())

    def share(self, rating: int) -> float:
        total = self.total_m
        return float(self.length_m[self.rating == rating].sum() / total) if total > 0 else 0.0

    @property
    def echo_share(self) -> float:
        total = self.total_m
        return float(self.length_m[self.echo].sum() / total) if total > 0 else 0.0

    def segment_lengths(self, receivers: Receivers) -> npt.NDArray[np.float64]:
        """(rated segments, 4): metres not covered, audible, intelligible, with echo risk."""
        seg = receivers.segment[self.receivers]
        slot = np.searchsorted(self.segments, seg)
        n = len(self.segments)
        cols = [self.length_m * (self.rating == r) for r in (NOT_COVERED, AUDIBLE, INTELLIGIBLE)]
        cols.append(self.length_m * self.echo)
        return np.column_stack([np.bincount(slot, weights=c, minlength=n) for c in cols])


def coverage_of(
    matrix: AttenuationMatrix,
    receivers: Receivers,
    levels_db: npt.ArrayLike,
    ambient_per_segment: FloatArray,
    segments: npt.ArrayLike,
    with_echo: bool = True,
) -> Coverage:
    """Rate ``segments`` (segment numbers) for lanterns playing at ``levels_db``."""
    segs = np.unique(np.asarray(segments, dtype=np.int64))
    pts = receivers.of_segments(segs)
    at = received_levels(matrix, levels_db)[pts]
    ambient = ambient_per_segment[receivers.segment[pts]]
    ratings = rate(at, ambient)
    echo = echo_risk(matrix, levels_db)[pts] if with_echo else np.zeros(len(pts), dtype=bool)
    return Coverage(
        segments=segs,
        receivers=pts,
        level_db=at,
        rating=ratings,
        echo=echo,
        length_m=receivers.length_m[pts],
        gaps=find_gaps(receivers, pts, ratings),
    )


def find_gaps(receivers: Receivers, pts: IntArray, ratings: npt.NDArray[np.int8]) -> list[Gap]:
    """Runs of consecutive not-covered receivers on one segment, longest first."""
    if len(pts) == 0:
        return []
    bad = ratings == NOT_COVERED
    seg = receivers.segment[pts]
    # A run starts where a bad receiver follows a good one or a segment boundary.
    prev_bad = np.concatenate([[False], bad[:-1] & (seg[1:] == seg[:-1])])
    next_bad = np.concatenate([bad[1:] & (seg[1:] == seg[:-1]), [False]])
    starts = np.flatnonzero(bad & ~prev_bad)
    ends = np.flatnonzero(bad & ~next_bad)
    gaps = []
    for s, e in zip(starts, ends, strict=True):
        first, last = int(pts[s]), int(pts[e])
        half_first = receivers.length_m[first] / 2.0
        half_last = receivers.length_m[last] / 2.0
        gaps.append(
            Gap(
                segment=int(seg[s]),
                from_m=float(receivers.at_m[first] - half_first),
                to_m=float(receivers.at_m[last] + half_last),
                first=first,
                last=last,
            )
        )
    gaps.sort(key=lambda g: (-g.length_m, g.segment, g.from_m))
    return gaps
