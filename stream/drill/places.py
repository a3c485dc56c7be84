"""Where an injected incident takes a person: home, just outside a zone, into a venue, far away.

All points are WGS-84. Decisions about inside/outside are the engine's own (CompiledZones
through the Caseload), so the plan predicts exactly what the rules will see; areas for
sampling and for "the nearest point N metres outside" come from the simulator's zone areas
(circles and corridors buffered in metres).
"""

from __future__ import annotations

import numpy as np
import shapely
import shapely.ops

from alerts.caseload import Caseload
from geofences.geodesy import LocalFrame, distance_m, metres_to_degrees
from geofences.zones import INSIDE, OUT
from stream.simulate.areas import zone_area_wgs84

Point = tuple[float, float]


class Places:
    def __init__(self, caseload: Caseload, seed: int = 0):
        self.cl = caseload
        self.specs = caseload.bundle.zones
        self.rng = np.random.default_rng(seed)
        self._areas: dict[int, object] = {}
        self._homes: dict[int, Point | None] = {}

    # -- zones of a person ------------------------------------------------------------------
    def zone_index(self, zone_id: str) -> int | None:
        return self.cl.zones.index.get(zone_id)

    def applies(self, p: int, z: int) -> bool:
        return bool(self.cl.assignment.applies(np.array([p]), np.array([z]))[0])

    def steady_inclusion(self, p: int) -> int | None:
        """The person's always-active inclusion zone (the home district), if any."""
        zones = [int(z) for z in self.cl.assignment.inclusion_zones_of(p)]
        steady = [z for z in zones if self.specs[z].schedule is None]
        polygons = [z for z in steady if self.specs[z].radius_m is None]
        return (polygons or steady or zones or [None])[0]

    def exclusions_for(self, p: int) -> list[int]:
        return [z for z, s in enumerate(self.specs) if s.kind == "exclusion" and self.applies(p, z)]

    def area(self, z: int):
        if z not in self._areas:
            self._areas[z] = zone_area_wgs84(self.specs[z])
        return self._areas[z]

    # -- points -----------------------------------------------------------------------------
    def home(self, p: int) -> Point | None:
        """A calm spot for a person the base feed does not carry: inside every steady zone,
        well inside the home zone and a kilometre clear of every exclusion zone. The same
        spot every time it is asked for."""
        if p not in self._homes:
            self._homes[p] = self._find_home(p)
        return self._homes[p]

    def _find_home(self, p: int) -> Point | None:
        home = self.steady_inclusion(p)
        if home is None:
            return None
        area = self.area(home)
        c = area.representative_point()
        frame = LocalFrame(c.x, c.y)
        metric = shapely.transform(area, frame.forward_coords)
        for inset in (2000.0, 1000.0, 300.0, 0.0):
            inner = metric.buffer(-inset) if inset else metric
            if inner.is_empty:
                continue
            for _ in range(60):
                pt = self._sample(inner)
                if pt is not None:
                    lon, lat = (float(v) for v in frame.inverse(*pt))
                    if self.calm_at(p, lon, lat):
                        return lon, lat
        return c.x, c.y

    def calm_at(self, p: int, lon: float, lat: float, clear_m: float = 1000.0) -> bool:
        for z in self.cl.assignment.inclusion_zones_of(p):
            if self.specs[z].schedule is None and self.cl.zones.relate_one(int(z), lon, lat, 10.0) != INSIDE:
                return False
        return all(self.distance_outside(int(z), lon, lat) >= clear_m
                   for z in self._exclusions_near(lon, lat, clear_m))

    def _exclusions_near(self, lon: float, lat: float, reach_m: float) -> np.ndarray:
        """Exclusion zones whose bounds come within reach_m: a province has thousands of
        venues, and measuring the distance to each one is what would take the time."""
        zones = self.cl.zones
        d_lon, d_lat = metres_to_degrees(reach_m, abs(lat) + 1.0)
        b = zones.bounds
        near = (~zones.kind_inclusion & (b[:, 0] - d_lon <= lon) & (lon <= b[:, 2] + d_lon)
                & (b[:, 1] - d_lat <= lat) & (lat <= b[:, 3] + d_lat))
        return np.flatnonzero(near)

    def distance_outside(self, z: int, lon: float, lat: float) -> float:
        return float(self.cl.zones.distance_outside_m([z], [lon], [lat])[0])

    def relate(self, z: int, lon: float, lat: float, accuracy_m: float) -> int:
        return self.cl.zones.relate_one(z, lon, lat, accuracy_m)

    def outside(self, z: int, near: Point, out_m: float) -> Point:
        """The point `out_m` outside zone z that is nearest to `near`."""
        area = self.area(z)
        frame = LocalFrame(*near)
        metric = shapely.transform(area, frame.forward_coords)
        edge = metric.buffer(out_m, quad_segs=8).boundary
        q = shapely.ops.nearest_points(edge, shapely.Point(0.0, 0.0))[0]
        lon, lat = frame.inverse(q.x, q.y)
        return float(lon), float(lat)

    def inside(self, z: int) -> Point:
        """Well inside zone z: a circle's centre, a polygon's representative point."""
        c = self.area(z).representative_point()
        return float(c.x), float(c.y)

    def nearest_exclusion(self, p: int, near: Point) -> int | None:
        found = self.exclusions_for(p)
        if not found:
            return None
        return min(found, key=lambda z: self.distance_outside(z, *near))

    def far_point(self, p: int | None, near: Point, distances: list[float]) -> Point:
        """A point at one of `distances` metres, where the person may be (inside their steady
        zones, clear of exclusions) if there is one, so that a jump raises only the jump."""
        frame = LocalFrame(*near)
        angles = np.arange(12) * np.pi / 6
        first = None
        for d in distances:
            for a in angles:
                lon, lat = (float(v) for v in frame.inverse(d * np.cos(a), d * np.sin(a)))
                first = first or (lon, lat)
                if p is None or self.calm_at(p, lon, lat, clear_m=300.0):
                    return lon, lat
        return first

    def _sample(self, region) -> tuple[float, float] | None:
        minx, miny, maxx, maxy = region.bounds
        x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
        return (x, y) if shapely.contains_xy(region, x, y) else None


def travel(a: Point, b: Point, t0: int, speed_mps: float, step_ms: int) -> list[tuple[int, float, float]]:
    """Fixes along a straight trip from a to b leaving at t0: (ts, lon, lat), b last.
    A plausible speed, so that no location_jump is raised on the way."""
    dist = float(distance_m(a[0], a[1], b[0], b[1]))
    total_ms = max(int(dist / speed_mps * 1000), step_ms)
    n = max(1, -(-total_ms // step_ms))
    out = []
    for k in range(1, n + 1):
        f = k / n
        out.append((t0 + round(total_ms * f), a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f))
    return out


__all__ = ["INSIDE", "OUT", "Places", "Point", "travel"]
