"""compute_summary: the shift lead's handover figures from alert update records (SPEC §4).

Pure: no clock, no I/O. Every figure is taken "as of" min(end, now): versions written later
are ignored, so a summary of yesterday's shift reads the same today as it did at handover.

- "Opened in the period" means opened_at in [start, end); a reopened alert is still one.
- The handover lists cover every alert opened before as_of, not only the period's: what is
  still open or unanswered is on the table whenever it started. Cleared alerts leave the
  unacknowledged list once they can no longer be acted on (RESOLVABLE_FOR_MS after clearing).
- Drills are left out of every figure (SPEC §3); only their number is reported.
- The office is the person's office in the bundle. feed_down has no person: it appears only
  when the summary is neither filtered by office nor restricted by `visible_offices`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from alerts.actions import DISPOSITIONS
from alerts.fatigue import fatigue_figures
from alerts.incidents import RESOLVABLE_FOR_MS
from alerts.kinds import ALERT_TYPES, SEVERITIES
from alerts.summary.figures import ack_stats, hourly, officer_load
from alerts.summary.history import Timeline, VersionTimes, first_handling, timelines
from alerts.summary.model import (
    AlertRow,
    DispositionShare,
    Handover,
    OfficeCount,
    RepeatPerson,
    Summary,
)
from alerts.timefmt import ms_or_none, parse_ts_ms, rfc3339
from config.model import Bundle
from config.offices import Offices

SEVERITY_ORDER = tuple(reversed(SEVERITIES))  # critical first: the order a lead reads in


class _Alert:
    """One alert, cut at as_of."""

    __slots__ = ("tl", "known", "last", "office_id", "handled")

    def __init__(self, tl: Timeline, known: list[dict], office_id: str | None, handled):
        self.tl, self.known, self.last = tl, known, known[-1]
        self.office_id, self.handled = office_id, handled

    @property
    def opened_ms(self) -> int:
        return parse_ts_ms(self.tl.first["opened_at"])


def compute_summary(
    updates: Iterable[dict],
    bundle: Bundle,
    start_ms: int,
    end_ms: int,
    office: str | None = None,
    now_ms: int | None = None,
    *,
    visible_offices: set[str] | None = None,
    version_times: VersionTimes | None = None,
    ack_by: Mapping[str, str] | None = None,
) -> Summary:
    """`updates`: every stored version (SPEC §4 records), several per alert, any order.
    `version_times`: the store's write time per (alert_id, version), epoch ms, when it has it.
    `ack_by`: alert_id -> who acknowledged (the store's action log), when known.
    `visible_offices`: the offices the reader may see (None: all)."""
    if end_ms <= start_ms:
        raise ValueError("end must be after start / 结束时间须晚于开始时间")
    tz = bundle.settings.timezone
    as_of = end_ms if now_ms is None else min(end_ms, now_ms)
    office_of = {p.person_id: p.office_id for p in bundle.persons}
    names = {p.person_id: p.name for p in bundle.persons}
    officers = {o.officer_id: o for o in bundle.officers}
    offices = Offices(bundle)

    def visible(rec: dict) -> bool:
        pid = rec.get("person_id")
        if not pid:
            return office is None and visible_offices is None
        o = office_of.get(pid)
        return (office is None or o == office) and (visible_offices is None or o in visible_offices)

    alerts, drills = [], 0
    for tl in timelines(updates, version_times):
        first = tl.first
        if parse_ts_ms(first["opened_at"]) >= as_of or not visible(first):
            continue
        if first.get("drill"):
            drills += parse_ts_ms(first["opened_at"]) >= start_ms
            continue
        known = tl.known_at(as_of)
        handled = first_handling(tl, known, version_times, ack_by)
        alerts.append(_Alert(tl, known, office_of.get(first.get("person_id") or ""), handled))
    alerts.sort(key=lambda a: (a.opened_ms, a.tl.alert_id))

    def row(a: _Alert) -> AlertRow:
        rec, pid = a.last, a.last.get("person_id")
        holder = rec.get("officer_id")
        res = rec.get("resolution") or {}
        h = a.handled
        return AlertRow(
            alert_id=a.tl.alert_id, person_id=pid, person_name=names.get(pid or ""),
            office_id=a.office_id, office_name=offices.name(a.office_id),
            type=rec["type"], severity=rec["severity"],
            opened_ms=a.opened_ms, opened_at=rfc3339(a.opened_ms, tz),
            condition=rec["condition"], handling=rec["handling"], escalated=bool(rec["escalated"]),
            officer_id=holder, officer_name=getattr(officers.get(holder or ""), "name", None),
            disposition=res.get("disposition"), age_s=(as_of - a.opened_ms) / 1000,
            ack_s=h.seconds if h else None, ack_basis=h.basis if h else None,
        )

    def urgent_first(rows: list[AlertRow]) -> list[AlertRow]:
        return sorted(rows, key=lambda r: (SEVERITY_ORDER.index(r.severity), r.opened_ms))

    rows = {a.tl.alert_id: row(a) for a in alerts}
    window = [a for a in alerts if a.opened_ms >= start_ms and a.opened_ms < end_ms]
    wrows = [rows[a.tl.alert_id] for a in window]

    def still_actionable(a: _Alert) -> bool:
        cleared = ms_or_none(a.last.get("cleared_at"))
        return cleared is None or cleared + RESOLVABLE_FOR_MS >= as_of

    handover = Handover(
        open=urgent_first([rows[a.tl.alert_id] for a in alerts if a.last["condition"] == "active"]),
        escalated=urgent_first([rows[a.tl.alert_id] for a in alerts if a.last["escalated"]
                                and a.last["handling"] != "resolved" and still_actionable(a)]),
        unacknowledged=urgent_first([rows[a.tl.alert_id] for a in alerts
                                     if a.last["handling"] == "new" and still_actionable(a)]),
    )

    by_office = Counter(r.office_id for r in wrows)
    resolved = Counter(r.disposition for r in wrows if r.handling == "resolved")
    n_resolved = sum(resolved.values())
    # hours after as_of have not happened yet: no bars for them, and the mean is per hour elapsed
    per_hour = hourly(start_ms, as_of, [r.opened_ms for r in wrows], tz)
    elapsed_h = max(0, as_of - start_ms) / 3_600_000
    return Summary(
        timezone=tz, start_ms=start_ms, end_ms=end_ms, as_of_ms=as_of,
        start=rfc3339(start_ms, tz), end=rfc3339(end_ms, tz), as_of=rfc3339(as_of, tz),
        office=office, office_name=offices.name(office), visible_offices=sorted(visible_offices) if visible_offices is not None else None,
        drill_alerts_left_out=drills,
        opened_total=len(wrows),
        by_type={k: sum(r.type == k for r in wrows) for k in ALERT_TYPES},
        by_severity={k: sum(r.severity == k for r in wrows) for k in SEVERITY_ORDER},
        by_office=[OfficeCount(office_id=o, office_name=offices.name(o), count=n)
                   for o, n in sorted(by_office.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))],
        escalated_total=sum(r.escalated for r in wrows),
        handover=handover,
        ack=ack_stats(wrows, SEVERITY_ORDER),
        repeat_persons=_repeats(wrows),
        officer_load=officer_load(window, officers, offices),
        resolved_total=n_resolved,
        dispositions=[DispositionShare(disposition=d, count=resolved[d],
                                       share=resolved[d] / n_resolved if n_resolved else 0.0)
                      for d in DISPOSITIONS],
        fatigue=fatigue_figures(
            [a.last for a in window], zone_names={z.zone_id: z.name for z in bundle.zones},
            person_names=names, officer_names={o.officer_id: o.name for o in bundle.officers}),
        per_hour=per_hour,
        per_hour_mean=len(wrows) / elapsed_h if elapsed_h else 0.0,
        alerts=wrows,
    )


def _repeats(wrows: list[AlertRow]) -> list[RepeatPerson]:
    by_person: dict[str, list[AlertRow]] = {}
    for r in wrows:
        if r.person_id:
            by_person.setdefault(r.person_id, []).append(r)
    out = [
        RepeatPerson(person_id=pid, person_name=rs[0].person_name, office_id=rs[0].office_id,
                     office_name=rs[0].office_name,
                     count=len(rs), by_type=dict(Counter(r.type for r in rs)))
        for pid, rs in by_person.items() if len(rs) >= 2
    ]
    return sorted(out, key=lambda p: (-p.count, p.person_id))
