"""`lookout drill run` against the embedded service over HTTP, read back from its store.

One scenario injects each kind once; every incident must be detected and scored, and the real
world must come out of it exactly as it went in: engine state, alerts and their versions,
fixes, dead letters, and every metric labelled drill="false".
"""

from __future__ import annotations

import gzip
import json

import orjson
from drillkit import ADMIN, ALL_KINDS, PERSONS, fix, now_ms, status, wait_for
from prometheus_client.parser import text_string_to_metric_families

from stream.cli import main


def real_traffic(svc) -> set[tuple]:
    """Real events, and the real fixes they are: (person, ts, lon, lat)."""
    t = now_ms() - 600_000
    lines = [fix(p, t + i) for i, p in enumerate(PERSONS)]
    lines += [fix("P1", t + 300_000, lon=120.04), fix("P1", t + 330_000, lon=120.04),
              fix("P1", t + 360_000, lon=120.04), status("P3", t + 3000, "tamper")]
    assert svc.post(lines)["accepted"] == len(lines)
    # zone_exit P1, tamper P3, and signal_lost P5 (its 120 s timeout passes in real time too)
    wait_for(lambda: len(svc.runtime.store.alerts.list_alerts()) == 3)
    events = [orjson.loads(x) for x in lines]
    return {(e["person_id"], e["ts"], e["lon"], e["lat"]) for e in events if e["type"] == "fix"}


def real_fixes(svc) -> set[tuple]:
    return {(p, f["ts"], f["lon"], f["lat"]) for p in PERSONS
            for f in svc.runtime.store.tracks.track(p, 0, 2**62, limit=10_000)}


def settled(svc) -> None:
    """Until the engine has applied everything taken: the state is then safe to read."""
    rt = svc.runtime
    wait_for(lambda: rt.stats()["applied_seq"] == rt.stats()["inbox_seq"])


def real_world(svc) -> dict:
    settled(svc)
    rt, store = svc.runtime, svc.runtime.store
    alerts = store.alerts.list_alerts(limit=10_000)
    return {
        "state": rt._state.real.to_bytes(),
        "alerts": alerts,
        "history": {a["alert_id"]: store.alerts.history(a["alert_id"]) for a in alerts},
        "dead_letters": store.dead_letters.dead_letter_list(limit=10_000),
        "metrics": real_metrics(svc),
    }


def real_metrics(svc) -> dict:
    status_code, body = svc.get("/metrics")
    assert status_code == 200
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            if s.labels.get("drill") == "false":
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def run_drill(tmp_path, svc, bundle, text: str, drill_id: str, *extra: str) -> tuple[int, dict]:
    scenario = tmp_path / f"{drill_id}.toml"
    scenario.write_text(text, encoding="utf-8")
    code = main(["drill", "run", str(scenario), "--bundle", str(bundle), "--url", svc.url,
                 "--token", "gw-drill", "--db", str(svc.db), "--speed", "100",
                 "--dir", str(tmp_path / "drills"), "--id", drill_id, "--timeout", "30",
                 "--ack-wait", "0", *extra])
    card = json.loads((tmp_path / "drills" / drill_id / "scorecard.json").read_text())
    return code, card


def test_every_kind_is_detected_scored_and_the_real_world_is_untouched(tmp_path, service, bundle):
    svc = service
    posted = real_traffic(svc)
    before = real_world(svc)
    assert before["metrics"], "no drill=\"false\" metric to compare"

    code, card = run_drill(tmp_path, svc, bundle, ALL_KINDS, "all-kinds")
    assert code == 1  # acknowledgements are still pending
    rows = {r["kind"]: r for r in card["incidents"]}
    assert set(rows) == {"leave_zone", "enter_exclusion", "power_off", "go_silent", "tamper",
                         "jump"}
    for r in card["incidents"]:
        assert r["detected"] and r["detect_ok"], r
        assert r["result"] == "pending" and r["acknowledge_ok"] is None, r
        assert 0 < r["detection_delay_s"] <= r["detection_latency_s"] < 30, r
        assert r["routed_to"]["officer_id"] in ("w1", "w2"), r
    assert rows["leave_zone"]["zone_id"] == "home" and rows["enter_exclusion"]["zone_id"] == "bar"
    # a critical drill alert escalates after 1 s of wall clock, whatever the drill's speed
    assert [s["officer_id"] for s in rows["tamper"]["escalations"]] == ["s1"]

    record = json.loads((tmp_path / "drills" / "all-kinds" / "record.json").read_text())
    for inc in record["incidents"]:
        assert inc["injected_at"] <= inc["due_at"], inc
    with gzip.open(tmp_path / "drills" / "all-kinds" / "feed.jsonl.gz") as fh:
        sent = [orjson.loads(x) for x in fh]
    assert len(sent) == record["events_sent"] == record["accepted"]
    assert all(e["drill"] is True for e in sent)

    # drill alerts live only in drill views, badged
    store = svc.runtime.store
    drill_alerts = store.alerts.list_alerts(drill=True, limit=1000)
    assert {r["alert_id"] for r in card["incidents"]} <= {a["alert_id"] for a in drill_alerts}
    assert all(a["drill"] and a["message"]["zh"].startswith("【演练】") for a in drill_alerts)
    token = admin_token(svc)
    _, body = svc.get("/v1/alerts?limit=1000", token)
    assert {a["alert_id"] for a in orjson.loads(body)["alerts"]} == \
        {a["alert_id"] for a in before["alerts"]}
    _, body = svc.get("/v1/alerts?drill=true&limit=1000", token)
    listed = orjson.loads(body)
    assert listed["drill"] is True
    assert {r["alert_id"] for r in card["incidents"]} <= {a["alert_id"] for a in listed["alerts"]}

    # officers answer in real time; the report reads who and when from the store
    for r in card["incidents"]:
        svc.runtime.submit_action({"alert_id": r["alert_id"], "action": "acknowledge",
                                   "by": "w1"})
    code = main(["drill", "report", "all-kinds", "--dir", str(tmp_path / "drills")])
    assert code == 0
    card = json.loads((tmp_path / "drills" / "all-kinds" / "scorecard.json").read_text())
    for r in card["incidents"]:
        assert r["acknowledged_by"] == "w1" and r["acknowledge_ok"] is True, r
        assert r["acknowledge_latency_s"] > 0 and r["result"] == "pass", r
    html = (tmp_path / "drills" / "all-kinds" / "scorecard.html").read_text(encoding="utf-8")
    assert "演练评分 Drill scorecard" in html and "通过 pass" in html

    after = real_world(svc)
    assert after["alerts"] == before["alerts"]
    assert after["history"] == before["history"]
    # the runtime writes buffered fixes at its next step (here the drill's): the real ones
    # in the store are exactly those posted, and no drill fix is among them
    assert real_fixes(svc) == posted
    assert after["dead_letters"] == before["dead_letters"]
    assert after["metrics"] == before["metrics"]
    assert after["state"] == before["state"]


