"""The summary's distributions: alerts per hour, time to acknowledge, load per officer."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alerts.summary.model import AckBucket, AckFigures, AckStats, AlertRow, HourCount, OfficerLoad
from alerts.timefmt import rfc3339

HOUR_MS = 3_600_000
# Edges in minutes. 5, 15, 30 and 60 are the default escalate_after_s of critical, high,
# medium and low (SPEC §2), so a bar past an edge reads as "slower than escalation allows".
ACK_EDGES_MIN = (0, 1, 5, 15, 30, 60)


def hourly(start_ms: int, end_ms: int, opened: list[int], tz: str) -> list[HourCount]:
    """Counts per local clock hour; the first bucket starts at the hour `start` falls in."""
    local = datetime.fromtimestamp(start_ms / 1000, tz=UTC).astimezone(ZoneInfo(tz))
    t = int(local.replace(minute=0, second=0, microsecond=0).timestamp() * 1000)
    out = []
    while t < end_ms:
        n = sum(t <= o < t + HOUR_MS for o in opened)
        out.append(HourCount(start_ms=t, start=rfc3339(t, tz), count=n))
        t += HOUR_MS
    return out


def p90(values: list[float]) -> float:
    """Nearest rank: the smallest value with at least 90 % of the values at or below it, so
    the figure is always a time some alert actually took."""
    s = sorted(values)
    return s[math.ceil(0.9 * len(s)) - 1]


def figures_of(values: list[float]) -> AckFigures:
    if not values:
        return AckFigures(n=0, median_s=None, p90_s=None)
    return AckFigures(n=len(values), median_s=statistics.median(values), p90_s=p90(values))


def ack_stats(rows: list[AlertRow], severities: tuple[str, ...]) -> AckStats:
    timed = [(r.ack_s, r.severity) for r in rows if r.ack_s is not None]
    lows = [m * 60.0 for m in ACK_EDGES_MIN]
    highs: list[float | None] = [*lows[1:], None]
    buckets = [
        AckBucket(lo_s=lo, hi_s=hi,
                  count=sum(lo <= s and (hi is None or s < hi) for s, _ in timed))
        for lo, hi in zip(lows, highs, strict=True)
    ]
    return AckStats(
        timed=figures_of([s for s, _ in timed]),
        unknown=sum(r.ack_basis == "unknown" for r in rows),
        pending=sum(r.ack_basis is None for r in rows),
        buckets=buckets,
        by_severity={sev: figures_of([s for s, of in timed if of == sev]) for sev in severities},
    )


def officer_load(window, officers: dict, offices) -> list[OfficerLoad]:
    """`window`: the period's alerts as compute._Alert (versions known at as_of)."""
    counts: dict[str, dict[str, int]] = {}

    def bump(officer_id: str | None, what: str) -> None:
        if officer_id:
            c = counts.setdefault(officer_id, dict.fromkeys(
                ("routed", "acknowledged", "resolved", "escalated_to"), 0))
            c[what] += 1

    for a in window:
        route = a.last.get("route") or ()
        for oid in dict.fromkeys(step.get("officer_id") for step in route):
            bump(oid, "routed")
        for oid in dict.fromkeys(s.get("officer_id") for s in route if s.get("role") == "supervisor"):
            bump(oid, "escalated_to")
        if a.handled is not None:
            bump(a.handled.by, "acknowledged")
        if a.last["handling"] == "resolved":
            bump((a.last.get("resolution") or {}).get("by"), "resolved")
    out = []
    for oid, c in counts.items():
        o = officers.get(oid)
        out.append(OfficerLoad(officer_id=oid, name=getattr(o, "name", None),
                               role=getattr(o, "role", None), office_id=getattr(o, "office_id", None),
                               office_name=offices.name(getattr(o, "office_id", None)),
                               **c))
    return sorted(out, key=lambda x: (-x.routed, -x.acknowledged, x.officer_id))
