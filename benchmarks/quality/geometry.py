"""The home district's boundary in a flat metric frame: where to put people, how far out they are.

Distances here are planar in one local frame centred on the district (~50 km across). The
frame's scale differs from the ellipsoid's by well under 0.5 % over that span, a couple of
metres at the depths the benchmark cares about (50-400 m), so truth and engine agree.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString

from config.model import ZoneSpec
from geofences.geodesy import LocalFrame
from stream.simulate.areas import zone_area_wgs84


class Boundary:
    """An inclusion zone's area, metric, with signed distances (positive = outside)."""

    def __init__(self, zone: ZoneSpec):
        self.zone_id = zone.zone_id
        wgs84 = zone_area_wgs84(zone)
        c = wgs84.centroid
        self.frame = LocalFrame(c.x, c.y)
        self.area = shapely.transform(wgs84, self.frame.forward_coords)
        self.edge = self.area.boundary
        shapely.prepare(self.area)
        rings = list(self.edge.geoms) if isinstance(self.edge, MultiLineString) else [self.edge]
        segments = []
        for ring in rings:
            c = np.asarray(ring.coords)
            segments.append(shapely.linestrings(np.stack([c[:-1], c[1:]], axis=1)))
        # nearest boundary segment through a tree: millions of truth points stay cheap
        self._segments = shapely.STRtree(np.concatenate(segments))
        self._offset_curves: dict[int, list[LineString]] = {}

    def signed_out_m(self, x, y) -> np.ndarray:
        """Distance to the boundary, positive outside, negative inside (metres)."""
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        idx, dist = self._segments.query_nearest(shapely.points(x, y), return_distance=True,
                                                 all_matches=False)
        d = np.empty(x.size)
        d[idx[0]] = dist
        return np.where(shapely.contains_xy(self.area, x, y), -d, d)

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        return self.frame.inverse(x, y)

    def edge_point(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A uniformly random boundary point and the unit normal pointing out of the area."""
        length = self.edge.length
        s = float(rng.uniform(0, length))
        a = self.edge.interpolate(max(s - 5.0, 0.0))
        b = self.edge.interpolate(min(s + 5.0, length))
        p = self.edge.interpolate(s)
        t = np.array([b.x - a.x, b.y - a.y])
        t /= np.hypot(*t) or 1.0
        n = np.array([t[1], -t[0]])
        here = np.array([p.x, p.y])
        if shapely.contains_xy(self.area, *(here + 20.0 * n)):
            n = -n
        return here, n

    def point_at_depth(self, rng: np.random.Generator, lo_m: float, hi_m: float,
                       tries: int = 200) -> tuple[float, float, float]:
        """(x, y, depth): a point whose true distance inside the boundary is in [lo_m, hi_m]."""
        for _ in range(tries):
            p, n = self.edge_point(rng)
            d = float(rng.uniform(lo_m, hi_m))
            x, y = p - d * n
            depth = -float(self.signed_out_m(x, y)[0])
            if lo_m <= depth <= hi_m:
                return float(x), float(y), depth
        raise RuntimeError(f"no point {lo_m}-{hi_m} m inside {self.zone_id} after {tries} tries")

    def inside_curve(self, depth_m: float) -> list[LineString]:
        """The lines that run exactly depth_m inside the boundary (longest first)."""
        key = int(round(depth_m))
        if key not in self._offset_curves:
            curve = self.area.buffer(-float(key), quad_segs=8).boundary
            parts = list(curve.geoms) if isinstance(curve, MultiLineString) else [curve]
            self._offset_curves[key] = sorted(parts, key=lambda g: -g.length)
        return self._offset_curves[key]
