"""Grid cells that lie wholly inside a polygon zone, so most fixes skip the exact test.

A person spends nearly all the time deep inside their own county: the exact point-in-polygon
test (GEOS, prepared) costs ~0.5 µs a fix against a real county outline, an array lookup a few
nanoseconds. Fixes in a cell this grid calls interior are INSIDE; every other fix still gets the
exact test, so the answer is the exact test's, only sooner.

Why a cell called interior is wholly inside: the outline (every ring, holes included) is cut into
pieces no longer than half a cell, and every cell within two of a piece's start is marked. A
point of the outline is within half a cell of some start in x and in y, so the cells that can
hold it, and their neighbours, are marked, with a cell to spare for rounding. An unmarked cell is
therefore at least a cell away from the outline, all inside or all outside; its centre tells
which. The spare cell also covers a fix that rounding puts in the cell next to its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

# Cells along the longer side of a polygon's bounding box.
CELLS = 64
_MARK = 2  # cells marked on each side of a piece's start (one for the piece, one to spare)


class InteriorGrids:
    """One grid per polygon zone, in one flat array; other zones have none."""

    def __init__(self, geometries: Sequence | np.ndarray, is_polygon: np.ndarray,
                 cells: int = CELLS):
        n = len(geometries)
        self.x0, self.y0 = np.zeros(n), np.zeros(n)
        self.inv = np.zeros(n)  # cells per degree
        self.nx, self.ny = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        self.offset = np.zeros(n, dtype=np.int64)
        flat = []
        at = 0
        for z in np.flatnonzero(is_polygon).tolist():
            grid = self._grid(z, geometries[z], cells)
            if grid is None:
                continue
            self.offset[z] = at
            flat.append(grid.ravel())
            at += grid.size
        self.interior = np.concatenate(flat) if flat else np.zeros(1, dtype=bool)

    def _grid(self, z: int, geom, cells: int) -> np.ndarray | None:
        minx, miny, maxx, maxy = geom.bounds
        size = max(maxx - minx, maxy - miny) / cells
        if not size > 0.0:
            return None
        nx = int((maxx - minx) / size) + 1
        ny = int((maxy - miny) / size) + 1
        self.x0[z], self.y0[z], self.inv[z] = minx, miny, 1.0 / size
        self.nx[z], self.ny[z] = nx, ny
        outline = shapely.segmentize(shapely.boundary(geom), size / 2.0)
        xy = shapely.get_coordinates(outline)
        ix = np.floor((xy[:, 0] - minx) * self.inv[z]).astype(np.int64)
        iy = np.floor((xy[:, 1] - miny) * self.inv[z]).astype(np.int64)
        marked = np.zeros((ny, nx), dtype=bool)
        for dy in range(-_MARK, _MARK + 1):
            for dx in range(-_MARK, _MARK + 1):
                marked[np.clip(iy + dy, 0, ny - 1), np.clip(ix + dx, 0, nx - 1)] = True
        cy, cx = np.nonzero(~marked)
        grid = np.zeros((ny, nx), dtype=bool)
        centres_in = shapely.intersects_xy(geom, minx + (cx + 0.5) * size, miny + (cy + 0.5) * size)
        grid[cy[centres_in], cx[centres_in]] = True
        return grid

    def surely_inside(self, zone_idx: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where fix i lies in an interior cell of zone zone_idx[i]'s grid."""
        ix = np.floor((lon - self.x0[zone_idx]) * self.inv[zone_idx])
        iy = np.floor((lat - self.y0[zone_idx]) * self.inv[zone_idx])
        nx = self.nx[zone_idx]
        ok = (ix >= 0) & (iy >= 0) & (ix < nx) & (iy < self.ny[zone_idx])
        cell = np.where(ok, self.offset[zone_idx] + iy * nx + ix, 0).astype(np.int64)
        return ok & self.interior[cell]
