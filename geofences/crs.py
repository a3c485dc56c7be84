"""Datum conversion between WGS-84 (raw GNSS), GCJ-02 (AMap, Tencent) and BD-09 (Baidu).

GCJ-02 is WGS-84 plus a deliberate, smooth, nonlinear offset of a few hundred metres; BD-09
adds a second small rotation/shift on top of GCJ-02. Comparing a fix and a zone written in
different datums therefore misplaces every boundary by hundreds of metres (SPEC §1).

Error bounds:

* `wgs84_to_gcj02` and `gcj02_to_bd09` are the published closed-form formulas; they are the
  definition of the datum as the consumer map SDKs implement it, so they carry no error of
  their own beyond float64 rounding (< 1e-9 degrees).
* The inverses have no closed form. They run a vectorised fixed-point iteration that stops
  when no coordinate moves by 1e-7 degrees or more (at most `_MAX_ITER` rounds, normally 2-3).
  The offset's gradient is of order 1e-3, so each round shrinks the error roughly a
  thousandfold; once the step is below 1e-7 degrees the residual is below ~1e-9 degrees
  (~0.1 mm). Tests hold the WGS-84 -> GCJ-02 -> WGS-84 round trip within 0.01 m.
* "In China or not" is the usual rough bounding box (lon 72.004..137.8347, lat 0.8293..55.8271),
  the same rough box the map SDKs' reference code uses. Outside it GCJ-02 equals WGS-84. Inside
  it a few foreign border areas (e.g. parts of Mongolia, Korea, Vietnam) are offset although
  real maps leave them alone; for a Chinese community-correction deployment that is harmless.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely

from alerts.kinds import CRS_NAMES

# Krasovsky 1940 ellipsoid, as the GCJ-02 formulas use it.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006

_TOL_DEG = 1e-7
_MAX_ITER = 10


def _as_float(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def in_china_rough(lon, lat) -> np.ndarray:
    """True where GCJ-02 applies an offset (rough bounding box, see module docstring)."""
    lon, lat = _as_float(lon), _as_float(lat)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj02_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (degrees) to add to a WGS-84 position; zero outside China."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    ripple = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + ripple
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    t_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + ripple
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = t_lat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    d_lon = t_lon * 180.0 / (_KRASOVSKY_A / sqrt_magic * np.cos(rad) * pi)
    inside = in_china_rough(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def _invert(forward: Callable, lon, lat, first_guess: Callable | None = None):
    """Solve forward(x) = target by fixed-point iteration x += target - forward(x).

    Converges because every forward map here is the identity plus a slowly varying shift."""
    t_lon, t_lat = _as_float(lon), _as_float(lat)
    x_lon, x_lat = first_guess(t_lon, t_lat) if first_guess else (t_lon.copy(), t_lat.copy())
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(x_lon, x_lat)
        step_lon, step_lat = t_lon - f_lon, t_lat - f_lat
        x_lon, x_lat = x_lon + step_lon, x_lat + step_lat
        if np.all(np.abs(step_lon) < _TOL_DEG) and np.all(np.abs(step_lat) < _TOL_DEG):
            break
    return x_lon, x_lat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _as_float(lon), _as_float(lat)
    d_lon, d_lat = _gcj02_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _as_float(lon), _as_float(lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd09_to_gcj02_closed_form(lon: np.ndarray, lat: np.ndarray):
    # Baidu's own approximate inverse (metre-level); only a starting point for _invert.
    x, y = lon - _BD_DLON, lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _invert(gcj02_to_bd09, lon, lat, first_guess=_bd09_to_gcj02_closed_form)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {
    "wgs84": lambda lon, lat: (_as_float(lon), _as_float(lat)),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84 = {
    "wgs84": lambda lon, lat: (_as_float(lon), _as_float(lat)),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def _lookup(table: dict, crs: str) -> Callable:
    try:
        return table[crs]
    except KeyError:
        raise ValueError(f"unknown crs {crs!r}; expected one of {CRS_NAMES}") from None


def to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates written in `crs` ("wgs84", "gcj02", "bd09") as WGS-84."""
    return _lookup(_TO_WGS84, crs)(lon, lat)


def from_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 coordinates as a map drawn in `crs` would show them."""
    return _lookup(_FROM_WGS84, crs)(lon, lat)


def convert_geometry_to_wgs84(geom, crs: str):
    """A shapely geometry written in `crs`, with every vertex moved to WGS-84.

    Vertices move individually; the offsets vary over hundreds of kilometres, so edges stay
    straight to well under a millimetre over any real boundary segment."""
    convert = _lookup(_TO_WGS84, crs)
    if crs == "wgs84":
        return geom

    def _xy(coords: np.ndarray) -> np.ndarray:
        lon, lat = convert(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, _xy)
