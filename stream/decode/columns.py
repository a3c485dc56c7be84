"""A chunk's records as numpy columns, filled a block at a time, and the checks made on them."""

from __future__ import annotations

import struct
from itertools import compress, repeat

import numpy as np

from config.idtable import IdTable
from stream.decode.records import _CRS_CODE_OR_WGS84, _EVENT_CODE, _NAN
from stream.decode.rules import check_record
from stream.decode.timestamps import _parse_joined, _ts_column
from stream.events import (
    CRS_NAMES,
    FIX,
    INVALID_FIELD,
    NO_STATUS,
)


def _as_verdict(item, line: bytes) -> tuple[str, str]:
    """A (reason, detail) for a rejected item; anything else is a path disagreement."""
    if isinstance(item, tuple):
        return item
    verdict = check_record(line)
    if isinstance(verdict, tuple):
        return verdict
    return INVALID_FIELD, "record rejected by the fast decoder but not by the reference rules"


class _Rows:
    """One chunk's lines as numpy columns, filled a block of records at a time.

    Reading a block's structs back right after msgspec made them, while they are still in
    cache, and dropping them straight away costs about half as much as reading a whole
    chunk's structs later. Lines that are not records keep the fill values, `record` False.
    """

    def __init__(self, n: int, index: IdTable):
        self.n = n
        self.record = np.zeros(n, dtype=np.bool_)
        self.kind = np.full(n, FIX, dtype=np.uint8)  # fill() marks the others
        self.status = np.full(n, NO_STATUS, dtype=np.uint8)
        self.person = np.full(n, -1, dtype=np.int32)  # set by finish()
        self.lat = np.full(n, _NAN)
        self.lon = np.full(n, _NAN)
        self.accuracy_m = np.full(n, _NAN)  # NaN: absent, until finish() puts the default
        self.battery_pct = np.full(n, _NAN)
        self.crs: np.ndarray | None = None  # made by the first block with a Chinese datum
        self.drill = np.zeros(n, dtype=np.bool_)
        self.ts = _Stamps(n)
        self.ids = _Ids(n, index)

    def fill(self, recs: list, at) -> None:
        """Copy `recs` into the rows `at` (a slice, or an index array as long as `recs`)."""
        self.record[at] = True
        # One list per attribute: each is one tight C loop, where a tuple per record would
        # allocate 1024 objects for the GC to look at.
        self.lat[at] = _floats([r.lat for r in recs])
        self.lon[at] = _floats([r.lon for r in recs])
        self.accuracy_m[at] = _floats([r.accuracy_m for r in recs])
        self.battery_pct[at] = _floats([r.battery_pct for r in recs])
        self.ids.add([r.person_id for r in recs], at)
        self.ts.add([r.ts for r in recs], at)
        # bytes() turns small ints into a column much faster than numpy does.
        crs = bytes([_CRS_CODE_OR_WGS84[r.crs] for r in recs])
        if crs.count(0) < len(crs):
            if self.crs is None:
                self.crs = np.zeros(self.n, dtype=np.uint8)
            self.crs[at] = np.frombuffer(crs, dtype=np.uint8)
        drill = [r.drill for r in recs]
        if any(drill):  # most feeds send no drills at all; null is false
            self.drill[at] = [d is True for d in drill]
        self._fill_kinds(recs, at)

    def _fill_kinds(self, recs: list, at) -> None:
        # Statuses and ticks are the rows without a lat (theirs is a ClassVar NaN; JSON
        # numbers are finite). They are few, so they are read one by one.
        odd = np.flatnonzero(np.isnan(self.lat[at]))
        if len(odd):
            odd_recs = [recs[j] for j in odd.tolist()]
            rows = _as_index(at)[odd]
            self.kind[rows] = [r.KIND for r in odd_recs]
            self.status[rows] = [_EVENT_CODE.get(r.event, NO_STATUS) for r in odd_recs]

    def finish(self, default_accuracy: float) -> tuple[np.ndarray, np.ndarray]:
        """(ts in epoch ms, the records breaking a rule); looks up the persons and fills in
        the default accuracy."""
        self.person = self.ids.lookup()
        ts, ts_ok = self.ts.parse()
        lat, lon, acc, battery = self.lat, self.lon, self.accuracy_m, self.battery_pct
        is_fix = self.kind == FIX
        # Typed floats from JSON are finite, so NaN here only means "not a fix" or "absent".
        bad = ~ts_ok | (battery < 0) | (battery > 100)
        bad |= is_fix & ~(
            (np.abs(lat) <= 90) & (np.abs(lon) <= 180) & ((lat != 0) | (lon != 0)) & ~(acc < 0)
        )
        self.accuracy_m = np.where(is_fix & np.isnan(acc), default_accuracy, acc)
        return ts, self.record & bad


