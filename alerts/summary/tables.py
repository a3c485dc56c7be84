"""The summary laid out as titled tables, once, for every text format (Markdown, CSV, HTML).

Cells are plain values: words in the reader's language, local times as "YYYY-MM-DD HH:MM",
durations in minutes (one decimal), shares in percent; the header carries the unit, so a CSV
opened in a spreadsheet keeps its numbers as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alerts.fatigue import FalseAlarmShare
from alerts.summary.figures import ACK_EDGES_MIN
from alerts.summary.model import AckFigures, AlertRow, Summary
from alerts.summary.words import (
    CONDITIONS,
    DISPOSITION_WORDS,
    HANDLING_WORDS,
    ROLE_WORDS,
    SEVERITY_WORDS,
    TYPE_WORDS,
    T,
    say,
    t,
    value,
)

Cell = str | int | float | None


@dataclass
class Table:
    key: str  # also the heading's key in words.T
    headers: list[str]
    rows: list[list[Cell]]
    # Columns of ids (alert, person, officer): for machines (CSV) only. People read names; an
    # id column on the printed sheet is noise that pushes the names off the page.
    ids: tuple[int, ...] = ()

    def for_people(self) -> Table:
        if not self.ids:
            return self
        keep = [i for i in range(len(self.headers)) if i not in self.ids]
        return Table(self.key, [self.headers[i] for i in keep],
                     [[row[i] for i in keep] for row in self.rows])


def local(ms: int, tz: str) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def office_name(office_id: str | None, name: str | None, lang: str) -> str:
    """The office's name (compute took it from the bundle's offices), else its id."""
    if not office_id:
        return value(T["no_office"], lang)
    return name or office_id


def person(r) -> str:
    """The name; the id only when the bundle no longer names the person."""
    return r.person_name or r.person_id or "—"


def _words(table: dict, key: str | None, lang: str) -> str:
    return value(table[key], lang) if key in table else (key or "")


def _h(lang: str, *keys: str) -> list[str]:
    return [t(k, lang) for k in keys]


def handover_table(key: str, rows: list[AlertRow], s: Summary, lang: str) -> Table:
    headers = _h(lang, "severity", "type", "person", "person_id", "office", "opened_at", "age",
                 "condition", "handling", "officer", "alert_id")
    body = [[_words(SEVERITY_WORDS, r.severity, lang), _words(TYPE_WORDS, r.type, lang), person(r),
             r.person_id or "", office_name(r.office_id, r.office_name, lang), local(r.opened_ms, s.timezone),
             minutes(r.age_s), _words(CONDITIONS, r.condition, lang),
             _words(HANDLING_WORDS, r.handling, lang), r.officer_name or r.officer_id, r.alert_id]
            for r in rows]
    return Table(key, headers, body, ids=(3, 10))


def alert_list(s: Summary, lang: str) -> Table:
    headers = _h(lang, "alert_id", "opened_at", "type", "severity", "person", "person_id", "office",
                 "condition", "handling", "escalated_col", "officer", "disposition", "ack_time")
    yes, no = value(T["yes"], lang), value(T["no"], lang)
    body = [[r.alert_id, local(r.opened_ms, s.timezone), _words(TYPE_WORDS, r.type, lang),
             _words(SEVERITY_WORDS, r.severity, lang), r.person_name or "", r.person_id or "",
             office_name(r.office_id, r.office_name, lang), _words(CONDITIONS, r.condition, lang),
             _words(HANDLING_WORDS, r.handling, lang), yes if r.escalated else no,
             r.officer_name or r.officer_id, _words(DISPOSITION_WORDS, r.disposition, lang),
             minutes(r.ack_s)] for r in s.alerts]
    return Table("alerts", headers, body, ids=(0, 5))


def _ack_row(label: str, f: AckFigures) -> list[Cell]:
    return [label, f.n, minutes(f.median_s), minutes(f.p90_s)]


def sections(s: Summary, lang: str) -> list[Table]:
    """Every section in reading order: what is still open first, then the period's figures."""
    h = s.handover
    a = s.ack
    edges = list(ACK_EDGES_MIN)
    ranges = [f"{lo}–{hi}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)] + [f"≥{edges[-1]}"]
    type_counts: list[list[Cell]] = [[_words(TYPE_WORDS, k, lang), n] for k, n in s.by_type.items() if n]
    ack_counts: list[list[Cell]] = [[r, b.count] for r, b in zip(ranges, a.buckets, strict=True)]
    dispositions: list[list[Cell]] = [
        [_words(DISPOSITION_WORDS, d.disposition, lang), d.count, round(100 * d.share, 1)]
        for d in s.dispositions]
    dispositions.append([t("resolved_total", lang), s.resolved_total, None])
    return [
        handover_table("open", h.open, s, lang),
        handover_table("escalated", h.escalated, s, lang),
        handover_table("unacknowledged", h.unacknowledged, s, lang),
        Table("opened", _h(lang, "item", "value"), [
            [t("total", lang), s.opened_total],
            [t("escalated_total", lang), s.escalated_total],
            [t("per_hour_mean", lang), round(s.per_hour_mean, 2)],
            [t("drills_left_out", lang), s.drill_alerts_left_out],
        ]),
        Table("by_type", _h(lang, "type", "count"), type_counts),
        Table("by_severity", _h(lang, "severity", "count"),
              [[_words(SEVERITY_WORDS, k, lang), n] for k, n in s.by_severity.items()]),
        Table("by_office", _h(lang, "office", "count"),
              [[office_name(o.office_id, o.office_name, lang), o.count] for o in s.by_office]),
        Table("per_hour", _h(lang, "hour", "count"),
              [[local(x.start_ms, s.timezone), x.count] for x in s.per_hour]),
        Table("ack", [t("item", lang), t("n_timed", lang), t("median_min", lang), t("p90_min", lang)],
              [_ack_row(t("total", lang), a.timed)]
              + [_ack_row(_words(SEVERITY_WORDS, k, lang), f) for k, f in a.by_severity.items()]
              + [[t("n_unknown", lang), a.unknown, None, None],
                 [t("n_pending", lang), a.pending, None, None]]),
        Table("ack_dist", _h(lang, "range_min", "count"), ack_counts),
        Table("dispositions", _h(lang, "disposition", "count", "share_pct"), dispositions),
        *fatigue_tables(s, lang),
        Table("repeat", _h(lang, "person", "person_id", "office", "count", "type"),
              [[person(p), p.person_id, office_name(p.office_id, p.office_name, lang), p.count,
                (", " if lang == "en" else "，").join(
                    f"{_words(TYPE_WORDS, k, lang)}×{n}" for k, n in p.by_type.items())]
               for p in s.repeat_persons], ids=(1,)),
        Table("load", _h(lang, "officer_name", "officer_id", "role", "office", "routed", "acknowledged",
                         "resolved", "escalated_to"),
              [[o.name or o.officer_id, o.officer_id, _words(ROLE_WORDS, o.role, lang),
                office_name(o.office_id, o.office_name, lang), o.routed, o.acknowledged, o.resolved,
                o.escalated_to] for o in s.officer_load], ids=(1,)),
        alert_list(s, lang),
    ]


def fatigue_tables(s: Summary, lang: str) -> list[Table]:
    """False-alarm share (误报占比) per alert type, zone, person and officer who resolved.
    Persons only with a false alarm or device fault: the others are not the question."""
    f = s.fatigue

    def table(key: str, name_key: str, rows: list[FalseAlarmShare], name) -> Table:
        return Table(key, _h(lang, name_key, "key_id", "resolved", "false_alarm", "device_fault",
                             "false_share_pct"),
                     [[name(r), r.key or "", r.resolved, r.false_alarm, r.device_fault,
                       round(100 * r.share, 1)] for r in rows], ids=(1,))

    return [
        Table("false_alarms", _h(lang, "item", "value"), [
            [t("resolved_total", lang), f.resolved],
            [value(DISPOSITION_WORDS["false_alarm"], lang), f.false_alarm],
            [value(DISPOSITION_WORDS["device_fault"], lang), f.device_fault],
            [t("false_share_pct", lang), round(100 * f.false_alarm / f.resolved, 1) if f.resolved
             else None],
        ]),
        table("fa_by_type", "type", f.by_type, lambda r: _words(TYPE_WORDS, r.key, lang)),
        table("fa_by_zone", "zone", f.by_zone, lambda r: r.name or r.key),
        table("fa_by_person", "person", [r for r in f.by_person if r.false_alarm + r.device_fault],
              lambda r: r.name or r.key),
        table("fa_by_officer", "resolved_by", f.by_officer, lambda r: r.name or r.key or "—"),
    ]


# Sections that start a part of the page; the others sit under the one before them.
TOP = {"opened", "per_hour", "ack", "dispositions", "false_alarms", "repeat", "load", "alerts"}


def heading(key: str, lang: str) -> str:
    return say(T[key], lang)


def header_lines(s: Summary, lang: str) -> list[tuple[str, str]]:
    """(label, value) lines under the title."""
    office = office_name(s.office, s.office_name, lang) if s.office else t("all_offices", lang)
    return [
        (t("period", lang), f"{local(s.start_ms, s.timezone)} – {local(s.end_ms, s.timezone)} "
                            f"({s.timezone})"),
        (t("as_of", lang), local(s.as_of_ms, s.timezone)),
        (t("office", lang), office),
        (t("drills_left_out", lang), str(s.drill_alerts_left_out)),
    ]
