"""When a zone is active: weekly windows in local time, answered in UTC epoch milliseconds.

Windows are expanded, day by day, into concrete UTC intervals (wall-clock arithmetic through
zoneinfo, so DST zones work too), merged where they touch or overlap, and cached. Queries are
then a `searchsorted` over interval bounds, so `active_at` costs the same for one timestamp or
a million.

Why intervals instead of "local minute of week" arithmetic: a window running past midnight, a
Sunday window spilling into Monday, and two windows sharing a boundary all become plain
interval unions, and `next_transition` is just the next merged bound. A wall-clock time that
does not exist (inside a DST gap) maps to the instant zoneinfo gives for fold=0.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from config.model import Window

_DAY = dt.timedelta(days=1)
# Expand a few weeks at a time so streaming queries rarely recompute.
_BLOCK_DAYS = 28
_BACK_DAYS = 7
# Ranges longer than this are not unioned with the cache (a replay years away from the last
# one would otherwise expand every day in between).
_MAX_UNION_DAYS = 800
# Weekly windows repeat every 7 days (DST only shifts them), so no bound within two weeks
# means none ever.
_SEARCH_DAYS = 15


class Schedule:
    """Weekly windows [start, end) in local time of `tz`; `days` (ISO 1..7) name the day a
    window starts on; end <= start runs into the next day (end == start: a full 24 h).
    windows=None means always active, () never active."""

    def __init__(self, windows: tuple[Window, ...] | None, tz: str = "Asia/Shanghai"):
        self.windows = None if windows is None else tuple(windows)
        self.tz = ZoneInfo(tz)
        self.always = self.windows is None
        # Merged intervals [starts[i], ends[i]) in UTC ms, complete for the local dates
        # first..last (both inclusive); None until first needed.
        self._first: dt.date | None = None
        self._last: dt.date | None = None
        self._starts = np.empty(0, np.int64)
        self._ends = np.empty(0, np.int64)

    # -- expansion -------------------------------------------------------------------------

    def _local_date(self, ts_ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(ts_ms / 1000.0, self.tz).date()

    def _utc_ms(self, day: dt.date, minutes: int) -> int:
        # Wall-clock arithmetic: add minutes to the naive local time, then attach the zone.
        naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
        return round(naive.replace(tzinfo=self.tz).timestamp() * 1000)

    def _expand(self, first: dt.date, last: dt.date) -> None:
        # Windows starting the day before `first` can still cover `first`; none reaches two
        # days ahead since a window lasts at most 24 h.
        spans = []
        day = first - _DAY
        while day <= last:
            weekday = day.isoweekday()
            for w in self.windows or ():  # never None here: always-active schedules stop early
                if weekday in w.days:
                    end_day = day if w.end_min > w.start_min else day + _DAY
                    spans.append((self._utc_ms(day, w.start_min), self._utc_ms(end_day, w.end_min)))
            day += _DAY
        spans.sort()
        starts: list[int] = []
        ends: list[int] = []
        for s, e in spans:
            if starts and s <= ends[-1]:  # touching or overlapping: one interval, no fake edge
                ends[-1] = max(ends[-1], e)
            else:
                starts.append(s)
                ends.append(e)
        self._first, self._last = first, last
        self._starts = np.asarray(starts, dtype=np.int64)
        self._ends = np.asarray(ends, dtype=np.int64)

    def _ensure(self, lo_ms: int, hi_ms: int) -> None:
        """Make the cache exact for every instant in [lo_ms, hi_ms], boundaries included.

        Expanding dates first..last makes every interval bound strictly between local midnight
        of `first` and local midnight after `last` genuine (nothing unexpanded can touch it),
        hence the day of margin on each side."""
        first, last = self._local_date(lo_ms) - _DAY, self._local_date(hi_ms) + _DAY
        known_first, known_last = self._first, self._last
        if known_first is not None and known_last is not None:
            if known_first <= first and last <= known_last:
                return
            union_first, union_last = min(first, known_first), max(last, known_last)
            if (union_last - union_first).days <= _MAX_UNION_DAYS:
                first, last = union_first, union_last
        self._expand(first - _BACK_DAYS * _DAY, last + _BLOCK_DAYS * _DAY)

    # -- queries ---------------------------------------------------------------------------

    def active_at(self, ts_ms) -> np.ndarray:
        ts = np.asarray(ts_ms, dtype=np.int64)
        if self.always:
            return np.ones(ts.shape, dtype=bool)
        if ts.size == 0:
            return np.zeros(ts.shape, dtype=bool)
        self._ensure(int(ts.min()), int(ts.max()))
        i = np.searchsorted(self._starts, ts, side="right") - 1
        safe = np.maximum(i, 0)
        return (i >= 0) & (ts < self._ends[safe]) if self._ends.size else np.zeros(ts.shape, bool)

    def transitions(self, after_ms: int, until_ms: int) -> list[tuple[int, bool]]:
        """Every (ts, becomes_active) with after_ms < ts <= until_ms, in time order."""
        if self.always or until_ms <= after_ms:
            return []
        self._ensure(int(after_ms), int(until_ms))
        bounds = np.concatenate([self._starts, self._ends])
        becomes = np.concatenate(
            [np.ones(self._starts.size, bool), np.zeros(self._ends.size, bool)]
        )
        keep = (bounds > after_ms) & (bounds <= until_ms)
        order = np.argsort(bounds[keep], kind="stable")
        return [
            (int(t), bool(a))
            for t, a in zip(bounds[keep][order], becomes[keep][order], strict=True)
        ]

    def next_transition(self, after_ms: int) -> tuple[int, bool] | None:
        """The first instant strictly after `after_ms` where activity changes, and whether it
        becomes active; None if it never changes (always active, never active, or 24/7)."""
        if self.always:
            return None
        horizon = int(after_ms) + _SEARCH_DAYS * 86_400_000
        found = self.transitions(after_ms, horizon)
        return found[0] if found else None
