"""Coverage gaps: hours of the week when an office's alerts would reach nobody on shift.

For each office with persons, over the bundle's weekly rota in local wall-clock time (minute by
minute, Monday 00:00 to Sunday 24:00): `alert` gaps are the minutes when nobody (duty officer,
officer, supervisor) is on shift anywhere up its `parent_id` chain, so a new alert would be
routed `unstaffed`; `escalation` gaps are those when no supervisor the escalation could reach
is on shift. Reported when a bundle loads, when shifts change, and as a metric.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from config.cache import compiled
from config.model import Bundle
from config.offices import Offices
from config.persons import PersonTable

DAY_MIN = 1440
WEEK_MIN = 7 * DAY_MIN
NEEDS = ("alert", "escalation")
_DAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHOWN_SPANS = 6


@dataclass(frozen=True, slots=True)
class Gap:
    office_id: str
    office_name: str
    need: str  # "alert" | "escalation"
    spans: tuple[tuple[int, int], ...]  # [start, end) minutes of the week, Monday 00:00 = 0

    @property
    def hours(self) -> float:
        return sum(e - s for s, e in self.spans) / 60

    @property
    def daily(self) -> bool:
        """The same hours every day of the week (a night nobody covers, say)."""
        shapes = {(s % DAY_MIN, e - s) for s, e in self.spans}
        return len(self.spans) == 7 and len(shapes) == 1

    def as_json(self) -> dict:
        return {"office_id": self.office_id, "office_name": self.office_name, "need": self.need,
                "hours_a_week": self.hours, "warning": self.describe()}

    def describe(self) -> str:
        """One bilingual line, in SPEC §7's words (无人值班 / nobody on shift)."""
        if self.daily:
            s, e = self.spans[0]
            hours = span_text(s % DAY_MIN, s % DAY_MIN + e - s, ("",) * 7).replace(" ", "")
            shown_zh, shown, tail_zh, tail_en = f"每天 {hours}", f"daily {hours}", "", ""
        else:
            shown = ", ".join(span_text(s, e, _DAYS_EN) for s, e in self.spans[:_SHOWN_SPANS])
            shown_zh = "，".join(span_text(s, e, _DAYS_ZH) for s, e in self.spans[:_SHOWN_SPANS])
            more = len(self.spans) - _SHOWN_SPANS
            tail_zh, tail_en = ((f" 等 {len(self.spans)} 段", f" and {more} more") if more > 0
                                else ("", ""))
        if self.need == "alert":
            zh, en = "无人值班，告警无人接收", "nobody on shift to receive alerts"
        else:
            zh, en = "无值班长在岗，升级无人接收", "no supervisor on shift to escalate to"
        who = (self.office_name if self.office_name == self.office_id
               else f"{self.office_name} ({self.office_id})")
        return (f"值班空档 coverage gap: {who}: "
                f"{zh} {shown_zh}{tail_zh}（每周 {self.hours:g} 小时）/ {en} {shown}{tail_en} "
                f"({self.hours:g} h a week)")


