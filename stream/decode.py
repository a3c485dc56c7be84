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
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from itertools import compress, repeat
from typing import ClassVar, Literal, get_args

import msgspec
import numpy as np
import orjson

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
# ts must be representable as RFC 3339 on output: years 0001..9999, UTC.
MIN_TS_MS = -62_135_596_800_000
MAX_TS_MS = 253_402_300_799_999

_NAN = float("nan")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_EVENT_CODE = {name: i for i, name in enumerate(STATUS_NAMES)}
_CRS_CODE = {name: i for i, name in enumerate(CRS_NAMES)}


# --- the fast path's record shapes ----------------------------------------------------------
# msgspec checks what it can check for free: a string is a string, a number a number, an enum
# one of its names (a Literal costs less than a str, which would be allocated and then looked
# up). Ranges and timestamps are checked on numpy columns, so a bad value there costs one
# masked row. A wrong type or enum value costs a per-line fallback for its block of lines.
# ClassVars give every kind every attribute the column builder reads, so a mixed chunk is read
# with the same list comprehensions.

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
    accuracy_m: float | None = None
    source: _SourceName | None = None
    crs: _CrsName | None = None
    speed_mps: float | None = None
    battery_pct: float | None = None
    KIND: ClassVar[int] = FIX
    event: ClassVar[None] = None


class _Status(msgspec.Struct, tag="status", tag_field="type", gc=False):
    person_id: str
    ts: str | int | float
    event: _EventName
    device_id: str | None = None
    drill: bool | None = None
    battery_pct: float | None = None
    KIND: ClassVar[int] = STATUS
    lat: ClassVar[float] = _NAN
    lon: ClassVar[float] = _NAN
    accuracy_m: ClassVar[None] = None
    crs: ClassVar[None] = None


class _Tick(msgspec.Struct, tag="tick", tag_field="type", gc=False):
    ts: str | int | float
    drill: bool | None = None
    KIND: ClassVar[int] = TICK
    person_id: ClassVar[None] = None
    lat: ClassVar[float] = _NAN
    lon: ClassVar[float] = _NAN
    accuracy_m: ClassVar[None] = None
    battery_pct: ClassVar[None] = None
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


