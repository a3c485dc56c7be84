"""Zone areas in WGS-84 and in a local metric frame: where simulated homes, trips and excursions go."""

from __future__ import annotations

import numpy as np
import shapely
import shapely.ops

from config.model import PersonSpec, ZoneSpec
from geofences.crs import convert_geometry_to_wgs84
from geofences.geodesy import LocalFrame


def _to_metric(geom, frame: LocalFrame):
    return shapely.transform(geom, frame.forward_coords)


def _from_metric(geom, frame: LocalFrame):
    return shapely.transform(geom, lambda xy: np.column_stack(frame.inverse(xy[:, 0], xy[:, 1])))


def zone_area_wgs84(z: ZoneSpec):
    """The zone's area in WGS-84 degrees; circles and corridors are buffered in metres."""
    geom = convert_geometry_to_wgs84(z.geometry, z.crs)
    if z.radius_m is None:
        return geom
    c = geom.centroid
    frame = LocalFrame(c.x, c.y)
    return _from_metric(_to_metric(geom, frame).buffer(z.radius_m, quad_segs=16), frame)


class HomeArea:
    """A home area in a local metric frame, with the inner part homes are drawn from."""

    def __init__(self, zone: ZoneSpec):
        self.zone = zone
        self.wgs84 = zone_area_wgs84(zone)
        c = self.wgs84.centroid
        self.frame = LocalFrame(c.x, c.y)
        self.metric = _to_metric(self.wgs84, self.frame)
        # Keep homes kilometres from the boundary where the area allows, so a day's roaming
        # and GNSS error do not wander across it.
        self.inner, self.inset = self.metric, 0.0
        for inset in (2000.0, 1000.0, 500.0, 200.0, 50.0):
            inner = self.metric.buffer(-inset)
            if inner.area >= 0.05 * self.metric.area:
                self.inner, self.inset = inner, inset
                break
        shapely.prepare(self.inner)
        shapely.prepare(self.metric)
        self._core = None

    def sample(self, n: int, rng: np.random.Generator, inner: bool = True):
        """n uniform points of the inner (or the whole) area, as WGS-84 lon/lat arrays."""
        region = self.inner if inner else self.metric
        if n <= 0:
            return np.empty(0), np.empty(0)
        minx, miny, maxx, maxy = region.bounds
        fill = max(region.area / ((maxx - minx) * (maxy - miny)), 0.01)
        xs, ys, have = [], [], 0
        while have < n:
            m = int((n - have) / fill * 1.2) + 16
            x, y = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
            ok = shapely.contains_xy(region, x, y)
            xs.append(x[ok][: n - have])
            ys.append(y[ok][: n - have])
            have += len(xs[-1])
        return self.frame.inverse(np.concatenate(xs), np.concatenate(ys))

    def keeps_inside(self, lon0: float, lat0: float, lon1: float, lat1: float) -> bool:
        """Does a straight trip stay well inside? (Roaming adds up to ~500 m either side.)"""
        if self._core is None:
            self._core = self.metric.buffer(-600.0)
            shapely.prepare(self._core)
        x, y = self.frame.forward(np.array([lon0, lon1]), np.array([lat0, lat1]))
        return bool(self._core.contains(shapely.LineString(np.column_stack([x, y]))))

    def outside_point(self, lon: float, lat: float, out_m: float) -> tuple[float, float]:
        """The point `out_m` outside the area that is nearest to (lon, lat)."""
        # every point of the grown area's boundary (islands and lakes included) is out_m away
        edge = self.metric.buffer(out_m, quad_segs=4).boundary
        x, y = self.frame.forward(lon, lat)
        p = shapely.ops.nearest_points(edge, shapely.Point(x, y))[0]
        return tuple(float(v) for v in self.frame.inverse(p.x, p.y))


def applies_to(z: ZoneSpec, p: PersonSpec) -> bool:
    return (z.applies_to_all or z.zone_id in p.zones
            or bool(set(z.applies_to_groups) & set(p.groups)))


def destination_point(text: str) -> tuple[float, float] | None:
    """A WGS-84 point for a permit's free-text destination, via the county index."""
    try:
        from geofences.admin_import import AdminDataMissing, find_admin
        cities, counties = find_admin(level="市"), find_admin()
    except (ImportError, AdminDataMissing):
        return None

    def said(name: str) -> bool:  # "杭州" or "杭州市"
        return bool(name) and (name in text or (len(name) > 2 and name[:-1] in text))

    best = [a for a in counties if said(a.city) and said(a.district)]
    best = best or [a for a in cities if said(a.city)] or [a for a in counties if said(a.district)]
    if not best:
        return None
    pt = convert_geometry_to_wgs84(best[0].geometry(), "gcj02").representative_point()
    return pt.x, pt.y
