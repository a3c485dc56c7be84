"""`lookout backtest`: what a settings change would have done to a recorded feed.

    lookout backtest FEED... --bundle DIR --settings new.toml [--db lookout.db] [--json]

The feed is replayed twice in process, under the bundle's settings (current 当前) and under
them overlaid with `new.toml` (proposed 拟议). Alerts are matched by key (person, type, zone,
drill) and overlapping time: [opened_at, last cleared_at], open-ended while still active. The
report lists the alerts only one side raises, how matched alerts move (`opened_at`, and the
moment the alert is raised: version 1's `last_event_at`, the event that confirmed it), and,
from the store's officers' dispositions, the confirmed violations the change would miss and
the false alarms (误报, 设备故障) it would save. See docs/backtest.md.
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from alerts.kinds import DISPOSITION_WORDS, WORDS
from alerts.timefmt import ms_or_none
from config.loader import BundleError
from config.model import Bundle

EXIT_BAD_INPUT = 2
FALSE_DISPOSITIONS = ("false_alarm", "device_fault")
SHOWN = 40  # alerts listed per side in the text report (the JSON has them all)

Key = tuple[str | None, str, str | None, bool]


@dataclass
class Alert:
    """One alert of a replay (or of the store), reduced to what matching needs."""

    alert_id: str
    key: Key
    opened_at: int
    raised_at: int  # version 1's last_event_at: when the engine had the evidence
    ended_at: int | None  # last cleared_at; None while active
    record: dict  # the latest version
    disposition: str | None = None
    versions: int = 1

    def overlaps(self, other: Alert) -> bool:
        end, other_end = self.ended_at or 2**62, other.ended_at or 2**62
        return self.opened_at <= other_end and other.opened_at <= end

    def brief(self) -> dict:
        r = self.record
        return {"alert_id": self.alert_id, "person_id": r["person_id"], "type": r["type"],
                "zone_id": r["zone_id"], "opened_at": r["opened_at"],
                "cleared_at": r["cleared_at"], "drill": r["drill"],
                "disposition": self.disposition}


def alerts_from_updates(updates: Iterable[dict]) -> list[Alert]:
    by_id: dict[str, Alert] = {}
    for u in updates:
        a = by_id.get(u["alert_id"])
        if a is None:
            a = by_id[u["alert_id"]] = Alert(
                u["alert_id"], (u["person_id"], u["type"], u["zone_id"], bool(u["drill"])),
                ms_or_none(u["opened_at"]), ms_or_none(u["last_event_at"]), None, u)
        a.record, a.versions = u, max(a.versions, u["version"])
        a.ended_at = ms_or_none(u["cleared_at"]) if u["condition"] == "cleared" else None
        res = u.get("resolution")
        a.disposition = res.get("disposition") if res else None
    return sorted(by_id.values(), key=lambda a: (a.opened_at, a.alert_id))


def match(left: list[Alert], right: list[Alert]) -> tuple[list[tuple[Alert, Alert]],
                                                           list[Alert], list[Alert]]:
    """Pairs with the same key and overlapping time (earliest first), and the unmatched of
    each side. The same alert_id always pairs: same key and first opened_at."""
    pool: dict[Key, list[Alert]] = defaultdict(list)
    for a in right:
        pool[a.key].append(a)
    by_id = {a.alert_id: a for a in right}
    taken: set[str] = set()
    pairs, only_left = [], []
    for a in left:
        b = by_id.get(a.alert_id)
        if b is None or b.alert_id in taken:
            b = next((c for c in pool[a.key] if c.alert_id not in taken and a.overlaps(c)), None)
        if b is None:
            only_left.append(a)
        else:
            taken.add(b.alert_id)
            pairs.append((a, b))
    return pairs, only_left, [b for b in right if b.alert_id not in taken]


# -- the store ---------------------------------------------------------------------------------


def store_alerts(db: str) -> list[Alert]:
    """The latest version of every alert in the embedded service's store, read-only."""
    if not os.path.isfile(db):
        raise BundleError(db, "", "--db", "no such store file")
    try:
        conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT record FROM alerts").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise BundleError(db, "", "--db", f"not a Lookout store: {e}") from None
    return alerts_from_updates(orjson.loads(r[0]) for r in rows)


def attach_dispositions(alerts: list[Alert], stored: list[Alert]) -> int:
    """Copies officers' dispositions from the store onto the replay's alerts it matches."""
    pairs, _, _ = match(alerts, stored)
    for a, s in pairs:
        a.disposition = s.disposition
    return sum(1 for _, s in pairs if s.disposition)


# -- the two replays ---------------------------------------------------------------------------