class Decoder:
    """Decodes chunks of JSONL lines for one person table and one set of settings."""

    def __init__(self, person_index: Mapping[str, int], settings: Settings):
        # A registered id that breaks the 1-64 rule must still be rejected as invalid_field.
        self._person = {
            k: int(v) for k, v in person_index.items() if isinstance(k, str) and 1 <= len(k) <= 64
        }
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

    # --- fast path ----------------------------------------------------------------------------

    def decode(
        self, lines: list[bytes], received_at_ms: int, first_seq: int = 0, drill: bool = False
    ) -> tuple[EventBatch, list[DeadLetter]]:
        """Valid events in input order, and the rejected records as dead letters.

        Blank lines are skipped and take no seq; every other line takes the next seq.
        `drill` marks every record as a drill (`lookout replay --drill`): a drill keeps its
        own clock, so such records are also exempt from future_ts.
        """
        lines = [ln for ln in lines if ln.strip()]
        items = self._records(lines)
        types = set(map(type, items))
        if types <= _RECORD_TYPES:
            records, pos, rejected = items, np.arange(len(items)), {}
        else:
            is_record = np.fromiter(
                map(_RECORD_TYPES.__contains__, map(type, items)), dtype=np.bool_, count=len(items)
            )
            records, pos = list(compress(items, is_record)), np.flatnonzero(is_record)
            rejected = {int(i): _as_verdict(items[i], lines[i]) for i in np.flatnonzero(~is_record)}
            types &= _RECORD_TYPES

        cols, invalid = _columns(records, types, self._default_accuracy)
        if drill:
            cols["drill"] = np.ones_like(cols["drill"])
        person, unknown = self._lookup(cols.pop("person_id"), cols["kind"], invalid)
        future = (
            ~cols["drill"] & (cols["ts"] > received_at_ms + self._max_future_ms) & ~invalid & ~unknown
        )
        for j in np.flatnonzero(invalid | unknown | future):
            i = int(pos[j])
            if invalid[j]:
                rejected[i] = _as_verdict(check_record(lines[i]), lines[i])
            elif unknown[j]:
                rejected[i] = (UNKNOWN_PERSON, _unknown_detail(records[j].person_id))
            else:
                rejected[i] = (FUTURE_TS, self._future_detail(int(cols["ts"][j]), received_at_ms))

        ok = ~(invalid | unknown | future)
        batch = self._batch(cols, person, pos, ok, first_seq)
        return batch, _dead_letters(rejected, lines, received_at_ms)

    def _records(self, lines: list[bytes]) -> list:
        """One item per line: a record struct, or a (reason, detail) rejection."""
        # Blocks small enough for the joined buffer to stay in cache decode ~30% faster
        # than one big buffer per chunk.
        items: list = []
        for start in range(0, len(lines), _BLOCK_LINES):
            items += self._block(lines[start : start + _BLOCK_LINES])
        return items

    def _block(self, lines: list[bytes], depth: int = 0) -> list:
        """Decode `lines` as one array; on failure split around the line msgspec blamed."""
        items: list = []
        while lines:
            n = len(lines)
            buf = b"[" + self._sep.join(lines) + b"]"
            culprit = None
            try:
                # msgspec skips unknown fields without reading their bytes; SPEC wants UTF-8.
                if not buf.isascii():
                    buf.decode("utf-8")
                out = self._chunk.decode(buf)
                if len(out) == 2 * n - 1 and out[1::2].count(self._mark) == n - 1:
                    return items + out[0::2]
            except _DECODE_ERRORS as e:
                culprit = self._culprit(e, buf, n) if depth < _MAX_HINT_DEPTH else None
            if n <= _LEAF_LINES:
                return items + [self._one(ln) for ln in lines]
            if culprit is None:  # no usable hint: halve
                mid = n // 2
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
        try:
            if not line.isascii():
                line.decode("utf-8")
            return self._line.decode(line)
        except _DECODE_ERRORS:
            # A wrong type, a missing field, null for an optional field, bad JSON: the
            # reference path knows which, and may still accept the record.
            return check_record(line)

    def _lookup(self, ids: list, kind: np.ndarray, invalid: np.ndarray):
        get = self._person.get
        person = np.fromiter(map(get, ids, repeat(-1)), dtype=np.int32, count=len(ids))
        unknown = (person < 0) & (kind != TICK)
        for j in np.flatnonzero(unknown):
            pid = ids[j]
            if not (type(pid) is str and 1 <= len(pid) <= 64):
                invalid[j], unknown[j] = True, False
        return person, unknown

    def _future_detail(self, ts_ms: int, received_at_ms: int) -> str:
        return (
            f"ts: {(ts_ms - received_at_ms) / 1000:.3f} s ahead of the clock when received "
            f"(max {self._max_future_ms / 1000:g} s)"
        )

    def _batch(self, cols: dict, person, pos, ok, first_seq: int) -> EventBatch:
        take = None if ok.all() else np.flatnonzero(ok)

        def sel(a):
            return a if take is None else a[take]

        lat, lon = sel(cols["lat"]), sel(cols["lon"])
        crs = cols.get("crs")
        if crs is not None and self._convert:
            lat, lon = _to_wgs84(lat, lon, sel(crs))
        return EventBatch(
            kind=sel(cols["kind"]),
            person=sel(person),
            ts=sel(cols["ts"]),
            lat=lat,
            lon=lon,
            accuracy_m=sel(cols["accuracy_m"]),
            battery_pct=sel(cols["battery_pct"]),
            status=sel(cols["status"]),
            drill=sel(cols["drill"]),
            seq=sel(pos) + first_seq,
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


def _columns(records: list, types: set, default_accuracy: float) -> tuple[dict, np.ndarray]:
    """Numpy columns of the records (`types`: their classes), and the rows breaking a rule."""
    n = len(records)
    if len(types) == 1:
        kind = np.full(n, next(iter(types)).KIND, dtype=np.uint8)
    else:
        kind = np.fromiter([r.KIND for r in records], dtype=np.uint8, count=n)
    ts, ts_ok = _ts_column([r.ts for r in records])
    invalid = ~ts_ok
    drill = [r.drill for r in records]
    drill = (  # null is false; most feeds send no drills at all
        np.fromiter([d is True for d in drill], dtype=np.bool_, count=n)
        if any(drill)
        else np.zeros(n, dtype=np.bool_)
    )
    battery = np.array([r.battery_pct for r in records], dtype=np.float64)  # None -> NaN
    invalid |= ~(np.isnan(battery) | ((battery >= 0) & (battery <= 100)))
    cols = {"kind": kind, "ts": ts, "drill": drill, "battery_pct": battery}
    cols["person_id"] = [r.person_id for r in records]

    lat = np.fromiter([r.lat for r in records], dtype=np.float64, count=n)
    lon = np.fromiter([r.lon for r in records], dtype=np.float64, count=n)
    acc = np.array([r.accuracy_m for r in records], dtype=np.float64)
    is_fix = kind == FIX
    # Typed floats from JSON are finite, so NaN here only means "not a fix" or "absent".
    invalid |= is_fix & ~(
        (np.abs(lat) <= 90) & (np.abs(lon) <= 180) & ((lat != 0) | (lon != 0)) & ~(acc < 0)
    )
    cols["accuracy_m"] = np.where(is_fix & np.isnan(acc), default_accuracy, acc)
    cols["lat"], cols["lon"] = lat, lon
    if _Fix in types:
        crs = [r.crs for r in records]
        if not set(crs) <= {None, "wgs84"}:
            cols["crs"] = np.fromiter(map(_CRS_CODE.get, crs, repeat(0)), dtype=np.uint8, count=n)

    status = np.full(n, NO_STATUS, dtype=np.uint8)
    if _Status in types:
        events = [r.event for r in records]
        status = np.fromiter(map(_EVENT_CODE.get, events, repeat(NO_STATUS)), np.uint8, count=n)
    cols["status"] = status
    return cols, invalid


def _to_wgs84(lat: np.ndarray, lon: np.ndarray, crs: np.ndarray):
    from geofences.crs import to_wgs84  # lazy: most feeds are WGS-84 and never need it

    lat, lon = lat.copy(), lon.copy()
    for code in np.unique(crs):
        if code == 0:
            continue
        rows = np.flatnonzero(crs == code)
        x, y = to_wgs84(lon[rows], lat[rows], CRS_NAMES[code])
        lon[rows], lat[rows] = x, y
    return lat, lon


# --- timestamps -------------------------------------------------------------------------------


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


_TS_WIDTH = 35  # longest string the vectorised parser reads; longer ones go one by one
_DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def _parse_rfc3339(strs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised RFC 3339 -> epoch ms (fraction truncated to the millisecond).

    Reads the strings as a byte matrix, one group of equal length at a time so that every
    field sits in a fixed column (a feed usually writes one format). Only rows it fully
    understands are taken; anything else (too long, odd shape, impossible date) is re-read by
    `rfc3339_ms`, so this only ever needs to be right, never complete.
    """
    n = len(strs)
    ms, ok = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    length = np.fromiter(map(len, strs), dtype=np.int64, count=n)
    fits = (length >= 20) & (length <= _TS_WIDTH)
    if fits.any():
        t = _char_rows(strs, length, fits)
        lengths = np.flatnonzero(np.bincount(length[fits]))
        for size in lengths:
            rows = slice(None) if len(lengths) == 1 and fits.all() else np.flatnonzero(length == size)
            tt = t[:, rows]
            last = tt[size - 1]
            zulu = (last == 90) | (last == 122)  # Z z
            for z, present in ((True, zulu.any()), (False, not zulu.all())):
                parsed = _parse_layout(tt, int(size), z) if present else None
                if parsed is not None:
                    good, value = parsed
                    ms[rows] = np.where(good, value, ms[rows])
                    ok[rows] |= good
    for i in np.flatnonzero(~ok):
        v = rfc3339_ms(strs[i])
        if v is not None:
            ms[i], ok[i] = v, True
    return ms, ok


def _char_rows(strs: list[str], length: np.ndarray, fits: np.ndarray) -> np.ndarray:
    """A (width, n) uint8 matrix whose row k holds the k-th byte of every string."""
    size = int(length[0])
    if fits.all() and (length == size).all():
        try:  # the usual case, one format throughout: no padding needed
            flat = np.frombuffer("".join(strs).encode("ascii"), dtype=np.uint8)
            return np.ascontiguousarray(flat.reshape(len(strs), size).T)
        except UnicodeEncodeError:
            pass
    try:
        a = np.array(strs, dtype=f"S{_TS_WIDTH}")
    except UnicodeEncodeError:  # not ASCII, so not RFC 3339: leave those to the slow path
        a = np.array([s if s.isascii() else "" for s in strs], dtype=f"S{_TS_WIDTH}")
    return np.ascontiguousarray(a.view(np.uint8).reshape(len(strs), _TS_WIDTH).T)


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
    if type(pid) is not str or not 1 <= len(pid) <= 64:
        raise _Invalid(f"person_id: must be a string of 1-64 characters, got {_shown(obj, 'person_id')}")
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
