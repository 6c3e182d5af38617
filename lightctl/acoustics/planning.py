"""Planning: where one more lantern speaker helps most, and the façade volume cap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from lightctl.acoustics.matrix import Sources, build_matrix
from lightctl.acoustics.propagation import Propagation, attenuation_db
from lightctl.acoustics.rating import INTELLIGIBLE_MARGIN_DB
from lightctl.acoustics.receivers import Receivers

FloatArray = npt.NDArray[np.float64]

# 97 dB(A) in front of an open window: the limit a German administrative court set for sirens.
FACADE_CAP_DB = 97.0
FACADE_WINDOW_HEIGHT_M = 4.0  # a first-floor window
# Without building footprints, a façade is assumed across the pavement from the mast.
DEFAULT_FACADE_DISTANCE_M = 6.0
# Candidate positions tried for a new speaker: every gap receiver up to this many (then spread
# evenly), which keeps the candidate matrix at a few hundred thousand entries.
MAX_CANDIDATES = 2000
# A new speaker alone makes speech intelligible out to about 20-50 m (ambient 70 to 55 dB(A));
# with the others' sound, 100 m bounds what it can tip over the threshold.
CANDIDATE_RADIUS_M = 100.0


def facade_distances(
    x: npt.ArrayLike, y: npt.ArrayLike, buildings: Sequence[shapely.Geometry], default_m: float
) -> FloatArray:
    """Horizontal metres from each lantern to the nearest footprint (``default_m`` without any)."""
    xs = np.asarray(x, dtype=np.float64)
    if not buildings:
        return np.full(len(xs), default_m)
    tree = shapely.STRtree(np.asarray(list(buildings), dtype=object))
    points = shapely.points(xs, np.asarray(y, dtype=np.float64))
    _, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    return np.maximum(np.asarray(dist, dtype=np.float64), 0.5)


def facade_capped(
    levels_db: npt.ArrayLike,
    facade_m: npt.ArrayLike,
    source_height_m: npt.ArrayLike,
    cap_db: float = FACADE_CAP_DB,
    window_height_m: float = FACADE_WINDOW_HEIGHT_M,
) -> FloatArray:
    """Each lantern's level at 1 m, lowered where the nearest façade would get more than
    ``cap_db``: the cap plus the attenuation from the speaker to the window."""
    model = Propagation(receiver_height_m=window_height_m)
    allowed = cap_db + attenuation_db(facade_m, source_height_m, model)
    return np.asarray(np.minimum(np.asarray(levels_db, dtype=np.float64), allowed))


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A street position for one more speaker and the street length it would make intelligible."""

    receiver: int
    x: float
    y: float
    newly_covered_m: float


def next_speakers(
    receivers: Receivers,
    level_db_at: FloatArray,
    ambient_at: FloatArray,
    scope: npt.NDArray[np.int64],
    buildings: Sequence[shapely.Geometry] = (),
    source_level_db: float = 100.0,
    source_height_m: float = 5.0,
    model: Propagation = Propagation(),
    count: int = 5,
    radius_m: float = CANDIDATE_RADIUS_M,
) -> list[Suggestion]:
    """Greedy top ``count`` positions by newly intelligible length over the ``scope`` receivers
    (positions into ``receivers``); ``level_db_at`` and ``ambient_at`` are per receiver."""
    with np.errstate(divide="ignore", over="ignore"):
        energy = 10.0 ** (np.asarray(level_db_at, dtype=np.float64) / 10.0)
    need = 10.0 ** ((ambient_at + INTELLIGIBLE_MARGIN_DB) / 10.0)
    in_scope = np.zeros(len(receivers), dtype=bool)
    in_scope[scope] = True
    short = in_scope & (energy < need)
    candidates = np.flatnonzero(short)
    if candidates.size == 0:
        return []
    if candidates.size > MAX_CANDIDATES:
        candidates = candidates[np.linspace(0, candidates.size - 1, MAX_CANDIDATES).astype(int)]
    sources = Sources.omni(receivers.x[candidates], receivers.y[candidates], source_height_m)
    gains = build_matrix(sources, receivers, buildings, model, radius_m).gain.tocsr()
    power = 10.0 ** (source_level_db / 10.0)
    rows = np.repeat(np.arange(gains.shape[0]), np.diff(gains.indptr))
    cols = gains.indices
    added = power * gains.data.astype(np.float64)
    out: list[Suggestion] = []
    for _ in range(count):
        gained = short[cols] & (energy[cols] + added >= need[cols])
        covered = np.bincount(
            rows, weights=receivers.length_m[cols] * gained, minlength=len(candidates)
        )
        best = int(np.argmax(covered))
        if covered[best] <= 0:
            break
        r = int(candidates[best])
        out.append(
            Suggestion(r, float(receivers.x[r]), float(receivers.y[r]), float(covered[best]))
        )
        mine = rows == best
        energy[cols[mine]] += added[mine]
        short = in_scope & (energy < need)
    return out
