import numpy as np
import pytest
import shapely

from geofences import crs
from geofences.geodesy import distance_m

JINHUA = (119.65, 29.08)


def _china_sample(n=50_000, seed=7):
    rng = np.random.default_rng(seed)
    return rng.uniform(74.0, 134.0, n), rng.uniform(18.0, 53.0, n)


def test_published_reference_values():
    # The widely published test vector for the GCJ-02 / BD-09 formulas (Tiananmen area).
    lon, lat = crs.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)
    lon, lat = crs.gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-12)
    assert lat == pytest.approx(39.92133699351021, abs=1e-12)


def test_gcj02_offset_in_jinhua_is_several_hundred_metres():
    g_lon, g_lat = crs.wgs84_to_gcj02(*JINHUA)
    assert 300.0 < distance_m(*JINHUA, g_lon, g_lat) < 700.0


def test_bd09_offset_from_gcj02_is_hundreds_of_metres():
    g = crs.wgs84_to_gcj02(*JINHUA)
    b = crs.gcj02_to_bd09(*g)
    assert 200.0 < distance_m(*g, *b) < 1500.0


def test_round_trip_wgs_gcj_wgs_within_a_centimetre():
    lon, lat = _china_sample()
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    assert distance_m(lon, lat, *back).max() < 0.01
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(*JINHUA))
    assert distance_m(*JINHUA, *back) < 0.01


def test_round_trip_through_bd09_within_a_centimetre():
    lon, lat = _china_sample(seed=8)
    assert distance_m(lon, lat, *crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat))).max() < 0.01
    assert distance_m(lon, lat, *crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))).max() < 0.01


def test_inverse_is_exact_not_the_one_step_approximation():
    # The common one-step inverse (gcj - offset(gcj)) is off by metres; ours must not be.
    g_lon, g_lat = crs.wgs84_to_gcj02(*JINHUA)
    rough = crs.wgs84_to_gcj02(g_lon, g_lat)
    one_step = (g_lon - (rough[0] - g_lon), g_lat - (rough[1] - g_lat))
    exact = crs.gcj02_to_wgs84(g_lon, g_lat)
    assert distance_m(*JINHUA, *one_step) > 0.1
    assert distance_m(*JINHUA, *exact) < 1e-4


def test_outside_china_gcj02_is_wgs84():
    paris = (2.3522, 48.8566)
    assert crs.wgs84_to_gcj02(*paris) == paris
    assert crs.gcj02_to_wgs84(*paris) == paris
    assert not crs.in_china_rough(*paris)
    assert crs.in_china_rough(*JINHUA)


def test_to_wgs84_dispatch_and_vectorised_shapes():
    lon, lat = np.array([119.65, 120.1]), np.array([29.08, 30.2])
    assert np.array_equal(crs.to_wgs84(lon, lat, "wgs84")[0], lon)
    g = crs.wgs84_to_gcj02(lon, lat)
    back = crs.to_wgs84(*g, "gcj02")
    assert back[0].shape == (2,)
    assert distance_m(lon, lat, *back).max() < 0.01
    b = crs.from_wgs84(lon, lat, "bd09")
    assert distance_m(lon, lat, *crs.to_wgs84(*b, "bd09")).max() < 0.01
    with pytest.raises(ValueError, match="unknown crs"):
        crs.to_wgs84(lon, lat, "cgcs2000x")


def test_convert_geometry_moves_every_vertex():
    ring = [(119.6, 29.0), (119.7, 29.0), (119.7, 29.1), (119.6, 29.1)]
    poly = shapely.Polygon(ring)
    assert crs.convert_geometry_to_wgs84(poly, "wgs84") is poly
    moved = crs.convert_geometry_to_wgs84(poly, "gcj02")
    coords = shapely.get_coordinates(moved)
    expect = np.column_stack(crs.gcj02_to_wgs84(*shapely.get_coordinates(poly).T))
    assert np.allclose(coords, expect, atol=1e-12, rtol=0)
    assert moved.is_valid
    line = crs.convert_geometry_to_wgs84(shapely.LineString(ring), "bd09")
    assert shapely.get_num_coordinates(line) == 4
