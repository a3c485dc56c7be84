"""Time in one place: instants are int epoch milliseconds (UTC) everywhere inside Lookout, and
text only at the edges: RFC 3339 in the bundle's timezone for people, with Z for machines.

The decoder's vectorised RFC 3339 parser (stream/decode/timestamps.py) is the fast twin of
`parse_ts_ms` for event feeds; it is stricter (SPEC §1: an offset is required, years 0001-9999).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def wall_ms() -> int:
    """The wall clock now, in epoch ms: for receipt times and deadlines, never for event time."""
    return int(time.time() * 1000)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def rfc3339(ms: int | None, tz: str = "Asia/Shanghai") -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(_zone(tz))
    return dt.isoformat(timespec="milliseconds")


def utc_rfc3339(ms: int) -> str:
    """Epoch ms as RFC 3339 UTC with milliseconds and 'Z' (exact: no float on the way)."""
    t = EPOCH + timedelta(milliseconds=ms)
    return t.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" off; years < 1000 padded


def parse_ts_ms(value: Any) -> int:
    """RFC 3339 with an offset or Z, or epoch milliseconds -> int epoch ms."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return math.floor(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            dt = None
        # a time without an offset means a different instant on every machine
        if dt is not None and dt.tzinfo is not None:
            return (dt - EPOCH) // _MS
    raise ValueError("must be an RFC 3339 time with an offset or Z (e.g. "
                     f'"2024-05-01T08:00:00+08:00") or epoch milliseconds, got {_shown(value)}')


def ms_or_none(value: Any) -> int | None:
    """`parse_ts_ms`, with None (a field not set) passing through as None."""
    return None if value is None else parse_ts_ms(value)


def _shown(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."
