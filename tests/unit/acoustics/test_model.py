"""The coverage model against hand-worked numbers and small hand-made layouts."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import shapely
from scipy.optimize import brentq

from lightctl.acoustics.matrix import DEFAULT_RADIUS_M, Sources, build_matrix
from lightctl.acoustics.planning import facade_capped, next_speakers
from lightctl.acoustics.propagation import Propagation, SourceSpec, attenuation_db, energy_sum_db
from lightctl.acoustics.rating import (
    AUDIBLE,
    INTELLIGIBLE,
    NOT_COVERED,
    ambient_by_segment,
    coverage_of,
    echo_risk,
    received_levels,
)
from lightctl.acoustics.receivers import place_receivers
from lightctl.errors import InvalidRequest

COLLECTOR_DAY_DB = 65.0  # ambient of a collector street by day: intelligible needs 75 dB(A)


def level_at(distance_m: float) -> float:
    return 100.0 - float(attenuation_db(distance_m, 5.0))


def test_free_field_radii_match_the_hand_worked_numbers() -> None:
    # Worked by hand from ISO 9613-2: r = sqrt(d² + 3.5²); 20 lg r + 3.66 r/1000 + A_gr.
    assert brentq(lambda d: level_at(d) - 70.0, 5, 200) == pytest.approx(31.0, abs=0.5)
    assert brentq(lambda d: level_at(d) - 65.0, 5, 200) == pytest.approx(46.0, abs=0.5)
    # The ground term is zero close in and 4.8 - 6.5/d (17 + 300/d) further out.
    assert level_at(46.0) == pytest.approx(100 - 33.28 - 0.17 - 1.48, abs=0.02)


def test_two_equal_sources_add_three_decibels() -> None:
    assert energy_sum_db([70.0, 70.0]) == pytest.approx(73.01, abs=0.01)
    street = place_receivers([np.array([[-1.0, 0.0], [1.0, 0.0]])], spacing_m=2.0)
    one = build_matrix(Sources.omni([0.0], [20.0], 5.0), street)
    two = build_matrix(Sources.omni([0.0, 0.0], [20.0, -20.0], 5.0), street)
    alone = received_levels(one, [100.0])[0]
    assert received_levels(two, [100.0, 100.0])[0] == pytest.approx(alone + 3.01, abs=0.01)


def straight_street(spacing_m: float, length_m: float = 600.0):  # type: ignore[no-untyped-def]
    receivers = place_receivers([np.array([[0.0, 0.0], [length_m, 0.0]])], spacing_m=5.0)
    xs = np.arange(0.0, length_m + 0.1, spacing_m)
    sources = Sources.omni(xs, np.full(len(xs), 2.0), 5.0)  # masts 2 m off the centre line
    return receivers, sources


def brute_force_levels(receivers, xs: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Every lantern within the model's radius of each receiver, summed with energy_sum_db:
    no matrix involved."""
    out = []
    for rx, ry in zip(receivers.x, receivers.y, strict=True):
        d = np.hypot(xs - rx, 2.0 - ry)
        d = d[d <= DEFAULT_RADIUS_M]
        out.append(energy_sum_db(100.0 - attenuation_db(d, 5.0)))
    return np.array(out)


def test_a_street_with_a_lantern_every_30_m_is_intelligible_and_every_60_m_opens_gaps() -> None:
    receivers, sources = straight_street(30.0)
    ambient = ambient_by_segment(["tertiary"], night=False)
    assert ambient[0] == COLLECTOR_DAY_DB
    matrix = build_matrix(sources, receivers)
    full = coverage_of(matrix, receivers, np.full(len(sources), 100.0), ambient, [0])
    assert full.share(INTELLIGIBLE) == 1.0
    assert full.gaps == []

    levels = np.full(len(sources), 100.0)
    levels[1::2] = np.nan  # every second lantern removed (silent)
    half = coverage_of(matrix, receivers, levels, ambient, [0])
    expected = brute_force_levels(receivers, sources.x[::2])
    np.testing.assert_allclose(half.level_db, expected, atol=0.05)
    predicted = expected < COLLECTOR_DAY_DB + 10.0
    assert predicted.any()
    assert (half.rating[predicted] != INTELLIGIBLE).all()
    assert (half.rating[~predicted] == INTELLIGIBLE).all()
    # Each shortfall lies midway between two remaining lanterns (60 m apart).
    mid = receivers.x[predicted] % 60.0
    assert np.all(np.abs(mid - 30.0) < 10.0)
    assert half.share(AUDIBLE) == pytest.approx(receivers.length_m[predicted].sum() / 600.0)


