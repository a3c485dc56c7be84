"""All zones of a bundle, compiled for vectorised (fix, zone) decisions (SPEC §3).

`relate` answers, for (fix, zone) pairs, INSIDE / BAND / OUT:

* inclusion: INSIDE if the fix centre is inside; OUT if its distance outside exceeds
  max(buffer_m, accuracy_sigmas × accuracy_m); BAND in between (the hysteresis band where
  nothing changes). Phones report a 68 % radius and often understate it, so the zone's
  accuracy_sigmas (default 2) widens it to the fix's ~95 % circle.
* exclusion: INSIDE if the centre is inside; OUT if the distance outside exceeds buffer_m
  (accuracy is ignored, SPEC §3: a fix qualifies on its centre, clears beyond the buffer).

Geometry rules (closed zones, measured distances, strict OUT) are in geofences/shapes.py.
Most pairs are decided in a few vectorised passes over all pairs at once; the rest are grouped
by zone with one sort (one pass per distinct zone), never a Python loop per fix.
"""

from __future__ import annotations

import numpy as np
import shapely

from config.model import Window, ZoneSpec
from geofences.crs import convert_geometry_to_wgs84
from geofences.geodesy import metres_to_degrees
from geofences.gridindex import GridIndex
from geofences.interior import InteriorGrids
from geofences.schedule import Schedule
from geofences.shapes import (
    BAND,
    CIRCLE,
    CORRIDOR,
    INSIDE,
    OUT,
    POLYGON,
    ZoneShape,
    near_bbox,
    relate_circle,
)

__all__ = ["CompiledZones", "INSIDE", "BAND", "OUT", "POLYGON", "CIRCLE", "CORRIDOR"]

# Extra reach (metres) of an exclusion zone's candidate envelope beyond its buffer.
_CANDIDATE_MARGIN_M = 5.0


def _groups(zone_idx: np.ndarray):
    """(zone, positions) for each distinct zone in `zone_idx`."""
    if zone_idx.size and np.all(zone_idx == zone_idx[0]):
        yield int(zone_idx[0]), np.arange(zone_idx.size)
        return
    order = np.argsort(zone_idx, kind="stable")
    cuts = np.flatnonzero(np.diff(zone_idx[order])) + 1
    for part in np.split(order, cuts):
        if part.size:
            yield int(zone_idx[part[0]]), part


def _flat(zone_idx, *values) -> list[np.ndarray]:
    arrays = [np.asarray(zone_idx, dtype=np.intp)] + [
        np.asarray(v, dtype=np.float64) for v in values
    ]
    return [a.ravel() for a in np.broadcast_arrays(*arrays)]


