"""One zone's geometry, in WGS-84, and the INSIDE / BAND / OUT decision for fixes against it.

Geometry rules, chosen so that every decision is the same whichever shortcut produced it:

* Zones are closed sets: a fix exactly on a boundary (or at exactly `radius_m`) is INSIDE.
  Polygons therefore use `intersects_xy`, not `contains_xy`, which excludes the boundary.
* The distance outside is measured, not projected: the nearest boundary point is searched in
  the zone's `LocalFrame` (flat metres), then the fix-to-point distance is `distance_m` on the
  ellipsoid. The frame only picks the point; its scale drift (~0.2 % across a county) can
  pick a slightly wrong one, which only lengthens the result. Against a frame centred on each
  fix, fixes up to 1 km outside real county boundaries (婺城区, 兰溪市, all of 杭州市) came out
  within 5 cm.
* OUT needs the distance outside to be strictly greater than the threshold.
* Shortcuts (bounding box in degrees, pre-buffered rings, `dwithin` in the frame with the
  frame's `scale_bounds`) only settle fixes whose answer the measurement provably agrees with.
* Zones must not cross the antimeridian (irrelevant for China, where they live).
"""

from __future__ import annotations

import numpy as np
import shapely

from geofences.geodesy import LocalFrame, distance_m, metres_to_degrees
from geofences.rings import BufferRings

INSIDE, BAND, OUT = 0, 1, 2
POLYGON, CIRCLE, CORRIDOR = 0, 1, 2

# Slack (metres) on every conservative shortcut, far above float64 rounding and distance_m's
# own error at these ranges.
SLACK_M = 0.01


def _classify(d_out: np.ndarray, thr: np.ndarray) -> np.ndarray:
    return np.where(d_out <= 0.0, INSIDE, np.where(d_out > thr, OUT, BAND)).astype(np.int8)


# The two steps below take one zone's scalars or one row per fix (zones.CompiledZones decides
# every zone's fixes at once with them; a Python call per zone costs more than the arithmetic).

def near_bbox(bounds: np.ndarray, lon, lat, thr) -> np.ndarray:
    """False where the fix is provably more than `thr` metres from the zone's area.
    `bounds` is (minx, miny, maxx, maxy), one zone's or one row per fix."""
    minx, miny, maxx, maxy = np.asarray(bounds).T
    dx = np.maximum(np.maximum(minx - lon, lon - maxx), 0.0)
    dy = np.maximum(np.maximum(miny - lat, lat - maxy), 0.0)
    # distance_m's east-west scale is smallest at the most poleward latitude involved
    pole = np.maximum(np.abs(lat), np.maximum(np.abs(miny), np.abs(maxy)))
    d_lon, d_lat = metres_to_degrees(thr + SLACK_M, pole)
    return (dx <= d_lon) & (dy <= d_lat)


def relate_circle(centre_lon, centre_lat, radius_m, lon, lat, thr) -> np.ndarray:
    """A circle's INSIDE / BAND / OUT: the measured distance to the centre against the radius."""
    return _classify(distance_m(centre_lon, centre_lat, lon, lat) - radius_m, thr)