def span_text(start: int, end: int, days: tuple[str, ...]) -> str:
    def at(m: int) -> tuple[str, str]:
        return days[(m // DAY_MIN) % 7], f"{m % DAY_MIN // 60:02d}:{m % 60:02d}"

    d0, t0 = at(start)
    if end % DAY_MIN == 0 and (end - 1) // DAY_MIN == start // DAY_MIN:
        return f"{d0} {t0}–24:00"
    d1, t1 = at(end)
    return f"{d0} {t0}–{t1}" if d0 == d1 else f"{d0} {t0}–{d1} {t1}"


def week_masks(bundle: Bundle) -> dict[str, np.ndarray]:
    """officer_id -> minutes of the week on shift; an officer without shifts is always on."""
    masks = {o.officer_id: np.ones(WEEK_MIN, dtype=bool) for o in bundle.officers}
    rostered = {s.officer_id for s in bundle.shifts}
    for oid in rostered:
        masks[oid] = np.zeros(WEEK_MIN, dtype=bool)
    for s in bundle.shifts:
        length = (s.end_min - s.start_min) % DAY_MIN or DAY_MIN
        for day in s.days:
            start = (day - 1) * DAY_MIN + s.start_min
            masks[s.officer_id][np.arange(start, start + length) % WEEK_MIN] = True
    return masks


def _spans(missing: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Runs of True as [start, end) minutes of the week."""
    edges = np.flatnonzero(np.diff(np.concatenate([[False], missing, [False]]).astype(np.int8)))
    spans = [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]
    if len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == WEEK_MIN:
        # Sunday night into Monday morning is one gap: it comes last, ending past the week
        spans = spans[1:-1] + [(spans[-1][0], WEEK_MIN + spans[0][1])]
    return tuple(spans)


def coverage_gaps(bundle: Bundle) -> list[Gap]:
    offices = Offices(bundle)
    masks = week_masks(bundle)
    staff: dict[str, list[str]] = {}
    supervisors: dict[str, list[str]] = {}
    officers = {o.officer_id: o for o in bundle.officers}
    for o in bundle.officers:
        if o.role in ("duty", "officer", "supervisor"):
            staff.setdefault(o.office_id, []).append(o.officer_id)
        if o.role == "supervisor":
            supervisors.setdefault(o.office_id, []).append(o.officer_id)
    never = np.zeros(WEEK_MIN, dtype=bool)

    def any_on(ids) -> np.ndarray:
        on = never.copy()
        for oid in ids:
            on |= masks.get(oid, never)
        return on

    persons_officers = _officers_by_office(PersonTable.of(bundle.persons))
    out = []
    for office in sorted(persons_officers):
        chain = offices.chain(office)
        receivers = [oid for o in chain for oid in staff.get(o, ())]
        receivers += [oid for oid in persons_officers[office] if oid in officers]
        sups = [oid for o in chain for oid in supervisors.get(o, ())]
        sups += [sid for oid in persons_officers[office]
                 if (sid := getattr(officers.get(oid), "supervisor_id", None))]
        if not sups:  # as the router: any supervisor of the bundle
            sups = [oid for ids in supervisors.values() for oid in ids]
        if not bundle.officers:
            continue  # no officers.json: everyone's own officer gets everything
        for need, ids in (("alert", receivers), ("escalation", sups)):
            spans = _spans(~any_on(ids))
            if spans:
                out.append(Gap(office, offices.name(office) or office, need, spans))
    return out


def _officers_by_office(persons: PersonTable) -> dict[str, set[str]]:
    """office_id -> the officers of its persons, from the distinct (office, officer) pairs."""
    pairs = np.unique(persons.office.astype(np.int64) * len(persons.officers) + persons.officer)
    out: dict[str, set[str]] = {}
    for office, officer in zip(*np.divmod(pairs, max(1, len(persons.officers))), strict=True):
        out.setdefault(persons.offices[office], set()).add(persons.officers[officer])
    return out


def offices_with_persons(bundle: Bundle) -> dict[str, str]:
    """office_id -> name, for every office with persons."""
    offices = Offices(bundle)
    persons = PersonTable.of(bundle.persons)
    used = {persons.offices[c] for c in np.unique(persons.office).tolist()}
    return {o: offices.name(o) or o for o in sorted(used)}


def report(bundle: Bundle, metrics=None, stream=None) -> list[Gap]:
    """Every place a bundle is taken up: a warning line per gap on `stream` (stderr by
    default) and the gauge of `metrics` (stream.metrics.LookoutMetrics), if given."""
    gaps = compiled(bundle).get("coverage gaps", lambda: coverage_gaps(bundle))
    out = sys.stderr if stream is None else stream
    for g in gaps:
        print(f"lookout: warning 警告: {g.describe()}", file=out, flush=True)
    if metrics is not None:
        metrics.set_coverage(gaps, offices_with_persons(bundle))
    return gaps
