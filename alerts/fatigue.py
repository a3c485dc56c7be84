"""Alert fatigue (告警疲劳): how often officers resolve alerts as not real, and whose phone keeps
crying wolf.

From the disposition officers give when they resolve an alert (SPEC §4 `resolution`):

- the false-alarm share of a group (a zone, a person, an officer, an alert type) is
  false_alarm / resolved. device_fault (设备故障) is counted beside it, not in it: the alert was
  right that something was wrong, only not with the person.
- device check needed (需核查设备): a person whose alerts opened in the last DEVICE_CHECK_DAYS
  were resolved at least DEVICE_CHECK_MIN times as false_alarm or device_fault, and those make
  at least DEVICE_CHECK_SHARE of the person's resolved alerts. Both conditions: a handful of
  false alarms among many confirmed violations is a person who tests the boundary, not a
  broken phone; one false alarm out of one is chance.

Drills never count (SPEC §3). Everything here is pure except `read_resolved`, which reads the
store's latest alert versions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

import orjson
from pydantic import BaseModel, Field, computed_field

from config.loader import parse_ts_ms

FALSE_ALARM = "false_alarm"
DEVICE_FAULT = "device_fault"
NOT_THE_PERSON = (FALSE_ALARM, DEVICE_FAULT)

DEVICE_CHECK_DAYS = 30
DEVICE_CHECK_MIN = 3
DEVICE_CHECK_SHARE = 0.5
_DAY_MS = 86_400_000


class FalseAlarmShare(BaseModel):
    """One group's resolved alerts and how many of them were not real."""

    key: str | None = Field(description="zone_id, person_id, officer_id or alert type; None: "
                            "alerts without one (e.g. no zone)")
    name: str | None = Field(None, description="the zone's, person's or officer's name")
    resolved: int
    false_alarm: int
    device_fault: int

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented way; in the JSON too
    @property
    def share(self) -> float:
        """false_alarm / resolved; 0 when nothing was resolved."""
        return self.false_alarm / self.resolved if self.resolved else 0.0


class FatigueFigures(BaseModel):
    """False-alarm shares of the resolved alerts, four ways; most false alarms first."""

    resolved: int
    false_alarm: int
    device_fault: int
    by_type: list[FalseAlarmShare]
    by_zone: list[FalseAlarmShare]
    by_person: list[FalseAlarmShare]
    by_officer: list[FalseAlarmShare]  # who resolved it


class DeviceCheck(BaseModel):
    """需核查设备 / device check needed, with the figures that decided it."""

    needed: bool
    since_ms: int = Field(description="the window's start: alerts opened since then count")
    resolved: int
    false_alarm: int
    device_fault: int
    min_count: int = DEVICE_CHECK_MIN
    min_share: float = DEVICE_CHECK_SHARE


def is_counted(record: dict) -> bool:
    """A real (not drill) alert an officer resolved with a disposition."""
    return (record.get("handling") == "resolved" and not record.get("drill")
            and bool((record.get("resolution") or {}).get("disposition")))


def disposition(record: dict) -> str:
    return record["resolution"]["disposition"]


def group_shares(records: Iterable[dict], key: Callable[[dict], str | None],
                 name: Callable[[str], str | None] = lambda _: None) -> list[FalseAlarmShare]:
    """`records`: latest versions, already filtered by `is_counted`."""
    counts: dict[str | None, list[int]] = {}
    for r in records:
        c = counts.setdefault(key(r), [0, 0, 0])
        c[0] += 1
        d = disposition(r)
        c[1] += d == FALSE_ALARM
        c[2] += d == DEVICE_FAULT
    rows = [FalseAlarmShare(key=k, name=name(k) if k else None, resolved=n, false_alarm=fa,
                            device_fault=df) for k, (n, fa, df) in counts.items()]
    return sorted(rows, key=lambda s: (-s.false_alarm, -s.share, -s.resolved, s.key or "\uffff"))


def fatigue_figures(records: Iterable[dict], *, zone_names: dict[str, str],
                    person_names: dict[str, str], officer_names: dict[str, str]) -> FatigueFigures:
    """The figures of the latest versions in `records` (others are skipped)."""
    rs = [r for r in records if is_counted(r)]
    return FatigueFigures(
        resolved=len(rs),
        false_alarm=sum(disposition(r) == FALSE_ALARM for r in rs),
        device_fault=sum(disposition(r) == DEVICE_FAULT for r in rs),
        by_type=group_shares(rs, lambda r: r["type"]),
        by_zone=group_shares([r for r in rs if r.get("zone_id")], lambda r: r["zone_id"],
                             zone_names.get),
        by_person=group_shares([r for r in rs if r.get("person_id")], lambda r: r["person_id"],
                               person_names.get),
        by_officer=group_shares(rs, lambda r: r["resolution"].get("by"), officer_names.get),
    )


def device_check_since(now_ms: int) -> int:
    """The start of the device-check window: alerts opened since then count."""
    return now_ms - DEVICE_CHECK_DAYS * _DAY_MS


def device_check(records: Iterable[dict], now_ms: int) -> DeviceCheck:
    """One person's alerts (latest versions, any age): the rule over those opened in the last
    DEVICE_CHECK_DAYS before `now_ms`."""
    since = device_check_since(now_ms)
    rs = [r for r in records if is_counted(r) and since <= parse_ts_ms(r["opened_at"]) <= now_ms]
    fa = sum(disposition(r) == FALSE_ALARM for r in rs)
    df = sum(disposition(r) == DEVICE_FAULT for r in rs)
    needed = fa + df >= DEVICE_CHECK_MIN and (fa + df) >= DEVICE_CHECK_SHARE * len(rs)
    return DeviceCheck(needed=needed, since_ms=since, resolved=len(rs), false_alarm=fa,
                       device_fault=df)


def read_resolved(conn: sqlite3.Connection, since_ms: int, person_id: str | None = None) -> list[dict]:
    """Latest versions of real alerts resolved and opened at or after `since_ms` (the store's
    `alerts` table), optionally of one person."""
    sql = ("SELECT record FROM alerts WHERE drill = 0 AND handling = 'resolved' "
           "AND opened_at >= ?")
    args: list = [since_ms]
    if person_id is not None:
        sql += " AND person_id = ?"
        args.append(person_id)
    return [orjson.loads(r[0]) for r in conn.execute(sql, args)]
