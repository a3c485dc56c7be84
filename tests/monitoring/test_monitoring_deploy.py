"""The Prometheus config, alerting rules and Grafana dashboard: valid, tested with promtool,
and speaking only of metrics that stream/metrics.py really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stream.metrics import LookoutMetrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "rules" / "lookout.rules.yml"
RULES_TEST = PROM / "rules" / "lookout.rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "lookout.json"
METRIC = re.compile(r"\blookout_[a-z0-9_]+")

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool not installed (scripts/ci-monitoring-deps.sh installs it)"
)


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)


def exported_names() -> set[str]:
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}
    return {f.name + s for f in LookoutMetrics().registry.collect() for s in suffixes[f.type]}


def dashboard_exprs() -> list[str]:
    def walk(panels):
        for p in panels:
            yield from (t["expr"] for t in p.get("targets", []))
            yield from walk(p.get("panels", []))

    return list(walk(json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]))


@needs_promtool
def test_rules_are_valid():
    r = run_promtool("check", "rules", str(RULES))
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_rules_unit_tests_pass():
    r = run_promtool("test", "rules", str(RULES_TEST))
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_scrape_config_is_valid():
    r = run_promtool("check", "config", str(PROM / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_dashboard_queries_parse(tmp_path):
    # Grafana's variables replaced by what they expand to, then checked as recording rules
    # (a JSON file is YAML too).
    subst = {"$__rate_interval": "5m", "$job": ".*", "$drill": ".*"}
    rules = []
    for i, expr in enumerate(dashboard_exprs()):
        for k, v in subst.items():
            expr = expr.replace(k, v)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = run_promtool("check", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_and_dashboard_use_only_exported_metrics():
    exported = exported_names()
    used = set(METRIC.findall(RULES.read_text(encoding="utf-8")))
    used |= set(METRIC.findall(" ".join(dashboard_exprs())))
    assert used and used <= exported, sorted(used - exported)
    # and the rules' tests feed the same names
    assert set(METRIC.findall(RULES_TEST.read_text(encoding="utf-8"))) <= exported


def test_dashboard_has_a_datasource_variable_every_panel_uses():
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in d["panels"] if p["type"] != "row"]
    assert panels
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"]), p["title"]
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])


def test_every_alert_is_explained_in_the_readme():
    alerts = re.findall(r"- alert: (\w+)", RULES.read_text(encoding="utf-8"))
    readme = (PROM / "README.md").read_text(encoding="utf-8")
    assert alerts and all(a in readme for a in alerts)
