"""Pre-buffered rings around a polygon zone: the cheap first answer for fixes outside it.

Measuring the distance from a fix to a county boundary with thousands of vertices costs
~10 µs; a point-in-polygon test against a prepared polygon ~0.1 µs. Buffering the zone once
by (a bit more than) its threshold, and once by (a bit less), lets two such tests settle nearly
every outside fix as surely OUT or surely BAND, leaving only a thin shell around the exact
threshold for `ZoneShape` to measure.
"""

from __future__ import annotations

import numpy as np
import shapely

from geofences.geodesy import LocalFrame, metres_to_degrees

# GEOS buffers approximate arcs by inscribed chords (8 per quarter circle) and simplify their
# input by up to 1 % of the distance; these factors absorb both generously. Too generous only
# sends more fixes to the exact path; too tight would change answers (tests guard this).
_CHORD_SAG = float(np.cos(np.pi / 32))
_OUTER_FACTOR, _INNER_FACTOR, _RING_SLACK_M = 1.05 / _CHORD_SAG, 0.95, 1.0
# A second outer ring for fixes whose accuracy exceeds the buffer: SPEC's default
# max_accuracy_m, above which fixes change no zone state anyway.
WIDE_RING_M = 1000.0
_LAT_MARGIN_M = 5.0


class BufferRings:
    """Rings around one polygon zone, in its LocalFrame.

    `outer` / `wide` lie beyond frame distance buffer_m / WIDE_RING_M in the worst scale, so a
    fix outside them is farther than that by distance_m too; `inner` lies within buffer_m in
    the best scale. Valid for fixes with latitude in [lat_lo, lat_hi], where the scale bounds
    were taken.

    Each ring is buffered the first time a fix needs it: buffering a county boundary costs
    milliseconds, and a province's 185 counties times three rings were most of start-up,
    while a fix near a boundary only ever needs one or two of them."""

    __slots__ = ("buffer_m", "lat_lo", "lat_hi", "_local_geom", "_distances", "_rings")

    def __init__(self, frame: LocalFrame, local_geom, bounds, buffer_m: float):
        self.buffer_m = float(buffer_m)
        _, d_lat = metres_to_degrees(max(buffer_m, WIDE_RING_M) + _LAT_MARGIN_M, 0.0)
        self.lat_lo, self.lat_hi = float(bounds[1] - d_lat), float(bounds[3] + d_lat)
        s_lo, s_hi = (float(s) for s in frame.scale_bounds(self.lat_lo, self.lat_hi))
        inner_m = buffer_m * s_lo * _INNER_FACTOR - _RING_SLACK_M
        self._local_geom = local_geom
        # None: no such ring (the wide one within the buffer, the inner one below zero)
        self._distances = {
            "outer": buffer_m * s_hi * _OUTER_FACTOR + _RING_SLACK_M,
            "wide": WIDE_RING_M * s_hi * _OUTER_FACTOR + _RING_SLACK_M
            if WIDE_RING_M > buffer_m else None,
            "inner": inner_m if inner_m > 0 else None,
        }
        self._rings: dict = {}

    @property
    def outer(self):
        return self._ring("outer")

    @property
    def wide(self):
        return self._ring("wide")

    @property
    def inner(self):
        return self._ring("inner")

    def __getstate__(self) -> tuple[None, dict]:
        # rings are buffered again when needed: a pickled geometry comes back unprepared
        state = {name: getattr(self, name) for name in self.__slots__}
        state["_rings"] = {}
        return None, state

    def _ring(self, name: str):
        if name not in self._rings:
            distance = self._distances[name]
            self._rings[name] = None if distance is None else _ring(self._local_geom, distance)
        return self._rings[name]

    def settle(self, x, y, lat, thr) -> tuple[np.ndarray, np.ndarray]:
        """(surely OUT, surely BAND) masks for fixes known to be outside the zone, with
        frame coordinates x, y and thresholds thr >= buffer_m."""
        in_range = (lat >= self.lat_lo) & (lat <= self.lat_hi)
        out = np.zeros(x.size, dtype=bool)
        narrow = np.flatnonzero(in_range & (thr <= self.buffer_m))
        if narrow.size:
            out[narrow] = ~shapely.intersects_xy(self.outer, x[narrow], y[narrow])
        if self._distances["wide"] is not None:
            wide = np.flatnonzero(in_range & (thr > self.buffer_m) & (thr <= WIDE_RING_M))
            if wide.size:
                out[wide] = ~shapely.intersects_xy(self.wide, x[wide], y[wide])
        band = np.zeros(x.size, dtype=bool)
        if self._distances["inner"] is not None:  # within inner is within buffer_m <= thr
            maybe = np.flatnonzero(in_range & ~out)
            if maybe.size:
                band[maybe] = shapely.intersects_xy(self.inner, x[maybe], y[maybe])
        return out, band


def _ring(geom, distance: float):
    ring = shapely.buffer(geom, distance)
    shapely.prepare(ring)
    return ring
