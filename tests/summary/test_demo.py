"""The demo day through the real engine: the figures hang together, and the printable sheet
and its charts are written to tests/artifacts/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.summary import charts, compute_summary, render
from config.loader import parse_ts_ms

from .demo import demo_day

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def day():
    return demo_day(violations=10)


def test_demo_figures_agree_with_each_other_and_with_the_records(day):
    bundle, updates, times, ack_by, start, end = day
    s = compute_summary(updates, bundle, start, end, version_times=times)
    firsts = [u for u in updates if u["version"] == 1 and not u["drill"]
              and start <= parse_ts_ms(u["opened_at"]) < end]
    assert s.opened_total == len(firsts) == len(s.alerts) > 10
    assert sum(s.by_type.values()) == sum(s.by_severity.values()) == s.opened_total
    assert sum(o.count for o in s.by_office) == sum(h.count for h in s.per_hour) == s.opened_total
    assert sum(b.count for b in s.ack.buckets) == s.ack.timed.n
    assert s.ack.timed.n + s.ack.unknown + s.ack.pending == s.opened_total
    assert s.ack.unknown == 0  # the demo keeps every write time, as the store would
    assert sum(d.count for d in s.dispositions) == s.resolved_total > 0
    assert sum(o.routed for o in s.officer_load) >= s.opened_total
    # with the action log, each acknowledgement goes to the officer who sent it
    by = compute_summary(updates, bundle, start, end, version_times=times, ack_by=ack_by)
    acked = {o.officer_id: o.acknowledged for o in by.officer_load if o.acknowledged}
    firsts_by = {}
    for a in by.alerts:
        if a.ack_basis is not None:
            who = ack_by.get(a.alert_id) or next(
                u["resolution"]["by"] for u in updates if u["alert_id"] == a.alert_id
                and u["handling"] == "resolved")
            firsts_by[who] = firsts_by.get(who, 0) + 1
    assert acked == firsts_by
    # the offices partition the county's figures
    parts = [compute_summary(updates, bundle, start, end, office=o.office_id, version_times=times)
             for o in s.by_office]
    assert sum(p.opened_total for p in parts) == s.opened_total
    assert sum(p.resolved_total for p in parts) == s.resolved_total


def test_write_the_printable_sheet_and_charts(day):
    bundle, updates, times, ack_by, start, end = day
    s = compute_summary(updates, bundle, start, end, version_times=times, ack_by=ack_by)
    ARTIFACTS.mkdir(exist_ok=True)
    html = render(s, "html", "both")
    (ARTIFACTS / "summary.html").write_text(html, encoding="utf-8")
    (ARTIFACTS / "summary.md").write_text(render(s, "md", "zh"), encoding="utf-8")
    (ARTIFACTS / "summary_per_hour.png").write_bytes(charts.hourly_png(s, "both"))
    (ARTIFACTS / "summary_ack.png").write_bytes(charts.ack_png(s, "zh"))
    assert "值班交接汇总" in html and html.count("<img") == 3
