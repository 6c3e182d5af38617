"""Listener points every few metres along the streets, each standing for its stretch of street."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lightctl.errors import InvalidRequest

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

# 5 m: a person walks it in four seconds; halving it doubles the matrix for a change in the
# covered length of well under one spacing per gap edge.
DEFAULT_SPACING_M = 5.0
MIN_SPACING_M, MAX_SPACING_M = 1.0, 50.0


@dataclass(frozen=True, slots=True)
class Receivers:
    """Points in metres (``x``, ``y``), the street segment each lies on, how much street length
    it stands for and where along its segment it sits (``at_m``), in street order."""

    x: FloatArray
    y: FloatArray
    segment: IntArray
    length_m: FloatArray
    at_m: FloatArray
    segment_length_m: FloatArray  # per segment
    segment_start: npt.NDArray[
        np.int64
    ]  # per segment + 1: receivers of s are [start[s], start[s+1])

    def __len__(self) -> int:
        return len(self.x)

    def of_segments(self, segments: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Receiver positions of the given segment numbers, in segment order."""
        segs = np.asarray(segments, dtype=np.int64)
        if segs.size == 0:
            return np.zeros(0, dtype=np.int64)
        starts = self.segment_start[segs]
        counts = self.segment_start[segs + 1] - starts
        total = int(counts.sum())
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
        return np.asarray(offsets + np.arange(total), dtype=np.int64)


def check_spacing(spacing_m: float, loc: tuple[str | int, ...] = ("spacing_m",)) -> float:
    if not np.isfinite(spacing_m) or not MIN_SPACING_M <= spacing_m <= MAX_SPACING_M:
        raise InvalidRequest.at(loc, f"must be {MIN_SPACING_M:g} to {MAX_SPACING_M:g} m", spacing_m)
    return spacing_m


def place_receivers(
    lines_xy: Sequence[npt.ArrayLike], spacing_m: float = DEFAULT_SPACING_M
) -> Receivers:
    """Receivers in the middle of every ``spacing_m`` stretch of each line (metric (n, 2)
    vertex arrays); a line shorter than the spacing gets one point standing for its length."""
    check_spacing(spacing_m)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    segs: list[IntArray] = []
    lengths: list[FloatArray] = []
    ats: list[FloatArray] = []
    seg_len = np.zeros(len(lines_xy), dtype=np.float64)
    start = np.zeros(len(lines_xy) + 1, dtype=np.int64)
    for s, coords in enumerate(lines_xy):
        v = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        steps = np.hypot(np.diff(v[:, 0]), np.diff(v[:, 1])) if len(v) > 1 else np.zeros(0)
        cum = np.concatenate([[0.0], np.cumsum(steps)])
        total = float(cum[-1])
        seg_len[s] = total
        if total <= 0.0:
            start[s + 1] = start[s]
            continue
        n = max(1, int(np.ceil(total / spacing_m - 1e-9)))
        edges = np.minimum(np.arange(n + 1) * spacing_m, total)
        at = (edges[:-1] + edges[1:]) / 2.0
        xs.append(np.interp(at, cum, v[:, 0]))
        ys.append(np.interp(at, cum, v[:, 1]))
        segs.append(np.full(n, s, dtype=np.int32))
        lengths.append(np.diff(edges))
        ats.append(at)
        start[s + 1] = start[s] + n

    def cat(parts: list[npt.NDArray[np.generic]], dtype: type) -> npt.NDArray[np.generic]:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return Receivers(
        x=np.asarray(cat(xs, np.float64), dtype=np.float64),  # type: ignore[arg-type]
        y=np.asarray(cat(ys, np.float64), dtype=np.float64),  # type: ignore[arg-type]
        segment=np.asarray(cat(segs, np.int32), dtype=np.int32),  # type: ignore[arg-type]
        length_m=np.asarray(cat(lengths, np.float64), dtype=np.float64),  # type: ignore[arg-type]
        at_m=np.asarray(cat(ats, np.float64), dtype=np.float64),  # type: ignore[arg-type]
        segment_length_m=seg_len,
        segment_start=start,
    )