def test_gaps_are_named_where_the_street_is_not_covered() -> None:
    receivers, sources = straight_street(30.0)
    levels = np.full(len(sources), 100.0)
    levels[(sources.x > 200) & (sources.x < 400)] = np.nan  # a 260 m stretch without a speaker
    ambient = ambient_by_segment(["primary"], night=False)  # arterial: 70 dB(A)
    cov = coverage_of(build_matrix(sources, receivers), receivers, levels, ambient, [0])
    assert len(cov.gaps) == 1
    gap = cov.gaps[0]
    # Remaining masts at 180 and 420 m; one alone reaches ambient + 5 dB out to ``reach``.
    reach = brentq(lambda d: level_at(float(np.hypot(d, 2.0))) - 75.0, 1, 100)
    assert gap.from_m == pytest.approx(180 + reach, abs=5.0)
    assert gap.to_m == pytest.approx(420 - reach, abs=5.0)
    assert cov.share(NOT_COVERED) == pytest.approx(gap.length_m / 600.0)


def test_a_building_between_a_lantern_and_a_point_removes_that_lantern() -> None:
    receivers = place_receivers([np.array([[-1.0, 0.0], [1.0, 0.0]])], spacing_m=2.0)
    sources = Sources.omni([0.0, 0.0], [30.0, -30.0], 5.0)
    house = shapely.box(-10.0, 10.0, 10.0, 20.0)  # between the northern lantern and the point
    open_air = build_matrix(sources, receivers)
    blocked = build_matrix(sources, receivers, [house])
    assert blocked.blocked_pairs == 1
    south_alone = received_levels(open_air, [np.nan, 100.0])[0]
    both_open = received_levels(open_air, [100.0, 100.0])[0]
    both_blocked = received_levels(blocked, [100.0, 100.0])[0]
    assert both_open == pytest.approx(south_alone + 3.01, abs=0.01)
    # The northern lantern now arrives 20 dB down (the barrier cap): its share is gone.
    assert both_blocked == pytest.approx(south_alone, abs=0.1)
    north_open = 10 * np.log10(open_air.gain[0].toarray()[0, 0])
    north_blocked = 10 * np.log10(blocked.gain[0].toarray()[0, 0])
    assert north_open - north_blocked >= 20.0


def test_a_stray_footprint_kilometres_away_changes_nothing_and_costs_no_grid() -> None:
    receivers = place_receivers([np.array([[-1.0, 0.0], [1.0, 0.0]])], spacing_m=2.0)
    sources = Sources.omni([0.0, 0.0], [30.0, -30.0], 5.0)
    house = shapely.box(-10.0, 10.0, 10.0, 20.0)
    stray = shapely.box(40_000.0, 40_000.0, 40_010.0, 40_010.0)  # a mistyped coordinate
    tracemalloc.start()
    try:
        with_stray = build_matrix(sources, receivers, [house, stray])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Rastered from its corner to the stray, the 2 m grid would be 20,000 x 20,000 cells (GB).
    assert peak < 20_000_000
    alone = build_matrix(sources, receivers, [house])
    assert with_stray.blocked_pairs == alone.blocked_pairs == 1
    assert (with_stray.gain != alone.gain).nnz == 0


def test_late_arrival_of_a_similar_level_is_an_echo_risk() -> None:
    receivers = place_receivers([np.array([[-1.0, 0.0], [1.0, 0.0]])], spacing_m=2.0)
    # 10 m and 40 m away: 30 m further is 87 ms later, and about 10.6 dB quieter at equal level.
    matrix = build_matrix(Sources.omni([0.0, 0.0], [10.0, -40.0], 5.0), receivers)
    assert not echo_risk(matrix, [100.0, 100.0])[0]
    assert echo_risk(matrix, [100.0, 112.0])[0]  # the far one louder: late and strong