def admin_token(svc) -> str:
    import urllib.request

    from alerts.feed.access import set_password

    set_password(svc.db, ADMIN, "drill-admin-password")
    req = urllib.request.Request(
        svc.url + "/v1/login", method="POST", headers={"Content-Type": "application/json"},
        data=orjson.dumps({"officer_id": ADMIN, "password": "drill-admin-password"}))
    with urllib.request.urlopen(req, timeout=10) as resp:
        return orjson.loads(resp.read())["token"]


MISSES = """
[targets]
detect_within_s = 10

[[incidents]]
person = "P1"
kind = "leave_zone"
offset_s = 5
zone = "riverside"      # not in this bundle: nothing to leave
duration_s = 30

[[incidents]]
person = "P3"
kind = "tamper"
offset_s = 5
detect_within_s = 0     # no system answers in 0 s

[[incidents]]
person = "P404"         # not registered: the service rejects its events
kind = "power_off"
offset_s = 5

[[incidents]]
person = "P4"
kind = "power_off"
offset_s = 5
duration_s = 30
"""


def test_missed_incidents_fail_the_scorecard(tmp_path, service, bundle):
    code, card = run_drill(tmp_path, service, bundle, MISSES, "misses")
    assert code == 1 and card["result"] == "fail"
    rows = card["incidents"]
    assert [r["result"] for r in rows] == ["fail", "fail", "fail", "pass"]
    assert not rows[0]["detected"] and "riverside" in rows[0]["problem"]
    assert rows[1]["detected"] and not rows[1]["detect_ok"]
    assert "detected later than 0 s" in rows[1]["reasons"][0]
    assert not rows[2]["detected"] and "not in the bundle" in rows[2]["problem"]
    assert rows[3]["acknowledge_ok"] is None  # no acknowledgement target: not judged
    record = json.loads((tmp_path / "drills" / "misses" / "record.json").read_text())
    assert record["rejected_by_reason"] == {"unknown_person": 3}
    html = (tmp_path / "drills" / "misses" / "scorecard.html").read_text(encoding="utf-8")
    assert "未通过 fail" in html and "riverside" in html


def test_a_second_drill_starts_after_the_first_and_is_scored_on_its_own(tmp_path, service,
                                                                         bundle):
    text = """
[[incidents]]
person = "P3"
kind = "tamper"
offset_s = 0
"""
    _, first = run_drill(tmp_path, service, bundle, text, "first")
    _, second = run_drill(tmp_path, service, bundle, text, "second")
    a, b = first["incidents"][0], second["incidents"][0]
    assert a["detected"] and b["detected"]
    # a tamper stays open until resolved: the second drill's tamper is a repeat of that alert,
    # dated by when its new version was seen
    assert a["alert_id"] == b["alert_id"] and b["detect_ok"]
    r1 = json.loads((tmp_path / "drills" / "first" / "record.json").read_text())
    r2 = json.loads((tmp_path / "drills" / "second" / "record.json").read_text())
    assert r2["event_start_ms"] > r1["event_end_ms"]


def test_an_unreachable_service_or_a_wrong_token_stops_before_anything_is_sent(
        tmp_path, service, bundle, capsys, monkeypatch):
    from drillkit import free_port

    monkeypatch.delenv("LOOKOUT_GATEWAY_TOKEN", raising=False)
    scenario = tmp_path / "s.toml"
    scenario.write_text(MISSES, encoding="utf-8")
    base = ["drill", "run", str(scenario), "--bundle", str(bundle), "--dir", str(tmp_path / "d")]
    assert main([*base, "--url", f"http://127.0.0.1:{free_port()}", "--token", "x"]) == 3
    assert "cannot reach" in capsys.readouterr().err
    assert main([*base, "--url", service.url, "--token", "wrong"]) == 3
    assert "answered 401" in capsys.readouterr().err
    assert main([*base, "--url", service.url]) == 2  # no token at all
    assert service.runtime.store.alerts.list_alerts(drill=True) == []
    assert not (tmp_path / "d").exists()
