"""Alert fatigue as a metric: officers' dispositions counted per alert type, once per
resolution, and the promtool-tested rule that fires when most of a type is false alarms."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import msgspec
import pytest
from scrape import samples, value
from test_monitoring_metrics import NOW_MS, update

from alerts.records import Resolution
from stream.metrics import LookoutMetrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool not installed (scripts/ci-monitoring-deps.sh installs it)")


def resolved(alert_id, version, disposition, **kw):
    u = update(alert_id, version, handling="resolved", condition="cleared", **kw)
    return msgspec.structs.replace(
        u, resolution=Resolution(disposition, "", "wc-cd-01", u.detected_at_ms or 0))


def test_each_resolution_counts_once_under_its_type_and_disposition():
    m = LookoutMetrics()
    m.observe_updates([update("a1"), update("a2", type="tamper", severity="critical"),
                       update("a3"), update("a4", drill=True)], NOW_MS)
    m.observe_updates([update("a1", 2, handling="acknowledged"),
                       resolved("a1", 3, "false_alarm"),
                       resolved("a1", 3, "false_alarm"),  # redelivered
                       resolved("a2", 2, "device_fault", type="tamper", severity="critical"),
                       resolved("a3", 2, "violation_confirmed"),
                       resolved("a4", 2, "false_alarm", drill=True)], NOW_MS)
    s = samples(m)
    got = {(t, d, dr): value(s, "lookout_alert_dispositions_total", type=t, disposition=d, drill=dr)
           for t in ("zone_exit", "tamper") for d in ("false_alarm", "device_fault",
                                                      "violation_confirmed")
           for dr in ("false", "true")}
    assert {k: v for k, v in got.items() if v} == {
        ("zone_exit", "false_alarm", "false"): 1, ("tamper", "device_fault", "false"): 1,
        ("zone_exit", "violation_confirmed", "false"): 1, ("zone_exit", "false_alarm", "true"): 1}
    assert value(s, "lookout_alert_dispositions_total") == value(s, "lookout_alerts_resolved_total")


def test_series_exist_before_any_resolution_and_labels_stay_bounded():
    m = LookoutMetrics()
    s = samples(m)
    # every real type x disposition at 0: increase() over a week sees a type from its first one
    assert len([k for k in s if k[0] == "lookout_alert_dispositions_total"]) == 9 * 5
    m.observe_updates([update("a1"), resolved("a1", 2, "=cmd|calc", person_id="P-secret")], NOW_MS)
    s = samples(m)
    assert value(s, "lookout_alert_dispositions_total", disposition="other") == 1
    labels = {v for (n, ls), _ in s.items() if n.startswith("lookout_alert_dispositions")
              for _, v in ls}
    assert "=cmd|calc" not in labels and "P-secret" not in labels


def test_a_restart_seeding_resolved_alerts_counts_nothing():
    m = LookoutMetrics()
    m.seed_alerts([resolved("a1", 3, "false_alarm").to_wire()])
    assert value(samples(m), "lookout_alert_dispositions_total") == 0


@needs_promtool
def test_false_alarm_rule_is_valid_and_its_unit_tests_pass():
    for args in (("check", "rules", str(RULES / "fatigue.rules.yml")),
                 ("test", "rules", str(RULES / "fatigue.rules.test.yml"))):
        r = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