def test_the_next_speaker_goes_into_the_largest_gap() -> None:
    receivers = place_receivers([np.array([[0.0, 0.0], [1500.0, 0.0]])], spacing_m=5.0)
    xs = np.arange(0.0, 1500.1, 30.0)
    keep = ~(((xs > 300) & (xs < 600)) | ((xs > 1000) & (xs < 1150)))  # gaps of 300 and 150 m
    sources = Sources.omni(xs[keep], np.full(int(keep.sum()), 2.0), 5.0)
    ambient = ambient_by_segment(["tertiary"], night=False)
    levels = received_levels(build_matrix(sources, receivers), np.full(len(sources), 100.0))
    ambient_at = ambient[receivers.segment]
    picks = next_speakers(receivers, levels, ambient_at, np.arange(len(receivers)), count=2)
    assert len(picks) == 2
    assert 300 < picks[0].x < 600  # the 300 m gap first
    assert picks[0].newly_covered_m > 0
    assert picks[1].newly_covered_m > 0
    # The best position inside the smaller gap alone would cover less.
    small = np.flatnonzero((receivers.x > 1000) & (receivers.x < 1150))
    (in_small,) = next_speakers(receivers, levels, ambient_at, small, count=1)
    assert 1000 < in_small.x < 1150
    assert in_small.newly_covered_m <= picks[0].newly_covered_m


def test_facade_cap_lowers_only_speakers_that_would_exceed_it() -> None:
    capped = facade_capped([100.0, 125.0], [6.0, 6.0], [5.0, 5.0], cap_db=97.0)
    assert capped[0] == 100.0
    at_window = capped[1] - attenuation_db(6.0, 5.0, Propagation(receiver_height_m=4.0))
    assert float(at_window) == pytest.approx(97.0)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (SourceSpec(level_db=59.0), "level_db"),
        (SourceSpec(level_db=131.0), "level_db"),
        (SourceSpec(height_m=0.0), "height_m"),
        (SourceSpec(height_m=-3.0), "height_m"),
    ],
)
def test_bad_source_values_name_the_field(spec: SourceSpec, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        spec.checked(("speaker",))
    assert caught.value.problems[0].loc == ("speaker", field)
    assert field in caught.value.message


def test_few_and_many_playing_lanterns_sum_the_same_way() -> None:
    receivers, sources = straight_street(30.0)
    matrix = build_matrix(sources, receivers)
    few = np.full(len(sources), np.nan)
    few[[3, 9]] = 100.0  # 2 of 21: the rows are sliced
    many = np.full(len(sources), 100.0)  # every row in one product
    few_expected = brute_force_levels(receivers, sources.x[[3, 9]])
    np.testing.assert_allclose(received_levels(matrix, few), few_expected, atol=0.05)
    many_expected = brute_force_levels(receivers, sources.x)
    np.testing.assert_allclose(received_levels(matrix, many), many_expected, atol=0.05)


def test_a_directional_speaker_is_quieter_behind_its_beam() -> None:
    receivers = place_receivers([np.array([[-40.0, 0.0], [40.0, 0.0]])], spacing_m=80.0 / 2)
    east = Sources(
        np.array([0.0]),
        np.array([0.0]),
        np.array([5.0]),
        np.array([90.0]),  # facing east
        np.array([90.0]),  # ±45°
    )
    omni = build_matrix(Sources.omni([0.0], [0.0], 5.0), receivers)
    beam = build_matrix(east, receivers)
    west_point, east_point = received_levels(omni, [100.0]), received_levels(beam, [100.0])
    assert receivers.x[0] < 0 < receivers.x[1]
    assert east_point[1] == pytest.approx(west_point[1])  # in the beam: as loud as omni
    assert east_point[0] == pytest.approx(west_point[0] - 10.0)  # behind: 10 dB down