class ZoneShape:
    """A polygon, a circle (centre + radius) or a corridor (line + radius), in WGS-84."""

    def __init__(self, geom, radius_m: float | None, buffer_m: float, label: str = ""):
        kind = geom.geom_type
        if geom.is_empty:
            raise ValueError(f"{label}: empty geometry")
        if kind in ("Polygon", "MultiPolygon"):
            self.kind, self.radius_m = POLYGON, 0.0
            if not geom.is_valid:  # the shortcuts (buffers, dwithin) assume valid polygons
                geom = shapely.make_valid(geom)
        elif kind == "Point" and radius_m is not None:
            self.kind, self.radius_m = CIRCLE, float(radius_m)
        elif kind in ("LineString", "MultiLineString") and radius_m is not None:
            self.kind, self.radius_m = CORRIDOR, float(radius_m)
        else:
            raise ValueError(f"{label}: geometry {kind} is not a zone shape (radius_m missing?)")
        shapely.prepare(geom)
        self.geometry = geom
        minx, miny, maxx, maxy = geom.bounds
        d_lon, d_lat = metres_to_degrees(self.radius_m, max(abs(miny), abs(maxy)) + 1.0)
        # the whole area, radius included
        self.bounds = np.array([minx - d_lon, miny - d_lat, maxx + d_lon, maxy + d_lat])
        self.frame = LocalFrame((minx + maxx) / 2.0, (miny + maxy) / 2.0)
        # lon, lat of a circle's centre (NaN for other shapes)
        self.centre: np.ndarray = (shapely.get_coordinates(geom)[0] if self.kind == CIRCLE
                                   else np.full(2, np.nan))
        self.local_geom = self.rings = None
        if self.kind != CIRCLE:
            self.local_geom = shapely.transform(geom, self.frame.forward_coords)
            shapely.prepare(self.local_geom)
        if self.kind == POLYGON:
            self.rings = BufferRings(self.frame, self.local_geom, self.bounds, buffer_m)

    def __setstate__(self, state: dict) -> None:
        # from the bundle cache: pickles keep geometries, not GEOS's prepared indexes
        self.__dict__.update(state)
        shapely.prepare(self.geometry)
        if self.local_geom is not None:
            shapely.prepare(self.local_geom)

    # -- decisions -------------------------------------------------------------------------

    def relate(self, lon: np.ndarray, lat: np.ndarray, thr: np.ndarray) -> np.ndarray:
        """INSIDE / BAND / OUT (int8) with OUT meaning distance outside > thr (metres).
        One zone's decision, step by step: the reference `CompiledZones.relate`, which takes
        these steps for all zones at once, is tested against."""
        codes = np.full(lon.size, OUT, dtype=np.int8)
        near = np.flatnonzero(near_bbox(self.bounds, lon, lat, thr))
        if near.size == 0:
            return codes
        lon, lat, thr = lon[near], lat[near], thr[near]
        if self.kind == CIRCLE:
            codes[near] = relate_circle(self.centre[0], self.centre[1], self.radius_m, lon, lat,
                                         thr)
            return codes
        sub = np.full(near.size, OUT, dtype=np.int8)
        todo = np.arange(near.size)
        if self.kind == POLYGON:
            inside = shapely.intersects_xy(self.geometry, lon, lat)
            sub[inside] = INSIDE
            todo = np.flatnonzero(~inside)
        if todo.size:
            sub[todo] = self.relate_not_inside(lon[todo], lat[todo], thr[todo])
        codes[near] = sub
        return codes

    def distance_outside(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Metres outside the zone, 0 inside (no shortcuts)."""
        if self.kind == CIRCLE:
            return np.maximum(distance_m(self.centre[0], self.centre[1], lon, lat) - self.radius_m, 0.0)
        out = np.zeros(lon.size)
        todo = np.arange(lon.size)
        if self.kind == POLYGON:
            todo = np.flatnonzero(~shapely.intersects_xy(self.geometry, lon, lat))
        if todo.size:
            pts = shapely.points(*self.frame.forward(lon[todo], lat[todo]))
            d = self._measured_m(lon[todo], lat[todo], pts) - self.radius_m
            out[todo] = np.maximum(d, 0.0)
        return out

    # -- internals -------------------------------------------------------------------------

    def relate_not_inside(self, lon, lat, thr) -> np.ndarray:
        """Polygons: fixes known to be outside. Corridors: any fix. (What `relate` leaves
        after the bounding box, the circle formula and the polygon's own test.)"""
        x, y = self.frame.forward(lon, lat)
        if self.rings is None:
            return self._relate_shell(lon, lat, x, y, thr)
        codes = np.full(lon.size, OUT, dtype=np.int8)
        sure_out, sure_band = self.rings.settle(x, y, lat, thr)
        codes[sure_band] = BAND
        rest = np.flatnonzero(~(sure_out | sure_band))
        codes[rest] = self._relate_shell(lon[rest], lat[rest], x[rest], y[rest], thr[rest])
        return codes

    def _relate_shell(self, lon, lat, x, y, thr) -> np.ndarray:
        _, miny, _, maxy = self.bounds
        # frame distance / distance_m lies in [s_lo, s_hi] between these latitudes
        s_lo, s_hi = self.frame.scale_bounds(np.minimum(lat, miny), np.maximum(lat, maxy))
        pts = shapely.points(x, y)
        codes = np.full(lon.size, OUT, dtype=np.int8)
        maybe = shapely.dwithin(self.local_geom, pts, (self.radius_m + thr) * s_hi + SLACK_M)
        is_polygon = self.kind == POLYGON
        if is_polygon:  # known outside, so within thr in the worst scale is BAND
            sure_band = maybe & shapely.dwithin(self.local_geom, pts, thr * s_lo - SLACK_M)
            codes[sure_band] = BAND
            maybe &= ~sure_band
        exact = np.flatnonzero(maybe)
        if exact.size:
            d = self._measured_m(lon[exact], lat[exact], pts[exact]) - self.radius_m
            if is_polygon:  # never INSIDE here, even when touching the boundary after rounding
                d = np.maximum(d, np.nextafter(0.0, 1.0))
            codes[exact] = _classify(d, thr[exact])
        return codes

    def _measured_m(self, lon, lat, pts) -> np.ndarray:
        """distance_m from each fix to the nearest point of the boundary or line."""
        ends = shapely.get_coordinates(shapely.shortest_line(self.local_geom, pts))
        nearest_lon, nearest_lat = self.frame.inverse(ends[0::2, 0], ends[0::2, 1])
        return distance_m(lon, lat, nearest_lon, nearest_lat)
