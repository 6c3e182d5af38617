"""Sound propagation outdoors after ISO 9613-2, at 1 kHz (the band that carries speech).

For a lantern speaker rated at ``L1`` dB(A) at 1 m the level at a listener is

    L = L1 - A_div - A_atm - A_gr - A_bar

- ``A_div = 20 lg(r / 1 m)``: geometric divergence over the slant distance ``r`` (the standard's
  ``20 lg(d) + 11`` with the sound power ``L_W = L1 + 11``).
- ``A_atm = alpha * r / 1000``: air absorption, ``alpha`` = 3.66 dB/km at 1 kHz (ISO 9613-2
  table 2 at 10 °C and 70 % relative humidity, the standard's own reference climate).
- ``A_gr = max(0, 4.8 - (2 h_m / d) (17 + 300 / d))``: the A-weighted ground term of ISO 9613-2
  7.3.2, ``h_m`` the mean height of the path ((h_s + h_r) / 2), ``d`` the horizontal distance.
  The standard's ``D_Omega`` (ground reflection near the source) is not added: planning on the
  direct sound alone is the cautious side, and it keeps the hand-worked radii below.
- ``A_bar = 10 lg(3 + 20 z / lambda)``: the barrier term ``D_z`` of ISO 9613-2 (C2 = 20, C3 = 1,
  K_met = 1, lambda = 0.343 m at 1 kHz), ``z`` the detour over the roof; it replaces the ground
  term on a blocked path (the standard's ``A_bar = D_z - A_gr``) and is capped at 20 dB (the
  standard's cap for single diffraction).

Levels of several lanterns add as energies: ``10 lg(sum 10^(L_i / 10))`` (two equal: +3 dB).
With the defaults (source 5 m, listener 1.5 m, 100 dB(A) at 1 m) the level falls to 70 dB(A) at
31 m and to 65 dB(A) at 46 m horizontally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lightctl.errors import InvalidRequest

FloatArray = npt.NDArray[np.float64]

SPEED_OF_SOUND_M_S = 343.0  # dry air at 20 °C
WAVELENGTH_1KHZ_M = SPEED_OF_SOUND_M_S / 1000.0
# ISO 9613-2 table 2, 1 kHz at 10 °C / 70 % RH (8.8 dB/km at 20 °C / 20 % would be the dry extreme).
AIR_ABSORPTION_DB_PER_KM = 3.66
# ISO 9613-2 7.4: D_z is not taken above 20 dB for a single edge (25 dB for double diffraction).
BARRIER_CAP_DB = 20.0
# Speech level a lantern speaker is specified with; a tone is 6 dB louder (a siren-like sweep
# carries more energy than speech at the same amplifier setting).
DEFAULT_SPEECH_DB = 100.0
TONE_EXTRA_DB = 6.0
# What the issue accepts: quieter than 60 dB(A) at 1 m is no warning, louder than 130 is harmful.
MIN_LEVEL_DB, MAX_LEVEL_DB = 60.0, 130.0
DEFAULT_SOURCE_HEIGHT_M = 5.0  # a speaker on a street-lantern mast
DEFAULT_EAR_HEIGHT_M = 1.5  # a standing adult (ISO 9613-2's usual receiver height)
MAX_HEIGHT_M = 100.0


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A lantern speaker: speech level at 1 m, mast height, optional beam (omni when None)."""

    level_db: float = DEFAULT_SPEECH_DB
    height_m: float = DEFAULT_SOURCE_HEIGHT_M
    heading_deg: float | None = None
    beam_deg: float | None = None
    off_axis_db: float = 10.0  # outside the beam a horn speaker is about 10 dB quieter

    def checked(self, loc: tuple[str | int, ...] = ()) -> SourceSpec:
        """This spec, or ``InvalidRequest`` naming the field that is out of range."""
        check_level(self.level_db, (*loc, "level_db"))
        check_height(self.height_m, (*loc, "height_m"))
        if self.beam_deg is not None and not 0 < self.beam_deg <= 360:
            raise InvalidRequest.at(
                (*loc, "beam_deg"), "must be above 0 and at most 360", self.beam_deg
            )
        if self.heading_deg is not None and not 0 <= self.heading_deg <= 360:
            raise InvalidRequest.at((*loc, "heading_deg"), "must be 0 to 360", self.heading_deg)
        return self


DEFAULT_SOURCE = SourceSpec()


def check_level(value: float, loc: tuple[str | int, ...]) -> float:
    if not np.isfinite(value) or not MIN_LEVEL_DB <= value <= MAX_LEVEL_DB:
        raise InvalidRequest.at(
            loc, f"must be {MIN_LEVEL_DB:g} to {MAX_LEVEL_DB:g} dB(A) at 1 m", value
        )
    return value


def check_height(value: float, loc: tuple[str | int, ...]) -> float:
    if not np.isfinite(value) or not 0 < value <= MAX_HEIGHT_M:
        raise InvalidRequest.at(loc, f"must be above 0 and at most {MAX_HEIGHT_M:g} m", value)
    return value


