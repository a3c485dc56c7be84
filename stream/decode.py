"""Raw JSONL lines -> an EventBatch of valid events plus dead letters (SPEC §1).

Two paths that must give the same answers:

* the fast path (`Decoder.decode`) decodes a whole chunk as one JSON array of typed msgspec
  structs and validates it with numpy masks. This is the engine's hottest loop.
* the reference path (`check_record`, `Decoder.decode_slow`) checks one line at a time in plain
  Python. It is the rulebook: the fast path hands it every line it cannot decode and every row
  it rejects, so each rejection's reason and detail come from one place.
"""

from __future__ import annotations

import math
import re
import secrets
import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from itertools import compress, repeat
from typing import ClassVar, Literal, get_args

import msgspec
import numpy as np
import orjson

from config.cache import Compiled
from config.persons import PersonRows
from config.settings import Settings
from stream.events import (
    CRS_NAMES,
    FIX,
    FUTURE_TS,
    INVALID_FIELD,
    MALFORMED_JSON,
    NO_STATUS,
    SOURCE_NAMES,
    STATUS,
    STATUS_NAMES,
    TICK,
    UNKNOWN_PERSON,
    DeadLetter,
    EventBatch,
)

RAW_MAX_CHARS = 4096
PERSON_ID_MAX = 64  # SPEC §1: person_id is a string of 1-64 characters
# ts must be representable as RFC 3339 on output: years 0001..9999, UTC.
MIN_TS_MS = -62_135_596_800_000
MAX_TS_MS = 253_402_300_799_999

_NAN = float("nan")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_EVENT_CODE = {name: i for i, name in enumerate(STATUS_NAMES)}
_CRS_CODE = {name: i for i, name in enumerate(CRS_NAMES)}
_CRS_CODE_OR_WGS84 = {None: 0, **_CRS_CODE}


# --- the fast path's record shapes ----------------------------------------------------------
# msgspec checks what it can check for free: a string is a string, a number a number, an enum
# one of its names (a Literal costs less than a str, which would be allocated and then looked
# up). Ranges and timestamps are checked on numpy columns, so a bad value there costs one
# masked row. A wrong type or enum value costs a per-line fallback for its block of lines.
# ClassVars give every kind every attribute the column builder reads, so a mixed chunk is read
# with the same list comprehensions. An absent number is NaN, not None: a shared default that
# costs no allocation, and a float column can then be packed without a check per item.

_SourceName = Literal["gnss", "cell", "wifi", "manual"]
_CrsName = Literal["wgs84", "gcj02", "bd09"]
_EventName = Literal[
    "power_off", "power_on", "heartbeat", "low_battery", "tamper", "location_disabled",
    "location_enabled",
]
assert get_args(_SourceName) == SOURCE_NAMES and get_args(_CrsName) == CRS_NAMES
assert get_args(_EventName) == STATUS_NAMES


class _Fix(msgspec.Struct, tag="fix", tag_field="type", gc=False):
    person_id: str
    ts: str | int | float
    lat: float
    lon: float
    device_id: str | None = None
    drill: bool | None = None
    accuracy_m: float | None = _NAN
    source: _SourceName | None = None
    crs: _CrsName | None = None
    speed_mps: float | None = None
    battery_pct: float | None = _NAN
    KIND: ClassVar[int] = FIX
    event: ClassVar[None] = None


class _Status(msgspec.Struct, tag="status", tag_field="type", gc=False):
    person_id: str
    ts: str | int | float
    event: _EventName
    device_id: str | None = None
    drill: bool | None = None
    battery_pct: float | None = _NAN
    KIND: ClassVar[int] = STATUS
    lat: ClassVar[float] = _NAN
    lon: ClassVar[float] = _NAN
    accuracy_m: ClassVar[float] = _NAN
    crs: ClassVar[None] = None


class _Tick(msgspec.Struct, tag="tick", tag_field="type", gc=False):
    ts: str | int | float
    drill: bool | None = None
    KIND: ClassVar[int] = TICK
    person_id: ClassVar[None] = None
    lat: ClassVar[float] = _NAN
    lon: ClassVar[float] = _NAN
    accuracy_m: ClassVar[float] = _NAN
    battery_pct: ClassVar[float] = _NAN
    crs: ClassVar[None] = None
    event: ClassVar[None] = None


_Record = _Fix | _Status | _Tick
_RECORD_TYPES = frozenset((_Fix, _Status, _Tick))
# RecursionError: msgspec's answer to absurdly deep nesting.
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
_BLOCK_LINES = 1024
# Past this depth of failed sub-blocks, stop trusting error positions and just halve, which
# bounds the recursion whatever the input.
_MAX_HINT_DEPTH = 16
_ELEMENT_AT = re.compile(r"at `\$\[(\d+)\]")
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
# Below this many lines a failing block is decoded line by line instead of halved again.
_LEAF_LINES = 8


