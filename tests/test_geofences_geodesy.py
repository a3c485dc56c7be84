import math

import numpy as np
import pytest

from geofences.geodesy import LocalFrame, distance_m, metres_per_degree, metres_to_degrees

WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563


def vincenty_inverse(lon1, lat1, lon2, lat2):
    """Reference geodesic distance (Vincenty 1975 inverse), metres; test use only."""
    b = WGS84_A * (1.0 - WGS84_F)
    big_l = math.radians(lon2 - lon1)
    u1 = math.atan((1.0 - WGS84_F) * math.tan(math.radians(lat1)))
    u2 = math.atan((1.0 - WGS84_F) * math.tan(math.radians(lat2)))
    sin_u1, cos_u1, sin_u2, cos_u2 = math.sin(u1), math.cos(u1), math.sin(u2), math.cos(u2)
    lam = big_l
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        if sin_sigma == 0.0:
            return 0.0
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1.0 - sin_alpha * sin_alpha
        cos_2sm = cos_sigma - 2.0 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha else 0.0
        c = WGS84_F / 16.0 * cos2_alpha * (4.0 + WGS84_F * (4.0 - 3.0 * cos2_alpha))
        previous = lam
        lam = big_l + (1.0 - c) * WGS84_F * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm**2))
        )
        if abs(lam - previous) < 1e-13:
            break
    u_sq = cos2_alpha * (WGS84_A**2 - b**2) / b**2
    big_a = 1.0 + u_sq / 16384.0 * (4096.0 + u_sq * (-768.0 + u_sq * (320.0 - 175.0 * u_sq)))
    big_b = u_sq / 1024.0 * (256.0 + u_sq * (-128.0 + u_sq * (74.0 - 47.0 * u_sq)))
    d_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4.0
            * (
                cos_sigma * (-1.0 + 2.0 * cos_2sm**2)
                - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_sigma**2) * (-3.0 + 4.0 * cos_2sm**2)
            )
        )
    )
    return b * big_a * (sigma - d_sigma)


def _ring_of_points(lon0, lat0, dist, n=48):
    """Points roughly `dist` metres from the origin in every direction."""
    kx, ky = metres_per_degree(lat0)
    bearings = np.radians(np.arange(n) * 360.0 / n)
    return lon0 + dist * np.sin(bearings) / kx, lat0 + dist * np.cos(bearings) / ky


def _worst_error(dist, lat0=29.0, lon0=119.65):
    lon, lat = _ring_of_points(lon0, lat0, dist)
    ours = distance_m(lon0, lat0, lon, lat)
    ref = np.array([vincenty_inverse(lon0, lat0, a, b) for a, b in zip(lon, lat, strict=True)])
    return np.abs(ours - ref).max()


def test_vincenty_reference_sanity():
    # one degree of latitude at the equator: 110574.4 m (standard table value)
    assert vincenty_inverse(0.0, 0.0, 0.0, 1.0) == pytest.approx(110574.4, abs=0.1)


def test_distance_error_against_vincenty_at_29n():
    assert _worst_error(1_000.0) < 0.05
    assert _worst_error(10_000.0) < 0.5
    # the documented bounds, much tighter than the contract
    assert _worst_error(1_000.0) < 1e-4
    assert _worst_error(10_000.0) < 2e-3
    assert _worst_error(50_000.0) < 0.2


def test_distance_is_vectorised_symmetric_and_zero_on_self():
    lon, lat = _ring_of_points(119.65, 29.08, 500.0)
    d1 = distance_m(119.65, 29.08, lon, lat)
    d2 = distance_m(lon, lat, 119.65, 29.08)
    assert d1.shape == (48,)
    assert np.allclose(d1, d2)
    assert distance_m(119.65, 29.08, 119.65, 29.08) == 0.0


def test_distance_across_antimeridian_goes_the_short_way():
    assert distance_m(179.9999, 0.0, -179.9999, 0.0) == pytest.approx(22.26, abs=0.01)


def test_local_frame_round_trip_and_origin_scale():
    frame = LocalFrame(119.65, 29.08)
    lon, lat = _ring_of_points(119.65, 29.08, 2_000.0)
    x, y = frame.forward(lon, lat)
    assert np.allclose(np.hypot(x, y), 2_000.0, rtol=1e-9)
    back = frame.inverse(x, y)
    assert np.allclose(back[0], lon, atol=1e-12) and np.allclose(back[1], lat, atol=1e-12)
    # near the origin the frame agrees with distance_m
    assert np.allclose(np.hypot(x, y), distance_m(119.65, 29.08, lon, lat), rtol=1e-4)


def test_scale_bounds_contain_the_real_ratio():
    frame = LocalFrame(119.65, 29.08)
    lo, hi = frame.scale_bounds(28.8, 29.4)
    rng = np.random.default_rng(3)
    lon1, lon2 = rng.uniform(119.3, 120.0, (2, 5000))
    lat1, lat2 = rng.uniform(28.8, 29.4, (2, 5000))
    x1, y1 = frame.forward(lon1, lat1)
    x2, y2 = frame.forward(lon2, lat2)
    ratio = np.hypot(x2 - x1, y2 - y1) / distance_m(lon1, lat1, lon2, lat2)
    assert lo <= ratio.min() and ratio.max() <= hi
    assert 0.99 < lo < 1.0 < hi < 1.01


def test_metres_to_degrees_is_conservative():
    for lat in (0.0, 29.08, 45.0, 60.0):
        d_lon, d_lat = metres_to_degrees(1_000.0, lat)
        assert distance_m(119.0, lat, 119.0 + d_lon, lat) >= 1_000.0
        assert distance_m(119.0, lat, 119.0, lat + d_lat) >= 1_000.0
        assert distance_m(119.0, lat, 119.0 + d_lon, lat) < 1_020.0
    d_lon, d_lat = metres_to_degrees(np.array([10.0, 100.0]), 29.0)
    assert d_lon.shape == (2,) and d_lon[1] == pytest.approx(10 * d_lon[0])
