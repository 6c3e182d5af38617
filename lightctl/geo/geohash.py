"""Geohashes of lon/lat arrays: a short, stable text key for a position (ids of id-less files).

A geohash interleaves the bits of the bisected longitude and latitude (longitude first) and
writes them five at a time in a base-32 alphabet without a, i, l and o. Twelve characters are
60 bits, 30 per axis: cells of 3.7 cm by 1.9 cm at the equator, finer than any inventory's
coordinates (Zürich's are 7 decimals of a degree, ~1 cm, converted from 0.1 m LV95).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_ALPHABET = np.frombuffer(b"0123456789bcdefghjkmnpqrstuvwxyz", dtype=np.uint8)
_BITS_PER_CHAR = 5
MAX_LENGTH = 12  # 60 bits: both axes fit in one uint64 after interleaving


def _spread(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Bit i of each (30-bit) value moved to bit 2i, zeros between."""
    x = values & np.uint64(0x3FFFFFFF)
    for shift, mask in (
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    ):
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def _quantise(values: npt.NDArray[np.float64], low: float, span: float) -> npt.NDArray[np.uint64]:
    # floor((v - low) / span * 2**30) is the cell that 30 halvings of the range reach.
    cells = np.floor((values - low) / span * float(1 << 30))
    return np.clip(cells, 0, (1 << 30) - 1).astype(np.uint64)


def geohashes(lons: npt.ArrayLike, lats: npt.ArrayLike, length: int = MAX_LENGTH) -> list[str]:
    """The geohash of every finite lon/lat pair (vectorised: ~0.3 µs a point)."""
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be 1..{MAX_LENGTH}, got {length}")
    lon_arr = np.atleast_1d(np.asarray(lons, dtype=np.float64))
    lat_arr = np.atleast_1d(np.asarray(lats, dtype=np.float64))
    if lon_arr.shape != lat_arr.shape or lon_arr.ndim != 1:
        raise ValueError(f"lons and lats differ in shape: {lon_arr.shape} vs {lat_arr.shape}")
    if not len(lon_arr):
        return []
    if not (np.isfinite(lon_arr).all() and np.isfinite(lat_arr).all()):
        raise ValueError("geohashes need finite lon/lat")
    code = (_spread(_quantise(lon_arr, -180.0, 360.0)) << np.uint64(1)) | _spread(
        _quantise(lat_arr, -90.0, 180.0)
    )
    top = MAX_LENGTH * _BITS_PER_CHAR - _BITS_PER_CHAR
    chars = np.stack(
        [(code >> np.uint64(top - _BITS_PER_CHAR * k)) & np.uint64(31) for k in range(length)],
        axis=1,
    )
    text = _ALPHABET[chars.astype(np.intp)].tobytes().decode("ascii")
    return [text[i : i + length] for i in range(0, len(text), length)]