class _BlankLine(Exception):
    """A blank line in a chunk that was being read as if it had none."""


class Decoder:
    """Decodes chunks of JSONL lines for one person table and one set of settings."""

    def __init__(self, person_index: Mapping[str, int], settings: Settings):
        self._default_accuracy = float(settings.default_accuracy_m)
        self._max_future_ms = round(settings.max_future_s * 1000)
        self._convert = settings.datum_conversion
        # Lines are joined into one array with a secret integer between them. If every second
        # element is that integer, each line was exactly one element: a line cannot swallow
        # its neighbour (e.g. '{"a":[' ... ']}' across two lines) without swallowing a mark,
        # and it cannot fake a mark it does not know.
        self._mark = secrets.randbits(62) | (1 << 61)
        self._sep = b",\n%d,\n" % self._mark
        self._chunk = msgspec.json.Decoder(list[_Record | Literal[self._mark]])  # type: ignore[valid-type]
        self._line = msgspec.json.Decoder(_Record)
        self._person = _registrable(person_index)
        # the engine's index carries the bundle's compiled store: built once per bundle
        built = person_index.compiled if isinstance(person_index, PersonRows) else Compiled()
        self._index = built.get("decoder person index", lambda: _PersonIndex(self._person))
        self._index.get = self._person.get  # a cached index is kept without its dict

    # --- fast path ----------------------------------------------------------------------------

    def decode(
        self, lines: list[bytes], received_at_ms: int, first_seq: int = 0, drill: bool = False
    ) -> tuple[EventBatch, list[DeadLetter]]:
        """Valid events in input order, and the rejected records as dead letters.

        Blank lines are skipped and take no seq; every other line takes the next seq.
        `drill` marks every record as a drill (`lookout replay --drill`): a drill keeps its
        own clock, so such records are also exempt from future_ts.
        """
        try:
            rows, rejected = self._read(lines)
        except _BlankLine:
            # Rare, so not worth a pass over every chunk up front: drop them and start again.
            lines = [ln for ln in lines if ln.strip()]
            rows, rejected = self._read(lines)
        if drill:
            rows.drill[:] = True
        ts, invalid = rows.finish(self._default_accuracy)
        unknown = rows.record & ~invalid & (rows.person < 0) & (rows.kind != TICK)
        future = (ts > received_at_ms + self._max_future_ms) & ~rows.drill
        future &= rows.record & ~invalid & ~unknown
        for i in np.flatnonzero(invalid | unknown | future).tolist():
            if future[i]:
                rejected[i] = (FUTURE_TS, self._future_detail(int(ts[i]), received_at_ms))
            else:  # the reference rules name the broken field, or the id is not registered
                verdict = check_record(lines[i])
                if unknown[i] and not isinstance(verdict, tuple):
                    verdict = (UNKNOWN_PERSON, _unknown_detail(verdict.person_id))
                rejected[i] = _as_verdict(verdict, lines[i])

        ok = rows.record & ~(invalid | unknown | future)
        batch = self._batch(rows, ts, ok, first_seq)
        return batch, _dead_letters(rejected, lines, received_at_ms)

    def _read(self, lines: list[bytes]) -> tuple[_Rows, dict[int, tuple[str, str]]]:
        """The lines as rows, and a (reason, detail) for each line that is not a record."""
        rows, rejected = _Rows(len(lines), self._index), {}
        # Blocks small enough for the joined buffer to stay in cache decode ~30% faster
        # than one big buffer per chunk, and their structs are read back while still there.
        for start in range(0, len(lines), _BLOCK_LINES):
            self._read_block(lines[start : start + _BLOCK_LINES], start, rows, rejected)
        return rows, rejected

    def _read_block(self, block: list[bytes], start: int, rows: _Rows, rejected: dict) -> None:
        # A function of its own so that the block's structs are freed on return, before the
        # next block is decoded into the memory they leave, which is still in cache.
        attempt = self._attempt(block, 0)
        if attempt[0] is not None:  # the usual case: every line is a record
            rows.fill(attempt[0], slice(start, start + len(block)))
            return
        items = self._block(block, 0, attempt)
        is_record = [type(item) in _RECORD_TYPES for item in items]
        if any(is_record):
            rows.fill(list(compress(items, is_record)), start + np.flatnonzero(is_record))
        for j, item in enumerate(items):
            if not is_record[j]:
                rejected[start + j] = _as_verdict(item, block[j])

    def _attempt(self, lines: list[bytes], depth: int) -> tuple[list | None, int | None]:
        """(records, None) if `lines` decode as one array, else (None, the line to blame)."""
        n = len(lines)
        # The brackets go onto the end lines: around the joined buffer they would copy it twice.
        parts = lines.copy()
        parts[0] = b"[" + parts[0]
        parts[-1] += b"]"
        buf = self._sep.join(parts)
        try:
            # msgspec skips unknown fields without reading their bytes; SPEC wants UTF-8.
            if not buf.isascii():
                buf.decode("utf-8")
            out = self._chunk.decode(buf)
        except _DECODE_ERRORS as e:
            return None, self._culprit(e, buf, n) if depth < _MAX_HINT_DEPTH else None
        if len(out) == 2 * n - 1 and out[1::2].count(self._mark) == n - 1:
            return out[0::2], None
        return None, None

    def _block(self, lines: list[bytes], depth: int = 0, attempt: tuple | None = None) -> list:
        """One item per line (a record or a rejection), splitting around the lines msgspec
        blames; `attempt` is the outcome of decoding `lines` whole, if already tried."""
        items: list = []
        while lines:
            recs, culprit = attempt or self._attempt(lines, depth)
            attempt = None
            if recs is not None:
                return items + recs
            if len(lines) <= _LEAF_LINES:
                return items + [self._one(ln) for ln in lines]
            if culprit is None:  # no usable hint: halve
                mid = len(lines) // 2
                items += self._block(lines[:mid], depth + 1)
                lines = lines[mid:]
                continue
            # Everything before the culprit parsed, so it normally decodes in one go; the
            # culprit gets the per-line treatment, and the rest goes round again.
            items += self._block(lines[:culprit], depth + 1)
            items.append(self._one(lines[culprit]))
            lines = lines[culprit + 1 :]
        return items

    def _culprit(self, error: Exception, buf: bytes, n: int) -> int | None:
        """The line an error message points at (a hint only: every result is re-checked)."""
        if isinstance(error, UnicodeDecodeError):
            offset = error.start
        elif m := _ELEMENT_AT.search(str(error)):
            return min(int(m[1]) // 2, n - 1)
        elif m := _BYTE_AT.search(str(error)):
            offset = int(m[1])
        else:
            return None
        # Separators sit exactly between lines, so counting them finds the line.
        return min(buf.count(self._sep, 0, offset), n - 1)

    def _one(self, line: bytes):
        # A blank line always fails its block (it leaves an empty array element), so this is
        # where one is found.
        if not line.strip():
            raise _BlankLine
        try:
            if not line.isascii():
                line.decode("utf-8")
            return self._line.decode(line)
        except _DECODE_ERRORS:
            # A wrong type, a missing field, null for an optional field, bad JSON: the
            # reference path knows which, and may still accept the record.
            return check_record(line)

    def _future_detail(self, ts_ms: int, received_at_ms: int) -> str:
        return (
            f"ts: {(ts_ms - received_at_ms) / 1000:.3f} s ahead of the clock when received "
            f"(max {self._max_future_ms / 1000:g} s)"
        )

    def _batch(self, rows: _Rows, ts: np.ndarray, ok: np.ndarray, first_seq: int) -> EventBatch:
        take = np.flatnonzero(ok)
        if len(take) == rows.n:  # everything accepted: no copies
            take = slice(None)
        lat, lon = rows.lat[take], rows.lon[take]
        if rows.crs is not None and self._convert:
            lat, lon = _to_wgs84(lat, lon, rows.crs[take])
        return EventBatch(
            kind=rows.kind[take],
            person=rows.person[take],
            ts=ts[take],
            lat=lat,
            lon=lon,
            accuracy_m=rows.accuracy_m[take],
            battery_pct=rows.battery_pct[take],
            status=rows.status[take],
            drill=rows.drill[take],
            seq=np.arange(rows.n, dtype=np.int64)[take] + first_seq,
        )

    # --- reference path -----------------------------------------------------------------------

    def decode_slow(
        self, lines: list[bytes], received_at_ms: int, first_seq: int = 0
    ) -> tuple[EventBatch, list[DeadLetter]]:
        """Same contract and answers as `decode`, one line at a time in plain Python."""
        rows, crs, rejected = [], [], {}
        limit = received_at_ms + self._max_future_ms
        for i, line in enumerate(ln for ln in lines if ln.strip()):
            rec = check_record(line)
            if isinstance(rec, tuple):
                rejected[i] = rec
                continue
            person = -1
            if rec.KIND != TICK:
                person = self._person.get(rec.person_id, -1)
                if person < 0:
                    rejected[i] = (UNKNOWN_PERSON, _unknown_detail(rec.person_id))
                    continue
            if rec.ts > limit and not rec.drill:
                rejected[i] = (FUTURE_TS, self._future_detail(rec.ts, received_at_ms))
                continue
            row = {"kind": rec.KIND, "person": person, "ts": rec.ts, "drill": bool(rec.drill)}
            row["seq"] = first_seq + i
            row["accuracy_m"] = _NAN
            if rec.KIND == FIX:
                acc = self._default_accuracy if rec.accuracy_m is None else rec.accuracy_m
                row.update(lat=rec.lat, lon=rec.lon, accuracy_m=acc)
            if rec.KIND != TICK and rec.battery_pct is not None:
                row["battery_pct"] = rec.battery_pct
            if rec.KIND == STATUS:
                row["status"] = _EVENT_CODE[rec.event]
            rows.append(row)
            crs.append(_CRS_CODE[rec.crs or "wgs84"] if rec.KIND == FIX else 0)
        batch = EventBatch.from_rows(rows)
        if self._convert and any(crs):
            batch.lat, batch.lon = _to_wgs84(batch.lat, batch.lon, np.array(crs, dtype=np.uint8))
        all_lines = [ln for ln in lines if ln.strip()]
        return batch, _dead_letters(rejected, all_lines, received_at_ms)


# --- columns and vectorised checks ------------------------------------------------------------


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

    def __init__(self, n: int, index: _PersonIndex):
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


# --- timestamps -------------------------------------------------------------------------------


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

    def __init__(self, n: int, index: _PersonIndex):
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


def _ts_column(values: list) -> tuple[np.ndarray, np.ndarray]:
    """(epoch ms, ok) for ts values that are str (RFC 3339), int or float (epoch ms)."""
    n = len(values)
    kinds = set(map(type, values))
    if kinds == {str}:
        return _parse_rfc3339(values)
    if kinds <= {int, float}:
        return _epoch_ms(values)
    ms, ok = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    is_str = np.fromiter((type(v) is str for v in values), dtype=np.bool_, count=n)
    for rows, parse in ((np.flatnonzero(is_str), _parse_rfc3339), (np.flatnonzero(~is_str), _epoch_ms)):
        ms[rows], ok[rows] = parse([values[i] for i in rows])
    return ms, ok


def _epoch_ms(values: list) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.array(values, dtype=np.float64)
    except OverflowError:  # an int beyond float range: out of range anyway
        x = np.array([_float_or_inf(v) for v in values], dtype=np.float64)
    x = np.floor(x)
    ok = (x >= MIN_TS_MS) & (x <= MAX_TS_MS)
    # Ints within the range are below 2**53, so the float detour is exact.
    return np.where(ok, x, 0).astype(np.int64), ok


def _float_or_inf(v) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def _parse_rfc3339(strs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised RFC 3339 -> epoch ms (fraction truncated to the millisecond)."""
    n = len(strs)
    ms, ok = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    length = np.fromiter(map(len, strs), dtype=np.int64, count=n)
    for width in np.unique(length).tolist():  # one width at a time, so fields line up
        rows = np.flatnonzero(length == width)
        ms[rows], ok[rows] = _parse_joined("\n".join([strs[i] for i in rows]), width)
    return ms, ok


def _parse_joined(text: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(epoch ms, ok) for `text`: strings of `width` characters, joined by newlines.

    Reads the strings as a byte matrix, so that every field sits in a fixed column. Only rows
    it fully understands are taken; anything else (odd shape, impossible date, not ASCII) is
    re-read by `rfc3339_ms`, so the matrix readers only ever need to be right, never complete.
    """
    n = (len(text) + 1) // (width + 1)
    ms, ok = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    if width >= 20:
        # One byte per character whatever the character: a non-ASCII one becomes '?', which
        # no layout accepts, so the rows still line up.
        raw = text.encode("ascii", "replace")
        chars = np.ndarray((n, width), np.uint8, raw, strides=(width + 1, 1))
        first = rfc3339_ms(text[:width])
        if first is not None:
            ms, ok = _parse_like_first(raw, chars, first)
        if not ok.all():
            _parse_layouts(chars, ~ok, ms, ok)
    for i in np.flatnonzero(~ok).tolist():
        start = i * (width + 1)
        v = rfc3339_ms(text[start : start + width])
        if v is not None:
            ms[i], ok[i] = v, True
    return ms, ok


def _parse_like_first(raw: bytes, chars: np.ndarray, first_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """(epoch ms, ok) for the rows that differ from the first, a valid one, in nothing but
    minutes, seconds and fraction: as the first row's time plus the difference in those.

    A chunk of a live feed usually spans minutes, so date, hour and zone are read just once.
    Rows beyond that (or with a bad minute, second or fraction) are left not ok.
    """
    n, width = chars.shape
    tz_at = width - 1 if chars[0, -1] | 0x20 == ord("z") else width - 6
    # Same date and hour: bytes 0-13, as two overlapping words. Same zone: the last word's
    # bytes from tz_at on (little-endian, so its high bytes).
    head1, head2, tail = (np.ndarray((n,), "<u8", raw, at, (width + 1,)) for at in (0, 6, width - 8))
    zone = 2**64 - 2 ** (8 * (8 - (width - tz_at)))
    ok = (head1 == head1[0]) & (head2 == head2[0]) & (tail & zone == tail[0] & zone)

    digit_at = [14, 15, 17, 18, *range(20, tz_at)]  # mm, ss and the fraction
    frac = max(tz_at - 20, 0)  # fraction digits; only the first three count
    weights = [600_000, 60_000, 10_000, 1000, *[100, 10, 1, *[0] * frac][:frac]]
    # One row per digit, so that every step below runs along contiguous memory.
    d = np.ascontiguousarray((chars[:, digit_at] - 48).T)  # uint8 wraps: below '0' is large
    ok &= (d <= 9).all(axis=0) & (d[0] <= 5) & (d[2] <= 5) & (chars[:, 16] == ord(":"))
    if frac:
        ok &= chars[:, 19] == ord(".")
    # A float dot product is exact here (far below 2**53) and much faster than an integer one.
    within = np.dot(np.array(weights, dtype=np.float64), d).astype(np.int64)
    ms = within + (first_ms - within[0])
    ok &= (ms >= MIN_TS_MS) & (ms <= MAX_TS_MS)
    return ms, ok


def _parse_layouts(chars: np.ndarray, rows: np.ndarray, ms: np.ndarray, ok: np.ndarray) -> None:
    """Fill in (ms, ok) for `rows`, each read in full as a date-time with Z or an offset."""
    zulu = (chars[:, -1] | 0x20) == ord("z")
    for z, these in ((True, rows & zulu), (False, rows & ~zulu)):
        if these.any():
            t = np.ascontiguousarray(chars[these].T)  # t[k]: the k-th byte of every string
            parsed = _parse_layout(t, chars.shape[1], z)
            if parsed is not None:
                ok[these], ms[these] = parsed


_DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _parse_layout(t: np.ndarray, size: int, zulu: bool):
    """(ok, ms) for `size`-character strings read as date-time[.fraction] then Z or +hh:mm.

    `t[k]` holds the k-th byte of every string.
    """
    tz_at = size - 1 if zulu else size - 6
    frac = tz_at - 20  # fraction digits, -1 when there is no fraction
    if frac == 0 or frac < -1:
        return None
    digits = _DATE_DIGITS + list(range(20, 20 + max(frac, 0)))
    if not zulu:
        digits += [tz_at + 1, tz_at + 2, tz_at + 4, tz_at + 5]
    ok = ((t[digits] - 48) <= 9).all(axis=0)  # uint8 wraps, so below '0' is large too
    ok &= (t[4] == 45) & (t[7] == 45) & (t[13] == 58) & (t[16] == 58)
    ok &= (t[10] == 84) | (t[10] == 116) | (t[10] == 32)  # T t or space
    if frac > 0:
        ok &= t[19] == 46
    d = t[:size].astype(np.int64) - 48

    def num(*cols: int) -> np.ndarray:
        v = d[cols[0]]
        for k in cols[1:]:
            v = v * 10 + d[k]
        return v

    if zulu:
        ok &= (t[tz_at] == 90) | (t[tz_at] == 122)
        offset_min = 0
    else:
        sign = t[tz_at]
        ok &= ((sign == 43) | (sign == 45)) & (t[tz_at + 3] == 58)
        off_h, off_m = num(tz_at + 1, tz_at + 2), num(tz_at + 4, tz_at + 5)
        ok &= (off_h <= 23) & (off_m <= 59)
        offset_min = np.where(sign == 45, -1, 1) * (off_h * 60 + off_m)

    y, mo, day = num(0, 1, 2, 3), num(5, 6), num(8, 9)
    h, mi, s = num(11, 12), num(14, 15), num(17, 18)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_ok = (mo >= 1) & (mo <= 12)
    dim = _DAYS_IN_MONTH[np.where(month_ok, mo, 0)] + ((mo == 2) & leap)
    ok &= (y >= 1) & month_ok & (day >= 1) & (day <= dim) & (h <= 23) & (mi <= 59) & (s <= 59)
    # Truncation to the millisecond: only the first three fraction digits count.
    frac_ms = 0
    if frac > 0:
        frac_ms = num(*range(20, 20 + min(frac, 3))) * 10 ** (3 - min(frac, 3))
    minutes = (_days_from_civil(y, mo, day) * 24 + h) * 60 + mi - offset_min
    ms = (minutes * 60 + s) * 1000 + frac_ms
    ok &= (ms >= MIN_TS_MS) & (ms <= MAX_TS_MS)
    return ok, ms


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def rfc3339_ms(s: str) -> int | None:
    """Epoch ms of an RFC 3339 date-time with offset or Z, or None if it is not one."""
    m = _RFC3339.fullmatch(s)
    if m is None:
        return None
    y, mo, d, h, mi, sec, frac, zulu, sign, oh, om = m.groups()
    if not zulu and (int(oh) > 23 or int(om) > 59):
        return None
    offset = timedelta(0) if zulu else timedelta(hours=int(oh), minutes=int(om))
    try:
        tz = timezone(-offset if sign == "-" else offset)
        t = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), tzinfo=tz)
    except ValueError:
        return None
    ms = (t - _EPOCH) // _MS + int((frac or "")[:3].ljust(3, "0"))
    return ms if MIN_TS_MS <= ms <= MAX_TS_MS else None


# --- person lookup ----------------------------------------------------------------------------


def _registrable(person_index: Mapping[str, int]) -> dict[str, int]:
    """The index without the ids no event can carry: a registered id that breaks the 1-64
    rule must still be rejected as invalid_field. Whole columns are checked first, since
    a loaded bundle's ids always pass (a step per id was a third of a second at 200,000)."""
    ids, rows = list(person_index), list(person_index.values())
    if (isinstance(person_index, dict) and set(map(type, ids)) <= {str}
            and set(map(type, rows)) <= {int} and min(map(len, ids), default=1) >= 1
            and max(map(len, ids), default=1) <= PERSON_ID_MAX):
        return person_index  # read only here: no copy needed
    return {k: int(v) for k, v in person_index.items()
            if isinstance(k, str) and 1 <= len(k) <= PERSON_ID_MAX}


class _PersonIndex:
    """Registered person_id -> person index, looked up a whole column at a time.

    With tens of thousands of persons a dict lookup per row costs up to ~300 ns, nearly all
    of it cache misses on the dict and its keys, taken one after the other. Here a column of ids is
    hashed with numpy and found in an open-addressing table of numpy arrays, so the misses
    overlap. The table compares whole ids (length and 8-byte words), so a hit is exact: the
    hash only says where to look.
    """

    def __init__(self, person: dict[str, int]):
        ids = [k.encode("utf-8", "surrogatepass") for k in person]
        self.get = person.get
        # Entry -1 (not registered) reads the -1 appended here.
        self._target = np.array([*person.values(), -1], dtype=np.int32)
        length = np.array([len(k) for k in ids], dtype=np.int64)
        starts = np.cumsum(length) - length
        window = _windows(b"".join(ids))
        self._longest = int(length.max(initial=0))
        # Entry -1 (an empty slot) has a length no id has.
        self._length = np.append(length, -1)
        # Word j of id i is self._words[j][i]: 0 past the id's own words, and for i = -1.
        self._words = np.zeros((_word_count(self._longest), len(ids) + 1), dtype=np.uint64)
        hashes = np.zeros(len(ids), dtype=np.uint64)
        for width in np.unique(length).tolist():
            these = np.flatnonzero(length == width)
            words = _id_words(window, starts[these], width)
            self._words[: len(words), these] = words
            hashes[these] = _hash(words, width)
        # At most a quarter full, so that probe runs stay short; a slot holds entry + 1 (0:
        # empty) in 32 bits, so that the table stays in cache.
        bits = max(4, (4 * len(ids)).bit_length())
        self._shift, self._mask = 64 - bits, (1 << bits) - 1
        slots, self._probes = _linear_probing((hashes >> self._shift).tolist(), self._mask)
        self._slots = (np.array(slots, dtype=np.int64) + 1).astype(np.uint32)

    def __getstate__(self) -> dict:
        # kept in the bundle cache without the dict: the Decoder gives it its own again
        return {k: v for k, v in self.__dict__.items() if k != "get"}

    def lookup(self, raw: bytes, n: int, width: int | None = None) -> np.ndarray:
        """Person indices (-1: not registered) of the `n` newline-separated ids in `raw`;
        `width`: the ids' common length in characters, if the caller knows they share one."""
        if n == 0:
            return np.empty(0, dtype=np.int32)
        window = _windows(raw)
        if width is not None and len(raw) == n * (width + 1) - 1:  # so ASCII: evenly spaced
            starts = slice(0, n * (width + 1), width + 1)
            groups = [(slice(None), width)]
        else:
            newline = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
            starts = np.append(0, newline + 1)
            widths = np.append(newline, len(raw)) - starts
            groups = [(np.flatnonzero(widths == w), w) for w in np.flatnonzero(np.bincount(widths)).tolist()]
        entry = np.empty(n, dtype=np.int64)
        for rows, w in groups:  # one width at a time
            at = starts if isinstance(starts, slice) else starts[rows]
            entry[rows] = self._find(_id_words(window, at, w), w)
        return self._target[entry]

    def _find(self, words: list[np.ndarray], width: int) -> np.ndarray:
        """The registered entry of each id (given as its words), -1 if none."""
        if width > self._longest:
            return np.full(len(words[0]), -1, dtype=np.int64)
        home = (_hash(words, width) >> self._shift).astype(np.int64)
        entry, hit, taken = self._probe(home, words, width)
        entry[~hit] = -1
        todo = np.flatnonzero(taken & ~hit)  # another id's slot: try the next ones
        for step in range(1, self._probes + 1):
            if not len(todo):
                break
            found, hit, taken = self._probe((home[todo] + step) & self._mask, [w[todo] for w in words], width)
            entry[todo[hit]] = found[hit]
            todo = todo[taken & ~hit]
        return entry

    def _probe(self, slot: np.ndarray, words: list[np.ndarray], width: int):
        """(the slots' entries, whether each is the id with these words and width, whether
        the slot is taken at all)."""
        entry = self._slots[slot].astype(np.int64) - 1  # -1: an empty slot
        hit = self._length[entry] == width
        for registered, w in zip(self._words, words, strict=False):
            hit &= registered[entry] == w
        return entry, hit, entry >= 0


_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd: a good multiplicative mixer


def _windows(raw: bytes) -> np.ndarray:
    """The 8 bytes from every offset of `raw` as a little-endian uint64 (past the end: 0)."""
    padded = raw + bytes(8)
    return np.ndarray((len(raw) + 1,), "<u8", padded, 0, (1,))


def _word_count(width: int) -> int:
    """How many 8-byte words hold an id of `width` bytes (one, all zero, for an empty id)."""
    return max(1, -(-width // 8))


def _id_words(window: np.ndarray, starts, width: int) -> list[np.ndarray]:
    """Ids of `width` bytes as 8-byte words, the last one zero-padded; `starts`: where they
    start, as an index array or (evenly spaced) a slice."""
    # Copied from a slice too: unaligned strided reads are slow, and each word is read often.
    words = [
        window[starts + at] if isinstance(starts, np.ndarray) else window[at:][starts].copy()
        for at in range(0, 8 * _word_count(width), 8)
    ]
    if width % 8 or not width:  # drop the bytes that follow the id
        words[-1] &= (1 << 8 * (width % 8)) - 1
    return words


def _hash(words: list[np.ndarray], width: int) -> np.ndarray:
    """A 64-bit hash of each id, from its words."""
    h = np.full(len(words[0]), (width + 1) * _GOLDEN % 2**64, dtype=np.uint64)
    for w in words:
        h = (h ^ w) * _GOLDEN  # uint64 wraps: multiplication modulo 2**64
    return h  # its top bits, which depend on every byte, pick the slot


def _linear_probing(home: list[int], mask: int) -> tuple[list[int], int]:
    """A table of `mask + 1` slots holding entry i at or after slot home[i], and the longest
    distance any entry landed from its home."""
    slots, longest = [-1] * (mask + 1), 0
    for i, slot in enumerate(home):
        step = 0
        while slots[(slot + step) & mask] >= 0:
            step += 1
        slots[(slot + step) & mask] = i
        longest = max(longest, step)
    return slots, longest


# --- the reference rules ----------------------------------------------------------------------


class _Invalid(Exception):
    """A field rule is broken; the message is the dead letter's detail."""


class _OutOfRange:
    """A JSON number too large for a float or an int (msgspec will not decode it)."""


_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])


def check_record(line: bytes) -> tuple[str, str] | _Fix | _Status | _Tick:
    """The SPEC §1 field rules for one line: a (reason, detail) rejection or a clean record.

    The record comes back normalised: ts in epoch ms, numbers as floats, null read as absent.
    Whether the person is registered and whether ts is in the future is the caller's check.
    """
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return MALFORMED_JSON, f"not UTF-8: invalid byte at offset {e.start}"
    try:
        obj = _RAW_OBJECT.decode(line)
    except msgspec.ValidationError:
        return MALFORMED_JSON, f"a record must be a JSON object, got {_text_of(line)}"
    except (msgspec.DecodeError, RecursionError) as e:
        return MALFORMED_JSON, f"not valid JSON: {e}"
    try:
        return _checked(obj)
    except _Invalid as e:
        return INVALID_FIELD, str(e)


def _checked(obj: dict) -> _Fix | _Status | _Tick:
    kind = _value(obj, "type")
    if kind is None:
        raise _Invalid("type: required")
    if kind not in ("fix", "status", "tick"):
        raise _Invalid(f"type: must be one of fix, status, tick, got {_shown(obj, 'type')}")
    ts = _ts(obj)
    drill = _value(obj, "drill")
    if drill is not None and type(drill) is not bool:
        raise _Invalid(f"drill: must be true or false, got {_shown(obj, 'drill')}")
    drill = bool(drill)
    if kind == "tick":
        return _Tick(ts=ts, drill=drill)

    pid = _value(obj, "person_id")
    if pid is None:
        raise _Invalid("person_id: required")
    if type(pid) is not str or not 1 <= len(pid) <= PERSON_ID_MAX:
        raise _Invalid(f"person_id: must be a string of 1-{PERSON_ID_MAX} characters, "
                       f"got {_shown(obj, 'person_id')}")
    device = _value(obj, "device_id")
    if device is not None and type(device) is not str:
        raise _Invalid(f"device_id: must be a string, got {_shown(obj, 'device_id')}")
    if kind == "status":
        event = _enum(obj, "event", STATUS_NAMES)
        if event is None:
            raise _Invalid("event: required")
        battery = _number(obj, "battery_pct", 0, 100)
        return _Status(person_id=pid, ts=ts, event=event, drill=drill, battery_pct=battery)

    lat = _number(obj, "lat", -90, 90, required=True)
    lon = _number(obj, "lon", -180, 180, required=True)
    if lat == 0 and lon == 0:
        raise _Invalid("lat, lon: both 0 is a device's 'no position', not a fix")
    accuracy = _number(obj, "accuracy_m", 0, math.inf)
    source = _enum(obj, "source", SOURCE_NAMES)
    crs = _enum(obj, "crs", CRS_NAMES)
    _number(obj, "speed_mps", -math.inf, math.inf)
    battery = _number(obj, "battery_pct", 0, 100)
    return _Fix(
        person_id=pid, ts=ts, lat=lat, lon=lon, drill=drill, accuracy_m=accuracy,
        source=source, crs=crs, battery_pct=battery,
    )


def _value(obj: dict, name: str):
    """The decoded field, None when absent or null."""
    raw = obj.get(name)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _OutOfRange()


def _ts(obj: dict) -> int:
    v = _value(obj, "ts")
    if v is None:
        raise _Invalid("ts: required")
    if type(v) is str:
        ms = rfc3339_ms(v)
        if ms is None:
            raise _Invalid(f"ts: not an RFC 3339 date-time with offset or Z, got {_shown(obj, 'ts')}")
        return ms
    if type(v) not in (int, float, _OutOfRange):
        raise _Invalid(
            f"ts: must be an RFC 3339 string or epoch milliseconds, got {_shown(obj, 'ts')}"
        )
    ms = math.floor(v) if type(v) is float else v
    if type(ms) is not int or not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise _Invalid(f"ts: out of range (years 0001-9999), got {_shown(obj, 'ts')}")
    return ms


def _number(obj: dict, name: str, lo: float, hi: float, required: bool = False) -> float | None:
    v = _value(obj, name)
    if v is None:
        if required:
            raise _Invalid(f"{name}: required")
        return None
    if type(v) not in (int, float, _OutOfRange):
        raise _Invalid(f"{name}: must be a number, got {_shown(obj, name)}")
    x = math.inf if type(v) is _OutOfRange else _float_or_inf(v)
    if not math.isfinite(x):
        raise _Invalid(f"{name}: number out of range, got {_shown(obj, name)}")
    if not lo <= x <= hi:
        bounds = f">= {lo:g}" if hi == math.inf else f"within [{lo:g}, {hi:g}]"
        raise _Invalid(f"{name}: must be {bounds}, got {_shown(obj, name)}")
    return x


def _enum(obj: dict, name: str, names: tuple[str, ...]) -> str | None:
    v = _value(obj, name)
    if v is not None and (type(v) is not str or v not in names):
        raise _Invalid(f"{name}: must be one of {', '.join(names)}, got {_shown(obj, name)}")
    return v


def _shown(obj: dict, name: str) -> str:
    return _text_of(bytes(obj[name]))


def _text_of(raw: bytes, limit: int = 60) -> str:
    """A value as it was written, shortened for a one-line detail."""
    text = raw.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unknown_detail(pid: str) -> str:
    return f"person_id: not a registered person, got {orjson.dumps(pid).decode()}"


# --- dead letters -----------------------------------------------------------------------------


def rfc3339_utc(ms: int) -> str:
    """Epoch ms as RFC 3339 UTC with milliseconds and 'Z'."""
    t = _EPOCH + timedelta(milliseconds=ms)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def raw_text(line: bytes) -> str:
    """The original line for a dead letter: UTF-8 with replacement, at most 4096 characters."""
    # No character takes more than 4 bytes, so the first 4 x 4096 bytes are enough.
    return line[: 4 * RAW_MAX_CHARS].decode("utf-8", "replace")[:RAW_MAX_CHARS]


def _dead_letters(rejected: dict, lines: list[bytes], received_at_ms: int) -> list[DeadLetter]:
    if not rejected:
        return []
    at = rfc3339_utc(received_at_ms)
    return [
        DeadLetter(received_at=at, reason=reason, detail=detail, raw=raw_text(lines[i]))
        for i, (reason, detail) in sorted(rejected.items())
    ]