@dataclass(frozen=True, slots=True)
class Propagation:
    """The model's fixed choices; every default is the documented one."""

    receiver_height_m: float = DEFAULT_EAR_HEIGHT_M
    air_absorption_db_per_km: float = AIR_ABSORPTION_DB_PER_KM
    barrier_cap_db: float = BARRIER_CAP_DB
    building_height_m: float = 10.0  # footprints carry no height: a three-storey street front

    def checked(self, loc: tuple[str | int, ...] = ()) -> Propagation:
        check_height(self.receiver_height_m, (*loc, "receiver_height_m"))
        check_height(self.building_height_m, (*loc, "building_height_m"))
        return self


def slant_m(
    horizontal_m: npt.ArrayLike, source_height_m: npt.ArrayLike, receiver_height_m: float
) -> FloatArray:
    d = np.asarray(horizontal_m, dtype=np.float64)
    dh = np.asarray(source_height_m, dtype=np.float64) - receiver_height_m
    return np.asarray(np.sqrt(d * d + dh * dh), dtype=np.float64)


def ground_db(
    horizontal_m: npt.ArrayLike, source_height_m: npt.ArrayLike, receiver_height_m: float
) -> FloatArray:
    """ISO 9613-2 eq. (10), A-weighted ground attenuation; never negative."""
    d = np.maximum(np.asarray(horizontal_m, dtype=np.float64), 1e-3)
    hm = (np.asarray(source_height_m, dtype=np.float64) + receiver_height_m) / 2.0
    return np.asarray(np.maximum(0.0, 4.8 - (2.0 * hm / d) * (17.0 + 300.0 / d)), dtype=np.float64)


def barrier_db(path_difference_m: npt.ArrayLike, cap_db: float = BARRIER_CAP_DB) -> FloatArray:
    """ISO 9613-2 eq. (14) at 1 kHz: ``10 lg(3 + 20 z / lambda)``, at most ``cap_db``."""
    z = np.maximum(np.asarray(path_difference_m, dtype=np.float64), 0.0)
    return np.asarray(np.minimum(10.0 * np.log10(3.0 + 20.0 * z / WAVELENGTH_1KHZ_M), cap_db))


def roof_detour_m(
    to_source_m: npt.ArrayLike,
    to_receiver_m: npt.ArrayLike,
    through_m: npt.ArrayLike,
    source_height_m: npt.ArrayLike,
    receiver_height_m: float,
    building_height_m: float,
) -> FloatArray:
    """Path difference ``z`` over a building ``building_height_m`` tall: up from the source to the
    near roof edge, across ``through_m`` of roof, down to the receiver, minus the direct path."""
    ds = np.asarray(to_source_m, dtype=np.float64)
    dr = np.asarray(to_receiver_m, dtype=np.float64)
    e = np.maximum(np.asarray(through_m, dtype=np.float64), 0.0)
    hs = np.asarray(source_height_m, dtype=np.float64)
    up = np.maximum(building_height_m - hs, 0.0)
    down = np.maximum(building_height_m - receiver_height_m, 0.0)
    over = np.sqrt(ds * ds + up * up) + e + np.sqrt(dr * dr + down * down)
    return np.asarray(np.maximum(over - slant_m(ds + e + dr, hs, receiver_height_m), 0.0))


def attenuation_db(
    horizontal_m: npt.ArrayLike,
    source_height_m: npt.ArrayLike = DEFAULT_SOURCE_HEIGHT_M,
    model: Propagation = Propagation(),
    barrier_m: npt.ArrayLike | None = None,
) -> FloatArray:
    """Total attenuation from 1 m to the listener, dB; ``barrier_m`` is the roof detour ``z`` of
    a blocked path (NaN or None: free line of sight)."""
    d = np.asarray(horizontal_m, dtype=np.float64)
    r = np.maximum(slant_m(d, source_height_m, model.receiver_height_m), 1.0)
    free = 20.0 * np.log10(r) + model.air_absorption_db_per_km * r / 1000.0
    ground = ground_db(d, source_height_m, model.receiver_height_m)
    if barrier_m is None:
        return np.asarray(free + ground, dtype=np.float64)
    z = np.asarray(barrier_m, dtype=np.float64)
    blocked = np.isfinite(z)
    bar = barrier_db(np.where(blocked, z, 0.0), model.barrier_cap_db)
    # ISO 9613-2 eq. (12): on a blocked path the barrier term replaces the ground term.
    return np.asarray(free + np.where(blocked, np.maximum(bar, ground), ground), dtype=np.float64)


def energy_sum_db(levels_db: npt.ArrayLike) -> float:
    """Levels of incoherent sources added as energies (two equal sources: +3.01 dB)."""
    levels = np.asarray(levels_db, dtype=np.float64)
    if levels.size == 0:
        return float("-inf")
    top = float(levels.max())
    return top + 10.0 * float(np.log10(np.sum(10.0 ** ((levels - top) / 10.0))))


def beam_db(source: SourceSpec, bearing_deg: npt.ArrayLike) -> FloatArray:
    """Extra attenuation off the speaker's axis: 0 inside the beam, ``off_axis_db`` outside."""
    bearing = np.asarray(bearing_deg, dtype=np.float64)
    if source.beam_deg is None or source.heading_deg is None or source.beam_deg >= 360:
        return np.zeros_like(bearing)
    off = np.abs((bearing - source.heading_deg + 180.0) % 360.0 - 180.0)
    return np.where(off <= source.beam_deg / 2.0, 0.0, source.off_axis_db)