def replay_alerts(bundle: Bundle, paths: list[str], label: str) -> tuple[list[Alert], int, int]:
    """(alerts, events read, largest alert time) of one in-process replay."""
    from stream.deadletter import DeadLetterWriter
    from stream.progress import progress_reporter
    from stream.replay import replay

    out = io.BytesIO()
    with progress_reporter(paths, label=label) as progress:
        summary = replay(bundle, paths, out, DeadLetterWriter(None), progress=progress)
    updates = [orjson.loads(ln) for ln in out.getvalue().splitlines()]
    return alerts_from_updates(updates), summary.read, summary.rejected.total()


def _seconds(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = np.asarray(values, float)
    q = np.percentile(v, [50, 95], method="inverted_cdf")
    return {"n": len(values), "mean": round(float(v.mean()), 1), "p50": round(float(q[0]), 1),
            "p95": round(float(q[1]), 1), "min": round(float(v.min()), 1),
            "max": round(float(v.max()), 1),
            "later": int((v > 0).sum()), "earlier": int((v < 0).sum())}


def _dispositions(alerts: list[Alert]) -> dict:
    return dict(sorted(Counter(a.disposition or "none" for a in alerts).items()))


def _by_type(alerts: list[Alert]) -> dict:
    return dict(sorted(Counter(a.key[1] for a in alerts).items()))


@dataclass
class Backtest:
    feeds: list[str]
    changes: dict
    events: int
    rejected: int
    current: list[Alert]
    proposed: list[Alert]
    db: str | None = None
    dispositions_known: int = 0
    bundle: Bundle | None = None  # the current one: names for the report
    pairs: list[tuple[Alert, Alert]] = field(default_factory=list)
    only_current: list[Alert] = field(default_factory=list)
    only_proposed: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pairs, self.only_current, self.only_proposed = match(self.current, self.proposed)

    def _shifts(self, pairs) -> dict:
        return {"opened_at": _seconds([(b.opened_at - a.opened_at) / 1000 for a, b in pairs]),
                "raised_at": _seconds([(b.raised_at - a.raised_at) / 1000 for a, b in pairs])}

    def to_dict(self) -> dict:
        by_type: dict[str, list] = defaultdict(list)
        for a, b in self.pairs:
            by_type[a.key[1]].append((a, b))
        moved = [a.brief() | {"proposed_alert_id": b.alert_id,
                              "opened_at_shift_s": (b.opened_at - a.opened_at) / 1000,
                              "raised_at_shift_s": (b.raised_at - a.raised_at) / 1000}
                 for a, b in self.pairs if (a.opened_at, a.raised_at) != (b.opened_at, b.raised_at)]
        missed = [a for a in self.only_current if a.disposition == "violation_confirmed"]
        saved = [a for a in self.only_current if a.disposition in FALSE_DISPOSITIONS]
        return {
            "feeds": self.feeds,
            "events_read": self.events,
            "events_rejected": self.rejected,
            "settings_changed": {k: {"current": a, "proposed": b}
                                 for k, (a, b) in self.changes.items()},
            "alerts": {"current": _by_type(self.current), "proposed": _by_type(self.proposed),
                       "matched": len(self.pairs)},
            "only_current": [a.brief() for a in self.only_current],
            "only_proposed": [a.brief() for a in self.only_proposed],
            "delay_change_s": self._shifts(self.pairs) | {
                "by_type": {t: self._shifts(p) for t, p in sorted(by_type.items())}},
            "matched_moved": moved,
            "store": None if self.db is None else {
                "db": self.db,
                "alerts_with_disposition": self.dispositions_known,
                "only_current_dispositions": _dispositions(self.only_current),
                "only_proposed_dispositions": _dispositions(self.only_proposed),
                "confirmed_violations_missed": len(missed),
                "false_alarms_saved": len(saved),
                "false_alarms_saved_by_disposition": _dispositions(saved),
            },
        }


def run_backtest(paths: list[str], bundle_dir: str, settings_path: str,
                 db: str | None = None) -> Backtest:
    from stream.proposed import proposed_bundle

    current_bundle, proposed_bundle_, changes = proposed_bundle(bundle_dir, settings_path)
    stored = store_alerts(db) if db else None
    current, events, rejected = replay_alerts(current_bundle, paths, "current 当前设置")
    proposed, _, _ = replay_alerts(proposed_bundle_, paths, "proposed 拟议设置")
    known = 0
    if stored is not None:
        known = attach_dispositions(current, stored)
        attach_dispositions(proposed, stored)
    return Backtest(paths, changes, events, rejected, current, proposed, db, known,
                    current_bundle)


# -- the report --------------------------------------------------------------------------------


def _type_words(t: str) -> str:
    zh, en = WORDS.get(t, (t, t))
    return f"{zh} {en}"


def _alert_line(a: Alert, names: dict[str, str], zones: dict[str, str]) -> str:
    r = a.record
    who = names.get(r["person_id"] or "", r["person_id"] or "—")
    zone = f" {zones.get(r['zone_id'], r['zone_id'])}" if r["zone_id"] else ""
    disp = ""
    if a.disposition:
        zh, en = DISPOSITION_WORDS.get(a.disposition, (a.disposition, a.disposition))
        disp = f"  处置 disposition: {zh} {en}"
    drill = " [演练 drill]" if r["drill"] else ""
    return f"  {r['opened_at']}  {who}  {_type_words(r['type'])}{zone}{drill}{disp}"


def _list(title: str, alerts: list[Alert], names, zones) -> list[str]:
    out = [f"{title} ({len(alerts)})"]
    out += [_alert_line(a, names, zones) for a in alerts[:SHOWN]]
    if len(alerts) > SHOWN:
        out.append(f"  … {len(alerts) - SHOWN} more 另有 {len(alerts) - SHOWN} 条 (--json lists all)")
    return out


def _shift(d: dict) -> str:
    if d["n"] == 0:
        return "none matched 无匹配"
    return (f"p50 {d['p50']:+g} s, p95 {d['p95']:+g} s, min {d['min']:+g} s, max {d['max']:+g} s "
            f"(later 推迟 {d['later']}, earlier 提前 {d['earlier']} of {d['n']})")


def render(bt: Backtest) -> str:
    persons = bt.bundle.persons if bt.bundle else []
    names = {p.person_id: p.name for p in persons}
    zones = {z.zone_id: z.name for z in bt.bundle.zones} if bt.bundle else {}
    d = bt.to_dict()
    lines = [f"Backtest 规则回测: {len(bt.feeds)} feed(s), {bt.events:,} events read 读取事件"
             + (f", {bt.rejected:,} rejected 拒收" if bt.rejected else "")]
    lines.append("Settings changed 设置变更:" + ("" if bt.changes else " none 无"))
    lines += [f"  {k}: {a} → {b}" for k, (a, b) in bt.changes.items()]
    lines.append("Alerts by type 各类告警 (current 当前 → proposed 拟议):")
    for t in sorted(set(d["alerts"]["current"]) | set(d["alerts"]["proposed"])):
        lines.append(f"  {_type_words(t)}: {d['alerts']['current'].get(t, 0)} → "
                     f"{d['alerts']['proposed'].get(t, 0)}")
    lines.append(f"Matched 两者皆有: {len(bt.pairs)}")
    lines += _list("Only under current settings 仅当前设置产生 (the change would drop them)",
                   bt.only_current, names, zones)
    lines += _list("Only under proposed settings 仅拟议设置产生 (the change would add them)",
                   bt.only_proposed, names, zones)
    delay = d["delay_change_s"]
    lines.append("Detection delay change 检测时间变化 (proposed − current, matched alerts):")
    for t, shifts in delay["by_type"].items():
        if shifts["raised_at"]["later"] or shifts["raised_at"]["earlier"] or \
                shifts["opened_at"]["later"] or shifts["opened_at"]["earlier"]:
            lines.append(f"  {_type_words(t)}:")
            lines.append(f"    raised 告警产生时间: {_shift(shifts['raised_at'])}")
            lines.append(f"    opened_at 起始时间: {_shift(shifts['opened_at'])}")
    if not d["matched_moved"]:
        lines.append("  no matched alert moved 匹配告警时间均未变化")
    s = d["store"]
    if s is not None:
        saved = ", ".join(f"{DISPOSITION_WORDS[k][0]} {k} {v}"
                          for k, v in s["false_alarms_saved_by_disposition"].items())
        lines += [
            f"Officers' dispositions 工作人员处置结论 ({s['db']}, "
            f"{s['alerts_with_disposition']} of the current alerts resolved 已处置):",
            f"  confirmed violations the change would miss 将漏报的确认违规: "
            f"{s['confirmed_violations_missed']}",
            f"  false alarms it would save 将减少的误报: {s['false_alarms_saved']}"
            + (f" ({saved})" if saved else ""),
        ]
    return "\n".join(lines) + "\n"


# -- the command line --------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lookout backtest",
        description="Replay a recorded feed under the current and proposed settings and compare "
                    "the alerts / 用历史数据对比现行与拟议设置下的告警")
    p.add_argument("feeds", nargs="+", metavar="FEED", help="JSONL files (.gz allowed), e.g. "
                   "from `lookout record`")
    p.add_argument("--bundle", required=True, help="the deployment bundle (current settings)")
    p.add_argument("--settings", required=True, help="TOML with the settings to change")
    p.add_argument("--db", help="the service's store (lookout.db): officers' dispositions")
    p.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    return p


def cli_backtest(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for path in args.feeds:
        if not os.path.isfile(path):
            print(f"lookout backtest: feed not found 找不到事件文件: {path}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        bt = run_backtest(args.feeds, args.bundle, args.settings, args.db)
    except (BundleError, FileNotFoundError) as err:  # the file, line and field, or the path
        print(f"lookout backtest: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(bt.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render(bt))
    return 0
