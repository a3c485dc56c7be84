"""Which boxes contain each point, for many points at once, in plain numpy.

Exists because shapely's STRtree needs a shapely Point per query (~0.5 µs a fix, a quarter of a
fix's whole budget); here a query is a few passes over the coordinate arrays.

Exactness: a box is registered in every cell from cell(minx) to cell(maxx), and likewise in y,
with cell(v) = floor(v * inv_size). Rounded multiplication by a positive constant is monotone,
so a point inside a box falls in a cell the box was registered in, whatever the rounding. The
candidates are then filtered by the exact closed-box test, so the answer equals testing every
box (and STRtree's envelope test) bit for bit.
"""

from __future__ import annotations

import numpy as np
import shapely

# Boxes covering more cells than this would bloat the cell lists; they are tested apart.
MAX_CELLS = 64
# Up to this many big boxes, one vectorised test each (~0.7 ns a point) beats building shapely
# points for an STRtree (~400 ns a point); the measured crossover is near 500 boxes.
SCAN_LIMIT = 256
_MIN_SIZE, _MAX_SIZE = 0.002, 0.05
# Keeps cell keys below 2**53, exact in float64, whatever the boxes' extent.
_MAX_CELLS_PER_AXIS = 2.0**26

_EMPTY = np.empty(0, dtype=np.intp)