def _floats(values: list):
    """`values` (floats, or ints) as a float64 array; as they are if one is None (null, or
    absent in a record from the reference path), which numpy then reads as NaN."""
    try:
        # Far faster than numpy's own conversion of a list, which checks each item's type.
        return np.frombuffer(struct.pack(f"{len(values)}d", *values))
    except struct.error:
        return values


def _to_wgs84(lat: np.ndarray, lon: np.ndarray, crs: np.ndarray):
    from geofences.crs import to_wgs84  # lazy: most feeds are WGS-84 and never need it

    lat, lon = lat.copy(), lon.copy()
    for code in range(1, len(CRS_NAMES)):
        rows = np.flatnonzero(crs == code)
        if len(rows):
            x, y = to_wgs84(lon[rows], lat[rows], CRS_NAMES[code])
            lon[rows], lat[rows] = x, y
    return lat, lon


class _Stamps:
    """A chunk's ts values, gathered a block at a time and parsed together at the end.

    A block whose ts are all strings of one width is kept as one newline-joined text, which
    the parser reads as a byte matrix; its strings can be freed with the block. Any other
    block (epoch numbers, mixed widths) is parsed on the spot.
    """

    def __init__(self, n: int):
        self.ms = np.zeros(n, dtype=np.int64)
        self.ok = np.zeros(n, dtype=np.bool_)
        self._texts: dict[int, list[str]] = {}  # width -> joined texts
        self._runs: dict[int, list] = {}  # width -> the texts' rows

    def add(self, values: list, at) -> None:
        try:
            joined = _fixed_width(values)
        except TypeError:  # epoch numbers among them
            joined = None
        if joined is None:
            self.ms[at], self.ok[at] = _ts_column(values)
            return
        text, width = joined
        self._texts.setdefault(width, []).append(text)
        _add_rows(self._runs.setdefault(width, []), at)

    def parse(self) -> tuple[np.ndarray, np.ndarray]:
        for width, texts in self._texts.items():
            at = _rows_of(self._runs[width])
            self.ms[at], self.ok[at] = _parse_joined("\n".join(texts), width)
        return self.ms, self.ok


class _Ids:
    """A chunk's person_ids, gathered a block at a time and looked up together."""

    def __init__(self, n: int, index: IdTable):
        self._index = index
        self._person = np.full(n, -1, dtype=np.int32)
        self._texts: list[str] = []  # newline-joined ids
        self._runs: list = []  # the texts' rows
        self._count = 0
        self._width: int | None = -1  # the width all ids share so far; None: they differ

    def add(self, ids: list, at) -> None:
        try:
            joined = _fixed_width(ids)
        except TypeError:  # a tick's None: a tick has no person to look up
            keep = [pid is not None for pid in ids]
            ids, at = list(compress(ids, keep)), _as_index(at)[keep]
            if not ids:
                return
            joined = _fixed_width(ids)
        if joined is not None:
            text, width = joined
            self._width = width if self._width in (-1, width) else None
        else:
            self._width = None
            text = "\n".join(ids)
            if text.count("\n") != len(ids) - 1:  # an id with a newline: too odd to be fast
                self._person[at] = list(map(self._index.get, ids, repeat(-1)))
                return
        self._texts.append(text)
        _add_rows(self._runs, at)
        self._count += len(ids)

    def lookup(self) -> np.ndarray:
        if self._texts:
            raw = "\n".join(self._texts).encode("utf-8", "surrogatepass")
            person = self._index.lookup(raw, self._count, self._width)
            self._person[_rows_of(self._runs)] = person
        return self._person


def _add_rows(runs: list, at) -> None:
    """Append rows `at` (a slice or an index array) to `runs`, merging touching slices."""
    if runs and isinstance(at, slice) and isinstance(runs[-1], slice) and runs[-1].stop == at.start:
        runs[-1] = slice(runs[-1].start, at.stop)
    else:
        runs.append(at)


def _rows_of(runs: list):
    """All the rows in `runs`, as one slice or index array."""
    if len(runs) == 1:  # the usual case
        return runs[0]
    return np.concatenate([_as_index(r) for r in runs])


def _as_index(at) -> np.ndarray:
    """Rows given as a slice or an index array, as an index array."""
    return np.arange(at.start, at.stop) if isinstance(at, slice) else at


def _fixed_width(values: list) -> tuple[str, int] | None:
    """(the values joined by newlines, their width) if all are strings of one width, None if
    they are strings of different widths; TypeError if they are not all strings."""
    text = "\n".join(values)
    n, width = len(values), len(values[0])
    # Exactly n - 1 newlines, each where the width puts one: so no value holds a newline,
    # and every value is `width` long.
    if (
        len(text) == n * (width + 1) - 1
        and text.count("\n") == n - 1
        and text[width :: width + 1] == "\n" * (n - 1)
    ):
        return text, width
    return None
