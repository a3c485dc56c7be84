"""Alert fatigue: false-alarm shares from officers' dispositions, and the device-check rule
(需核查设备), on hand-built records and through the real SQLite store."""

from __future__ import annotations

import pytest

from alerts.fatigue import (
    DEVICE_CHECK_DAYS,
    DEVICE_CHECK_MIN,
    device_check,
    fatigue_figures,
)
from alerts.store import StepCommit, Store
from alerts.summary import compute_summary, render

from .fixture import BUNDLE, END, START, VERSION_TIMES, first, records, resolution, then

DAY_MS = 86_400_000
NOW = END


def shares(rows):
    return [(r.key, r.name, r.resolved, r.false_alarm, r.device_fault) for r in rows]


def test_the_summary_counts_the_periods_resolved_alerts_four_ways():
    # A1 zone_exit at home, violation; A2 zone_exit at home, false alarm; both P1, by o-e1.
    # A5 tamper P3 false alarm by o-w1. A6 (drill, never resolved) and A3/A4 (open) are out.
    f = compute_summary(records(), BUNDLE, START, END, version_times=VERSION_TIMES).fatigue
    assert (f.resolved, f.false_alarm, f.device_fault) == (3, 2, 0)
    assert shares(f.by_type) == [("tamper", None, 1, 1, 0), ("zone_exit", None, 2, 1, 0)]
    assert shares(f.by_zone) == [("home", None, 2, 1, 0)]  # "home" is not in BUNDLE.zones
    assert shares(f.by_person) == [("P3", "吴刚", 1, 1, 0), ("P1", "孙立", 2, 1, 0)]
    assert shares(f.by_officer) == [("o-w1", "郑西", 1, 1, 0), ("o-e1", "钱东", 2, 1, 0)]
    assert [r.share for r in f.by_type] == [1.0, 0.5]
    as_json = compute_summary(records(), BUNDLE, START, END).model_dump(mode="json")["fatigue"]
    assert as_json["by_type"][1] == {"key": "zone_exit", "name": None, "resolved": 2,
                                     "false_alarm": 1, "device_fault": 0, "share": 0.5}


def test_the_summary_section_reads_in_names_and_percent():
    s = compute_summary(records(), BUNDLE, START, END, version_times=VERSION_TIMES)
    md = render(s, "md", "zh")
    assert "## 误报占比（已处置告警）" in md
    assert "| 防拆报警 | 1 | 1 | 0 | 100.0 |" in md
    assert "| 吴刚 | 1 | 1 | 0 | 100.0 |" in md and "| 钱东 | 2 | 1 | 0 | 50.0 |" in md
    assert "- 误报占比（%）" not in md and "| 误报占比（%） | 66.7 |" in md
    html = render(s, "html", "en")
    assert "False-alarm share = false alarms ÷ resolved" in html


def test_drills_and_unresolved_alerts_never_count():
    a = first("X1", "P1", "zone_exit", "high", "09:00", "o-e1", zone_id="home", drill=True)
    b = first("X2", "P1", "zone_exit", "high", "09:00", "o-e1", zone_id="home")
    recs = [then(a, handling="resolved", resolution=resolution("false_alarm", "o-e1", "09:10")),
            then(b, handling="acknowledged")]
    f = fatigue_figures(recs, zone_names={}, person_names={}, officer_names={})
    assert f.resolved == 0 and f.by_type == [] and f.by_person == []


def resolved_alert(n: int, disposition: str, opened_ms: int, *, person="P1", drill=False):
    from alerts.timefmt import rfc3339

    a = first(f"D{n}", person, "zone_exit", "high", "09:00", "o-e1", zone_id="home", drill=drill)
    a = {**a, "opened_at": rfc3339(opened_ms, "Asia/Shanghai")}
    return [a, then(a, handling="resolved", condition="cleared",
                    resolution=resolution(disposition, "o-e1", "10:00"))]


def latest(*alerts):
    return [versions[-1] for versions in alerts]


@pytest.mark.parametrize(("dispositions", "needed"), [
    # at least DEVICE_CHECK_MIN not-the-person dispositions, and at least half of all
    (["false_alarm"] * 3, True),
    (["false_alarm", "device_fault", "device_fault"], True),  # a broken phone is one too
    (["false_alarm"] * 2, False),  # one short of the count, however high the share
    (["false_alarm"] * 3 + ["violation_confirmed"] * 3, True),  # exactly half
    (["false_alarm"] * 3 + ["violation_confirmed"] * 4, False),  # a person who tests limits
    (["false_alarm"] * 2 + ["authorized", "other"], False),
])
def test_device_check_rule(dispositions, needed):
    recs = latest(*(resolved_alert(i, d, NOW - DAY_MS) for i, d in enumerate(dispositions)))
    check = device_check(recs, NOW)
    assert check.needed is needed
    assert check.resolved == len(dispositions)
    assert check.false_alarm + check.device_fault == sum(
        d in ("false_alarm", "device_fault") for d in dispositions)


def test_device_check_window_is_30_days_to_the_millisecond():
    window = DEVICE_CHECK_DAYS * DAY_MS
    inside = latest(*(resolved_alert(i, "false_alarm", NOW - window) for i in range(3)))
    assert device_check(inside, NOW).needed
    outside = latest(*(resolved_alert(i, "false_alarm", NOW - window - 1) for i in range(3)))
    c = device_check(outside, NOW)
    assert not c.needed and c.resolved == 0
    assert c.since_ms == NOW - window


def test_the_store_gives_each_persons_resolved_real_alerts_in_the_window(tmp_path):
    store = Store(tmp_path / "lookout.db", durable=False)
    try:
        updates = []
        for i in range(DEVICE_CHECK_MIN):
            updates += resolved_alert(i, "false_alarm", NOW - 2 * DAY_MS)
        updates += resolved_alert(10, "false_alarm", NOW - 40 * DAY_MS)  # too old
        updates += resolved_alert(11, "false_alarm", NOW - DAY_MS, drill=True)
        updates += resolved_alert(12, "false_alarm", NOW - DAY_MS, person="P2")
        open_one = first("D13", "P1", "tamper", "critical", "09:00", "o-e1")
        store.commit(StepCommit([*updates, open_one], lambda pid: "east", seq=1))
        since = NOW - DEVICE_CHECK_DAYS * DAY_MS
        got = store.alerts.resolved_alerts(since, "P1")
        assert sorted(r["alert_id"] for r in got) == ["D0", "D1", "D2"]
        assert all(r["version"] == 2 for r in got)  # the latest version, with the disposition
        assert device_check(got, NOW).needed
        assert {r["alert_id"] for r in store.alerts.resolved_alerts(since)} == {"D0", "D1", "D2", "D12"}
        assert not device_check(store.alerts.resolved_alerts(since, "P2"), NOW).needed
    finally:
        store.close()