class CompiledZones:
    """Per-zone arrays, indexed by position in the `zones` list given to `build`."""

    zone_ids: list[str]
    index: dict[str, int]
    severity: list[str]
    kind_inclusion: np.ndarray  # bool
    buffer_m: np.ndarray
    accuracy_sigmas: np.ndarray
    has_schedule: np.ndarray  # bool
    schedules: list[Schedule]
    shapes: list[ZoneShape]
    shape: np.ndarray  # int8: POLYGON, CIRCLE, CORRIDOR
    radius_m: np.ndarray
    bounds: np.ndarray  # (n, 4): minx, miny, maxx, maxy with the radius
    exclusion_envelopes: np.ndarray
    _centres: np.ndarray
    _geometry_array: np.ndarray  # object: the shapes' WGS-84 geometries
    _interior: InteriorGrids
    _exclusion_idx: np.ndarray
    _exclusion_grid: GridIndex

    @classmethod
    def build(
        cls, zones: list[ZoneSpec], convert_datum: bool = True, tz: str = "Asia/Shanghai",
        accuracy_sigmas: float = 2.0,
    ) -> CompiledZones:
        """convert_datum=False keeps coordinates as written, whatever their crs: only to
        demonstrate the datum trap (Settings.datum_conversion). `accuracy_sigmas` applies to
        the zones that do not set their own."""
        self = cls()
        self.zone_ids = [s.zone_id for s in zones]
        self.index = {zone_id: i for i, zone_id in enumerate(self.zone_ids)}
        if len(self.index) != len(self.zone_ids):
            dup = next(z for z in self.zone_ids if self.zone_ids.count(z) > 1)
            raise ValueError(f"duplicate zone_id {dup!r}")
        self.severity = [s.severity for s in zones]
        self.kind_inclusion = np.array([s.kind == "inclusion" for s in zones], dtype=bool)
        self.buffer_m = np.array([s.buffer_m for s in zones], dtype=np.float64)
        self.accuracy_sigmas = np.array(
            [accuracy_sigmas if s.accuracy_sigmas is None else s.accuracy_sigmas for s in zones],
            dtype=np.float64)
        self.has_schedule = np.array([s.schedule is not None for s in zones], dtype=bool)
        shared: dict[tuple[Window, ...] | None, Schedule] = {}  # identical curfews: one cache
        self.schedules = [shared.setdefault(s.schedule, Schedule(s.schedule, tz)) for s in zones]
        self.shapes = []
        for spec in zones:
            geom = spec.geometry
            if convert_datum:
                geom = convert_geometry_to_wgs84(geom, spec.crs)
            label = spec.source or f"zone {spec.zone_id!r}"
            self.shapes.append(ZoneShape(geom, spec.radius_m, spec.buffer_m, label))
        self.shape = np.array([s.kind for s in self.shapes], dtype=np.int8)
        self.radius_m = np.array([s.radius_m for s in self.shapes], dtype=np.float64)
        self.bounds = np.array([s.bounds for s in self.shapes], dtype=np.float64).reshape(-1, 4)
        self._centres = np.array([s.centre if s.kind == CIRCLE else (np.nan, np.nan)
                                  for s in self.shapes], dtype=np.float64).reshape(-1, 2)
        self._geometry_array = np.empty(len(self.shapes), dtype=object)
        self._geometry_array[:] = [s.geometry for s in self.shapes]
        self._interior = InteriorGrids(self._geometry_array, self.shape == POLYGON)
        self._build_exclusion_index()
        return self

    def __len__(self) -> int:
        return len(self.zone_ids)

    # WGS-84 geometries (prepared): polygon, circle centre Point or corridor line
    @property
    def geometries(self) -> list:
        return [s.geometry for s in self.shapes]

    @property
    def frames(self) -> list:
        return [s.frame for s in self.shapes]

    @property
    def local_geoms(self) -> list:
        return [s.local_geom for s in self.shapes]

    # -- decisions -------------------------------------------------------------------------

    def relate(self, zone_idx, lon, lat, accuracy_m) -> np.ndarray:
        """int8 INSIDE / BAND / OUT for each pair (zone zone_idx[i], fix i).

        ZoneShape.relate's steps, each taken for all zones at once: the bounding box, the
        circles' formula, the polygons' own test (an interior-cell lookup, then one shapely
        call over the prepared geometries for the fixes it leaves); only fixes near a polygon
        but outside it, and corridors, go zone by zone."""
        zone_idx, lon, lat, acc = _flat(zone_idx, lon, lat, accuracy_m)
        codes = np.full(zone_idx.size, OUT, dtype=np.int8)
        buffer = self.buffer_m[zone_idx]
        thr = np.where(self.kind_inclusion[zone_idx],
                       np.maximum(buffer, self.accuracy_sigmas[zone_idx] * acc), buffer)
        near = np.flatnonzero(near_bbox(self.bounds[zone_idx], lon, lat, thr))
        shape = self.shape[zone_idx[near]]
        circle = near[shape == CIRCLE]
        if circle.size:
            z = zone_idx[circle]
            codes[circle] = relate_circle(self._centres[z, 0], self._centres[z, 1],
                                          self.radius_m[z], lon[circle], lat[circle], thr[circle])
        polygon = near[shape == POLYGON]
        inside = self._interior.surely_inside(zone_idx[polygon], lon[polygon], lat[polygon])
        unsure = ~inside
        exact = polygon[unsure]
        inside[unsure] = shapely.intersects_xy(self._geometry_array[zone_idx[exact]], lon[exact],
                                               lat[exact])
        codes[polygon[inside]] = INSIDE
        rest = np.concatenate([polygon[~inside], near[shape == CORRIDOR]])
        for z, pos in _groups(zone_idx[rest]):
            at = rest[pos]
            codes[at] = self.shapes[z].relate_not_inside(lon[at], lat[at], thr[at])
        return codes

    def relate_one(self, zone_idx: int, lon: float, lat: float, accuracy_m: float) -> int:
        return int(self.relate([zone_idx], [lon], [lat], [accuracy_m])[0])

    def distance_outside_m(self, zone_idx, lon, lat) -> np.ndarray:
        """Metres from fix i to zone zone_idx[i]; 0 when inside."""
        zone_idx, lon, lat = _flat(zone_idx, lon, lat)
        out = np.zeros(zone_idx.size)
        for z, pos in _groups(zone_idx):
            out[pos] = self.shapes[z].distance_outside(lon[pos], lat[pos])
        return out

    def active_at(self, zone_idx: int, ts_ms) -> np.ndarray:
        return self.schedules[zone_idx].active_at(ts_ms)

    # -- exclusion candidates --------------------------------------------------------------

    def _build_exclusion_index(self) -> None:
        self._exclusion_idx = np.flatnonzero(~self.kind_inclusion)
        b = self.bounds[self._exclusion_idx]
        reach = self.buffer_m[self._exclusion_idx] + _CANDIDATE_MARGIN_M
        _, d_lat = metres_to_degrees(reach, 0.0)
        # the east-west scale is smallest at the most poleward latitude a nearby fix can have
        pole = np.maximum(np.abs(b[:, 1]), np.abs(b[:, 3])) + d_lat
        d_lon, _ = metres_to_degrees(reach, pole)
        self.exclusion_envelopes = np.column_stack(
            [b[:, 0] - d_lon, b[:, 1] - d_lat, b[:, 2] + d_lon, b[:, 3] + d_lat]
        )
        self._exclusion_grid = GridIndex(self.exclusion_envelopes)

    def exclusion_candidates(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(point_idx, zone_idx) pairs, sorted, of exclusion zones whose buffer may reach the
        fix: its envelope (bounds widened by buffer_m + a margin) holds the fix. Any other
        (fix, exclusion zone) pair is OUT: the fix is beyond buffer_m."""
        _, lon, lat = _flat(0, lon, lat)
        point_idx, box_idx = self._exclusion_grid.query(lon, lat)
        # _exclusion_idx is increasing, so the (point, zone) order survives the mapping
        return point_idx, self._exclusion_idx[box_idx]
