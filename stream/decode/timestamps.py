"""SPEC §1 timestamps: RFC 3339 text or epoch ms, parsed a column at a time.

The vectorised parser reads same-width strings as a byte matrix; `rfc3339_ms` is its
one-string reference.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

import numpy as np

from stream.decode.records import _EPOCH, _MS, MAX_TS_MS, MIN_TS_MS


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
