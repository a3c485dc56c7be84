"""Event-time instants (epoch ms) rendered as RFC 3339 in the bundle's timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def rfc3339(ms: int | None, tz: str = "Asia/Shanghai") -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(_zone(tz))
    return dt.isoformat(timespec="milliseconds")


def utc_rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
