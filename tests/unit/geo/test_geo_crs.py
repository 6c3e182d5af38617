"""UTM zone choice and the metric projection: metres from a projected CRS, checked geodesically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from lightctl.errors import InvalidRequest
from lightctl.geo import MetricProjection, utm_crs_for
from lightctl.geo.crs import to_wgs84

GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [
        (8.5417, 47.3769, "EPSG:32632"),  # Zürich
        (13.405, 52.52, "EPSG:32633"),  # Berlin
        (-74.006, 40.7128, "EPSG:32618"),  # New York
        (151.2093, -33.8688, "EPSG:32756"),  # Sydney: southern hemisphere
        (-0.1276, 51.5072, "EPSG:32630"),  # London, just west of Greenwich
        (0.0, 0.0, "EPSG:32631"),  # the equator belongs to the north
        (5.3221, 60.3913, "EPSG:32632"),  # Bergen: the Norway exception (plain rule says 31)
        (15.6356, 78.2232, "EPSG:32633"),  # Longyearbyen: the Svalbard exception
        (180.0, 10.0, "EPSG:32660"),
        (-180.0, -10.0, "EPSG:32701"),
    ],
)
def test_utm_zone_for_known_places(lon: float, lat: float, crs: str) -> None:
    assert utm_crs_for(lon, lat) == crs


@pytest.mark.parametrize(
    ("lon", "lat"), [(8.5, 84.5), (8.5, -80.5), (181.0, 0.0), (float("nan"), 1)]
)
def test_utm_zone_refuses_places_outside_the_grid(lon: float, lat: float) -> None:
    with pytest.raises(ValueError, match=r"lon|lat"):
        utm_crs_for(lon, lat)


@given(st.floats(-179.999, 179.999), st.floats(-79.9, 55.9))
def test_utm_zone_central_meridian_is_within_three_degrees(lon: float, lat: float) -> None:
    code = int(utm_crs_for(lon, lat).removeprefix("EPSG:"))
    assert code // 100 == (326 if lat >= 0 else 327)
    central_meridian = (code % 100 - 1) * 6 - 180 + 3
    assert abs(lon - central_meridian) <= 3.0 + 1e-9


def test_projection_round_trips_arrays() -> None:
    projection = MetricProjection.around(8.54, 47.37)
    lons = np.array([8.5391, 8.5441, 8.5302])
    lats = np.array([47.3702, 47.3719, 47.3801])
    xs, ys = projection.to_xy(lons, lats)
    assert xs.shape == ys.shape == (3,)
    assert 400_000 < xs.min() < xs.max() < 600_000  # UTM eastings, not degrees
    back_lons, back_lats = projection.to_lonlat(xs, ys)
    np.testing.assert_allclose(back_lons, lons, atol=1e-9)
    np.testing.assert_allclose(back_lats, lats, atol=1e-9)


@pytest.mark.parametrize("azimuth", [0.0, 45.0, 90.0, 200.0])
def test_planar_distance_matches_geodesic_within_5_cm_per_100_m(azimuth: float) -> None:
    projection = MetricProjection.for_extent([8.53, 8.55], [47.365, 47.382])
    assert projection.crs == "EPSG:32632"
    lon0, lat0 = 8.5391, 47.3702
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, azimuth, 100.0)
    xs, ys = projection.to_xy([lon0, lon1], [lat0, lat1])
    planar = float(np.hypot(xs[1] - xs[0], ys[1] - ys[0]))
    assert planar == pytest.approx(100.0, abs=0.05)


def test_projection_needs_a_projected_crs() -> None:
    with pytest.raises(ValueError, match="not a projected CRS"):
        MetricProjection("EPSG:4326")


def test_for_extent_ignores_nan_and_refuses_nothing() -> None:
    assert MetricProjection.for_extent([np.nan, 13.4], [np.nan, 52.5]).crs == "EPSG:32633"
    with pytest.raises(ValueError, match="no finite"):
        MetricProjection.for_extent([np.nan], [np.nan])


def test_unknown_crs_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_wgs84("EPSG:999999", [1.0], [2.0])
    assert caught.value.problems[0].loc == ("crs",)
    assert caught.value.problems[0].value == "EPSG:999999"
