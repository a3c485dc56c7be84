import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geofences.gridindex import GridIndex, KeyTable


def brute_force(boxes, x, y):
    """Every (point, box) with the point in the closed box, sorted by point then box."""
    found = [np.flatnonzero((x >= b[0]) & (x <= b[2]) & (y >= b[1]) & (y <= b[3])) for b in boxes]
    p = np.concatenate([np.empty(0, np.intp), *found])
    b = np.repeat(np.arange(len(boxes)), [f.size for f in found])
    order = np.lexsort((b, p))
    return p[order], b[order]


def strtree(boxes, x, y):
    """What the STRtree envelope query (the path GridIndex replaced) returns, sorted."""
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    hit, j = shapely.STRtree(shapely.box(*boxes.T)).query(shapely.points(x[finite], y[finite]))
    p = finite[hit]
    order = np.lexsort((j, p))
    return p[order], j[order]


def assert_same(got, want):
    assert got[0].dtype == np.intp and got[1].dtype == np.intp
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def venue_boxes(rng, n):
    """Boxes shaped like widened venue circles (100-200 m half-sides) plus a few huge ones."""
    cx, cy = rng.uniform(118.0, 123.0, n), rng.uniform(27.0, 31.0, n)
    half = rng.uniform(0.001, 0.0022, n)
    venues = np.column_stack([cx - 1.15 * half, cy - half, cx + 1.15 * half, cy + half])
    huge = np.array(
        [
            [119.5, 29.0, 119.8, 29.3],
            [120.1, 30.2, 120.25, 30.35],
            [121.0, 28.0, 121.5, 28.5],
            [119.6, 29.1, 119.7, 29.2],  # overlaps the first
        ]
    )
    return np.vstack([venues[: n // 2], huge, venues[n // 2 :]])


def tricky_points(rng, boxes, size, n):
    """Points on box edges and corners, one ulp either side, on cell boundaries, far away."""
    pick = rng.integers(0, len(boxes), n)
    bx = boxes[pick]
    x = np.where(rng.random(n) < 0.5, bx[:, 0], bx[:, 2])
    y = np.where(rng.random(n) < 0.5, bx[:, 1], bx[:, 3])
    inner_x = rng.uniform(bx[:, 0], bx[:, 2])
    inner_y = rng.uniform(bx[:, 1], bx[:, 3])
    kind = rng.integers(0, 4, n)
    x = np.where(kind == 1, inner_x, x)  # on a horizontal edge
    y = np.where(kind == 2, inner_y, y)  # on a vertical edge
    cells = np.floor(boxes[:, :2] / size).astype(np.int64)[pick]
    x = np.where(kind == 3, (cells[:, 0] + 1) * size, x)
    y = np.where(kind == 3, (cells[:, 1] + 1) * size, y)
    nudge = rng.choice([-1, 0, 0, 1], (2, n))  # one ulp down, none, none, one ulp up
    x, y = np.nextafter(x, x + nudge[0]), np.nextafter(y, y + nudge[1])
    far = [[-180.0, -90.0], [180.0, 90.0], [0.0, 0.0], [1e300, -1e300], [np.nan, 29.0]]
    far += [[120.0, np.nan], [np.inf, 29.0], [-np.inf, -np.inf], [121.0, 1e-320]]
    far += [[1.7e308, 29.0], [120.0, -1.7e308]]
    return np.concatenate([x, np.array(far)[:, 0]]), np.concatenate([y, np.array(far)[:, 1]])


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(7)
    boxes = venue_boxes(rng, 2000)
    grid = GridIndex(boxes)
    n = 100_000
    x, y = rng.uniform(117.9, 123.1, n // 2), rng.uniform(26.9, 31.1, n // 2)
    near = rng.integers(0, len(boxes), n // 4)
    x = np.concatenate([x, (boxes[near, 0] + boxes[near, 2]) / 2 + rng.normal(0, 0.003, near.size)])
    y = np.concatenate([y, (boxes[near, 1] + boxes[near, 3]) / 2 + rng.normal(0, 0.003, near.size)])
    tx, ty = tricky_points(rng, boxes, grid.size, n // 4)
    order = rng.permutation(x.size + tx.size)  # tricky points scattered among the rest
    return boxes, grid, np.concatenate([x, tx])[order], np.concatenate([y, ty])[order]


def test_same_pairs_as_brute_force_and_strtree(scene):
    boxes, grid, x, y = scene
    assert 0.002 <= grid.size <= 0.05 and grid.big.tolist() == [1000, 1001, 1002, 1003]
    want = brute_force(boxes, x, y)
    p, b = want
    on_edge = (x[p] == boxes[b, 0]) | (x[p] == boxes[b, 2]) | (y[p] == boxes[b, 1])
    on_edge |= y[p] == boxes[b, 3]
    assert p.size > 10_000 and on_edge.sum() > 5_000 and np.unique(p).size < p.size
    assert_same(grid.query(x, y), want)
    assert_same(grid.query(x, y), strtree(boxes, x, y))


def test_big_boxes_through_strtree_and_every_box_big(scene):
    boxes, _, x, y = scene
    x, y = x[:20_000], y[:20_000]
    want = brute_force(boxes, x, y)
    assert_same(GridIndex(boxes, scan_limit=0).query(x, y), want)
    all_big = GridIndex(boxes, max_cells=0)
    assert all_big.big.size == len(boxes)
    assert_same(all_big.query(x, y), want)
    assert_same(GridIndex(boxes, max_cells=10_000).query(x, y), want)  # huge ones gridded


def test_edges_count_and_one_ulp_outside_does_not():
    grid = GridIndex([[120.0, 29.0, 120.004, 29.003]])
    x = [120.0, 120.004, 120.002, 120.002, 120.0, np.nextafter(120.0, 0), 120.002]
    y = [29.0, 29.003, 29.0, 29.003, 29.0015, 29.0015, np.nextafter(29.003, 90)]
    p, b = grid.query(x, y)
    assert p.tolist() == [0, 1, 2, 3, 4] and b.tolist() == [0] * 5


def test_empty_index_and_empty_input():
    none = GridIndex(np.empty((0, 4)))
    for grid in (none, GridIndex([[120.0, 29.0, 120.1, 29.1]])):
        for x, y in (([], []), ([120.05], [29.05]), (np.empty((0,)), np.empty((0,)))):
            p, b = grid.query(x, y)
            assert p.dtype == b.dtype == np.intp and p.size == b.size
    assert none.query([120.05], [29.05])[0].size == 0


def test_key_table_finds_exactly_the_stored_keys():
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(0, 2**52, 50_000))
    table = KeyTable(keys)
    assert (table._keys[table._hash(keys)] != keys).any()  # probe chains do occur
    q = np.concatenate([keys, rng.integers(0, 2**52, 50_000), keys[:100], [0, 2**53 - 1]])
    q = q[rng.permutation(q.size)]
    where, row = table.find(q)
    known = np.flatnonzero(np.isin(q, keys))
    assert np.array_equal(where, known)
    assert np.array_equal(keys[row], q[where])
    assert KeyTable(np.empty(0, np.int64)).find(np.array([5]))[0].size == 0


# Coordinates on a coarse lattice, so points land on edges and cell boundaries all the time.
_lattice = st.integers(-30, 30).map(lambda k: 120.0 + k * 0.001)
_box = st.tuples(_lattice, _lattice, st.integers(0, 40), st.integers(0, 40)).map(
    lambda t: (t[0], t[1] - 91.0, t[0] + t[2] * 0.001, t[1] - 91.0 + t[3] * 0.001)
)


@settings(max_examples=300, deadline=None)
@given(
    boxes=st.lists(_box, max_size=30),
    points=st.lists(st.tuples(_lattice, _lattice.map(lambda v: v - 91.0)), max_size=60),
    max_cells=st.sampled_from([0, 4, 64]),
)
def test_matches_brute_force_on_a_lattice(boxes, points, max_cells):
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    x, y = np.array(points, dtype=np.float64).reshape(-1, 2).T
    grid = GridIndex(boxes, max_cells=max_cells, scan_limit=2)
    assert_same(grid.query(x, y), brute_force(boxes, x, y))