class GridIndex:
    """Closed boxes (minx, miny, maxx, maxy), queried by points: (point, box) pairs."""

    def __init__(self, boxes, max_cells: int = MAX_CELLS, scan_limit: int = SCAN_LIMIT):
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._columns = [np.ascontiguousarray(c) for c in self.boxes.T]  # gathers stay fast
        self.size = _cell_size(self.boxes)
        self._inv = 1.0 / self.size
        lo_x, lo_y, hi_x, hi_y = (np.floor(c * self._inv) for c in self.boxes.T)
        n_cells = (hi_x - lo_x + 1.0) * (hi_y - lo_y + 1.0)
        small = np.flatnonzero(n_cells <= max_cells)
        self.big = np.flatnonzero(n_cells > max_cells)
        self._build_grid(small, lo_x[small], lo_y[small], hi_x[small], hi_y[small])
        self._big_tree = None
        if self.big.size > scan_limit:
            self._big_tree = shapely.STRtree(shapely.box(*self.boxes[self.big].T))

    def __len__(self) -> int:
        return len(self.boxes)

    def query(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """(point_idx, box_idx) of every point inside (or on) a box, sorted by point then box."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        p, b = self._query_grid(x, y)
        if self.big.size == 0 or x.size == 0:
            return p, b
        bp, bb = self._query_big(x, y)
        if bp.size == 0:
            return p, b
        p, b = np.concatenate([p, bp]), np.concatenate([b, bb])
        # a handful of sorted runs: timsort merges them far faster than lexsort sorts
        order = np.argsort(p * len(self.boxes) + b, kind="stable")
        return p[order], b[order]

    # -- the grid --------------------------------------------------------------------------

    def _build_grid(self, ids, lo_x, lo_y, hi_x, hi_y) -> None:
        """CSR cell lists: cell key -> row r -> boxes members[indptr[r]:indptr[r + 1]].

        The grid has an empty border: queries clamp far-away (and NaN) points onto it instead
        of filtering them out, which saves passes over every point."""
        self._x0 = lo_x.min() - 1.0 if ids.size else 0.0
        self._y0 = lo_y.min() - 1.0 if ids.size else 0.0
        self._x_last = hi_x.max() - self._x0 + 1.0 if ids.size else 0.0
        self._y_last = hi_y.max() - self._y0 + 1.0 if ids.size else 0.0
        wx = (hi_x - lo_x + 1.0).astype(np.intp)
        wy = (hi_y - lo_y + 1.0).astype(np.intp)
        box, k = _expand(wx * wy)
        cx = lo_x[box] - self._x0 + k % wx[box]
        cy = lo_y[box] - self._y0 + k // wx[box]
        keys = (cy * (self._x_last + 1.0) + cx).astype(np.int64)
        order = np.lexsort((ids[box], keys))  # boxes ascending within a cell
        self._members = ids[box][order]
        cell_keys, starts = np.unique(keys[order], return_index=True)
        self._indptr = np.append(starts, order.size)
        self._cells = KeyTable(cell_keys)

    def _query_grid(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        if self._members.size == 0 or x.size == 0:
            return _EMPTY, _EMPTY
        keys = self._clamped_cell(y, self._y0, self._y_last)
        keys *= self._x_last + 1.0
        keys += self._clamped_cell(x, self._x0, self._x_last)
        pts, row = self._cells.find(keys.astype(np.int64))
        start = self._indptr[row]
        point_rep, k = _expand(self._indptr[row + 1] - start)
        p = pts[point_rep]
        b = self._members[start[point_rep] + k]
        xp, yp = x[p], y[p]
        minx, miny, maxx, maxy = self._columns
        keep = (xp >= minx[b]) & (xp <= maxx[b]) & (yp >= miny[b]) & (yp <= maxy[b])
        return p[keep], b[keep]

    def _clamped_cell(self, v, origin: float, last: float) -> np.ndarray:
        with np.errstate(over="ignore"):  # |v| near float max: inf, clamped like the rest
            c = v * self._inv
        np.floor(c, out=c)
        c -= origin
        np.fmax(c, 0.0, out=c)  # fmax / fmin drop NaN: NaN lands on the border too
        np.fmin(c, last, out=c)
        return c

    # -- boxes too big for the grid ---------------------------------------------------------

    def _query_big(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        boxes = self.boxes[self.big]
        extent = np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])
        near = np.flatnonzero(_inside(extent, x, y))
        if near.size == 0:
            return _EMPTY, _EMPTY
        x, y = x[near], y[near]
        if self._big_tree is not None:
            hit, j = self._big_tree.query(shapely.points(x, y))
            return near[hit], self.big[j]
        found = [np.flatnonzero(_inside(box, x, y)) for box in boxes]
        counts = np.array([f.size for f in found], dtype=np.intp)
        return near[np.concatenate(found)], np.repeat(self.big, counts)


class KeyTable:
    """Open-addressing hash of distinct non-negative int64 keys -> their position.

    Replaces np.searchsorted on the sorted keys, which measured ~60 ns a point (an unsorted
    binary search); one multiply, shift and gather settle nearly every point here."""

    _FREE = -1
    _MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads nearby cells apart

    def __init__(self, keys: np.ndarray):
        keys = np.asarray(keys, dtype=np.int64)
        # load <= 1/4 keeps probe chains short; at least one slot always stays free
        bits = max(3, int(np.ceil(np.log2(4 * keys.size + 1))))
        self._shift, self._mask = np.uint64(64 - bits), (1 << bits) - 1
        self._keys = np.full(1 << bits, self._FREE, dtype=np.int64)
        self._rows = np.zeros(1 << bits, dtype=np.intp)
        rows, slot = np.arange(keys.size, dtype=np.intp), self._hash(keys)
        while rows.size:  # linear probing, one round for all keys still looking for a slot
            free = self._keys[slot] == self._FREE
            self._keys[slot[free]] = keys[rows[free]]  # rivals for a slot: one of them wins
            placed = self._keys[slot] == keys[rows]
            self._rows[slot[placed]] = rows[placed]
            rows, slot = rows[~placed], (slot[~placed] + 1) & self._mask

    def find(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(where, row): q[where] are the known keys, ascending positions, keys[row] == q[where]."""
        slot = self._hash(q)
        stored = self._keys[slot]
        hit = stored == q
        first = np.flatnonzero(hit)
        where, rows = [first], [self._rows[slot[first]]]
        todo = np.flatnonzero(~hit & (stored != self._FREE))
        slot = slot[todo]
        while todo.size:
            slot = (slot + 1) & self._mask
            stored = self._keys[slot]
            hit = stored == q[todo]
            where.append(todo[hit])
            rows.append(self._rows[slot[hit]])
            go = ~hit & (stored != self._FREE)
            todo, slot = todo[go], slot[go]
        if len(where) == 1:
            return where[0], rows[0]
        found, found_rows = np.concatenate(where), np.concatenate(rows)
        order = np.argsort(found, kind="stable")  # sorted runs, merged
        return found[order], found_rows[order]

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        h = np.ascontiguousarray(keys, dtype=np.int64).view(np.uint64) * self._MULT
        h >>= self._shift
        return h.view(np.int64)


def _cell_size(boxes: np.ndarray) -> float:
    if len(boxes) == 0:
        return _MAX_SIZE
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    size = float(np.clip(2.0 * np.median(widths), _MIN_SIZE, _MAX_SIZE))
    span = max(boxes[:, 2].max() - boxes[:, 0].min(), boxes[:, 3].max() - boxes[:, 1].min())
    return max(size, float(span) / _MAX_CELLS_PER_AXIS)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, k): owner i repeated counts[i] times, k = 0..counts[i]-1 alongside."""
    owner = np.repeat(np.arange(counts.size, dtype=np.intp), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size, dtype=np.intp) - first[owner]


def _inside(box: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed-box test; `box` is one box (4,) or one per point (n, 4)."""
    box = box.T
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
