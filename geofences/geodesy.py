"""Short-range distances on the WGS-84 ellipsoid, and a local metric frame for zone geometry.

`distance_m` treats the ellipsoid near the mid latitude φm of the two points as flat, with the
true radii of curvature there: dx = N(φm)·cos φm·Δλ, dy = M(φm)·Δφ. Against a Vincenty
geodesic at latitude 29°, over all bearings (tests/test_geofences_geodesy.py), the error is
below 1e-6 m at 1 km, below 1 mm at 10 km and below 0.1 m at 50 km (0.4 m at 60°N). It grows
with the cube of the distance, so it is meant for distances under ~50 km (zone buffers, GNSS
accuracy, a fix against a nearby boundary), not for cross-country distances.

`LocalFrame` is the same idea with the radii frozen at one origin: a linear map from degrees
to metres. Away from the origin its east-west scale is off by about tan φ·Δφ (Δφ in radians),
i.e. ~0.2 % twenty kilometres north or south of the origin at 30°N. Zone code uses it only to
find *which* boundary point is nearest and measures the distance itself with `distance_m`;
`scale_bounds` gives the exact factor range so callers can decide when that matters.
"""

from __future__ import annotations

import numpy as np

WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)

_DEG = np.pi / 180.0
# The meridional radius is smallest at the equator; dividing by it over-states degrees.
_M_MIN = WGS84_A * (1.0 - WGS84_E2)
# Head-room on metres_to_degrees, so envelope tests stay conservative after rounding and the
# few-ppm approximations above.
_SAFETY = 1.01


def meridional_radius(lat_deg) -> np.ndarray:
    """M(φ): radius of curvature along the meridian, metres."""
    s = np.sin(np.asarray(lat_deg, dtype=np.float64) * _DEG)
    return WGS84_A * (1.0 - WGS84_E2) / (1.0 - WGS84_E2 * s * s) ** 1.5


def prime_vertical_radius(lat_deg) -> np.ndarray:
    """N(φ): radius of curvature perpendicular to the meridian, metres."""
    s = np.sin(np.asarray(lat_deg, dtype=np.float64) * _DEG)
    return WGS84_A / np.sqrt(1.0 - WGS84_E2 * s * s)


def metres_per_degree(lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """(east-west, north-south) metres per degree of longitude / latitude at `lat_deg`."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    return prime_vertical_radius(lat) * np.cos(lat * _DEG) * _DEG, meridional_radius(lat) * _DEG


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Distance in metres between WGS-84 points, for SHORT distances (see module docstring)."""
    lon1, lat1 = np.asarray(lon1, dtype=np.float64), np.asarray(lat1, dtype=np.float64)
    lon2, lat2 = np.asarray(lon2, dtype=np.float64), np.asarray(lat2, dtype=np.float64)
    d_lon = (lon2 - lon1 + 180.0) % 360.0 - 180.0  # the short way across the antimeridian
    kx, ky = metres_per_degree(0.5 * (lat1 + lat2))
    return np.hypot(kx * d_lon, ky * (lat2 - lat1))


def metres_to_degrees(m, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """(d_lon, d_lat) in degrees that span AT LEAST `m` metres at latitude `lat_deg`.

    Conservative, for envelope expansion: d_lat uses the smallest meridional radius anywhere,
    d_lon the scale at `lat_deg` (pass the most poleward latitude involved), both plus 1 %.
    Near the poles d_lon is capped at 360."""
    m = np.asarray(m, dtype=np.float64)
    lat = np.minimum(np.abs(np.asarray(lat_deg, dtype=np.float64)), 89.999)
    kx, _ = metres_per_degree(lat)
    d_lon = np.minimum(m * _SAFETY / kx, 360.0)
    d_lat = m * _SAFETY / (_M_MIN * _DEG)
    return d_lon, d_lat


class LocalFrame:
    """Flat metric coordinates (x east, y north, metres) around (lon0, lat0)."""

    __slots__ = ("lon0", "lat0", "kx", "ky")

    def __init__(self, lon0: float, lat0: float):
        self.lon0, self.lat0 = float(lon0), float(lat0)
        kx, ky = metres_per_degree(self.lat0)
        self.kx, self.ky = float(kx), float(ky)

    def forward(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        d_lon = (lon - self.lon0 + 180.0) % 360.0 - 180.0
        return d_lon * self.kx, (lat - self.lat0) * self.ky

    def inverse(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky

    def forward_coords(self, coords: np.ndarray) -> np.ndarray:
        """(N, 2) lon/lat -> (N, 2) x/y, the shape shapely.transform hands over."""
        x, y = self.forward(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def scale_bounds(self, lat_lo, lat_hi) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi): for any two points with latitudes in [lat_lo, lat_hi],
        lo <= frame distance / true distance <= hi (up to distance_m's own tiny error).

        Both true scales are monotonic in |φ|, so the extremes sit at the ends of the range or
        at the equator when the range crosses it."""
        lat_lo = np.asarray(lat_lo, dtype=np.float64)
        lat_hi = np.asarray(lat_hi, dtype=np.float64)
        candidates = [lat_lo, lat_hi, np.clip(0.0, lat_lo, lat_hi)]
        ratios = []
        for lat in candidates:
            kx, ky = metres_per_degree(lat)
            ratios += [self.kx / kx, self.ky / ky]
        stacked = np.stack(np.broadcast_arrays(*ratios, np.ones_like(lat_lo)))
        return stacked.min(axis=0), stacked.max(axis=0)
