"""The scorecard's judgement on hand-made records: matching, latencies, pass/fail/pending."""

from __future__ import annotations

from stream.drill.html import render
from stream.drill.score import score

T0 = 1_800_000_000_000  # the drill's event start
W0 = 1_700_000_000_000  # the wall clock when it was sent


def iso(ms: int) -> str:
    from alerts.timefmt import utc_rfc3339

    return utc_rfc3339(ms)


def incident(index, person, kind, expected, offset_s=0, detect=10.0, ack=60.0, **kw):
    return {"index": index, "person_id": person, "kind": kind, "expected_type": expected,
            "zone_id": kw.get("zone_id"), "offset_s": offset_s, "note": "", "problem": None,
            "targets": {"detect_within_s": detect, "acknowledge_within_s": ack},
            "start_ts": T0 + offset_s * 1000, "decisive_ts": T0 + offset_s * 1000,
            "end_ts": T0 + offset_s * 1000, "injected_at": W0 + offset_s * 10,
            "due_at": W0 + offset_s * 10 + kw.get("due_after_ms", 0), "events": 1}


def version(alert_id, person, type_, v, opened, last, detected, observed, **kw):
    return {"alert_id": alert_id, "version": v, "person_id": person, "type": type_,
            "zone_id": kw.get("zone_id"), "severity": "high", "condition": "active",
            "handling": kw.get("handling", "new"), "opened_at": iso(opened),
            "last_event_at": iso(last), "cleared_at": None, "event_count": 1,
            "reopen_count": 0, "detected_at": iso(detected), "location": None,
            "officer_id": kw.get("officer", "w1"),
            "route": kw.get("route", [{"officer_id": "w1", "role": "officer",
                                       "reason": "on_shift", "at": iso(opened)}]),
            "escalated": bool(kw.get("escalated")), "drill": True, "resolution": None,
            "message": {"zh": "【演练】", "en": "[drill]"}, "observed_at": observed}


def record(incidents, alerts, actions=()):
    return {"drill_id": "d", "scenario": {"name": "s", "path": "s.toml", "description": ""},
            "incidents": incidents, "alerts": list(alerts), "actions": list(actions),
            "sink": {"kind": "http", "url": "http://x"}, "speed": 100.0, "started_at": W0,
            "warnings": []}


def ack(alert_id, by, at, outcome="applied"):
    return {"key": f"k{at}", "alert_id": alert_id, "action": "acknowledge", "by": by,
            "at": at, "outcome": outcome}


def test_detected_acknowledged_escalated_and_missed():
    incs = [incident(0, "P1", "tamper", "tamper"),
            incident(1, "P2", "power_off", "device_off", offset_s=5),
            incident(2, "P3", "jump", "location_jump", offset_s=5)]
    esc = [{"officer_id": "w1", "role": "officer", "reason": "on_shift", "at": iso(T0)},
           {"officer_id": "s1", "role": "supervisor", "reason": "not_acknowledged",
            "at": iso(T0 + 1000)}]
    alerts = [
        version("a1", "P1", "tamper", 1, T0, T0, W0 + 300, W0 + 400),
        version("a1", "P1", "tamper", 2, T0, T0, W0 + 300, W0 + 1500, route=esc, escalated=True,
                officer="s1"),
        version("a2", "P2", "device_off", 1, T0 + 5000, T0 + 5000, W0 + 50 + 20_000, W0 + 50 + 20_100),
        # another drill alert the scenario did not ask for
        version("a9", "P9", "low_battery", 1, T0, T0, W0, W0),
    ]
    actions = [ack("a1", "w1", W0 + 5_300), ack("a2", "w2", W0 + 10_000, outcome="no_change")]
    card = score(record(incs, alerts, actions), now_ms=W0 + 30_000)
    r0, r1, r2 = card["incidents"]
    assert (r0["result"], r0["detection_delay_s"], r0["acknowledged_by"],
            r0["acknowledge_latency_s"]) == ("pass", 0.3, "w1", 5.0)
    assert [s["officer_id"] for s in r0["escalations"]] == ["s1"]
    assert r0["routed_to"]["officer_id"] == "w1" and r0["officer_now"] == "s1"
    # detected after 20 s against a 10 s target; an action that changed nothing is no answer
    assert (r1["result"], r1["detection_delay_s"], r1["acknowledged_by"]) == ("fail", 20.0, None)
    assert r2["result"] == "fail" and not r2["detected"] and r2["reasons"] == ["not detected / 未检出"]
    assert card["result"] == "fail"
    assert card["summary"] == {"incidents": 3, "passed": 1, "failed": 2, "pending": 0,
                               "detected": 2, "acknowledged": 1, "escalated": 1,
                               "max_detection_delay_s": 20.0}
    assert [o["alert_id"] for o in card["other_alerts"]] == ["a9"]
    page = render(card, record(incs, alerts, actions))
    # 7 facts about the drill; header and 3 incidents; other alerts' header and 1 row
    assert page.count("<tr>") == 7 + 1 + 3 + 1 + 1
    assert "未检出 not detected" in page and "值班长 supervisor" not in page


def test_acknowledgement_is_pending_within_its_window_then_fails():
    incs = [incident(0, "P1", "tamper", "tamper", ack=60.0)]
    alerts = [version("a1", "P1", "tamper", 1, T0, T0, W0 + 100, W0 + 100)]
    assert score(record(incs, alerts), W0 + 30_000)["incidents"][0]["result"] == "pending"
    late = score(record(incs, alerts, [ack("a1", "w1", W0 + 90_000)]), W0 + 120_000)
    row = late["incidents"][0]
    assert (row["result"], row["acknowledge_ok"], row["acknowledge_latency_s"]) == \
        ("fail", False, 89.9)
    assert score(record(incs, alerts), W0 + 61_000)["incidents"][0]["acknowledge_ok"] is False


def test_a_repeat_of_an_open_alert_is_dated_by_when_it_was_seen():
    """An earlier drill left P1's tamper open: this drill's tamper updates it."""
    incs = [incident(0, "P1", "tamper", "tamper", offset_s=0, ack=None)]
    old = T0 - 3_600_000
    alerts = [version("a1", "P1", "tamper", 3, old, T0, W0 - 3_600_000, W0 + 700)]
    row = score(record(incs, alerts), W0 + 10_000)["incidents"][0]
    assert row["detected"] and row["detection_delay_s"] == 0.7 and row["result"] == "pass"


def test_two_incidents_of_one_kind_answer_to_two_versions_and_zones_must_match():
    incs = [incident(0, "P1", "tamper", "tamper", offset_s=0, ack=None),
            incident(1, "P1", "tamper", "tamper", offset_s=10, ack=None),
            incident(2, "P2", "leave_zone", "zone_exit", offset_s=0, ack=None, zone_id="home")]
    alerts = [version("a1", "P1", "tamper", 1, T0, T0, W0 + 100, W0 + 100),
              version("a1", "P1", "tamper", 2, T0, T0 + 10_000, W0 + 100, W0 + 250),
              version("a2", "P2", "zone_exit", 1, T0, T0, W0 + 100, W0 + 100, zone_id="work")]
    rows = score(record(incs, alerts), W0)["incidents"]
    assert [(r["alert_id"], r["detected"]) for r in rows] == [("a1", True), ("a1", True),
                                                              (None, False)]
    assert rows[1]["detection_delay_s"] == 0.15


def test_a_target_of_zero_seconds_always_fails():
    incs = [incident(0, "P1", "tamper", "tamper", detect=0.0, ack=None)]
    alerts = [version("a1", "P1", "tamper", 1, T0, T0, W0 + 1, W0 + 1)]
    row = score(record(incs, alerts), W0)["incidents"][0]
    assert (row["detected"], row["detect_ok"], row["result"]) == (True, False, "fail")


def test_an_acknowledgement_sent_on_kafka_counts_once_the_alert_shows_it():
    incs = [incident(0, "P1", "tamper", "tamper", ack=60.0)]
    sent = [ack("a1", "w1", W0 + 2_000, outcome="sent")]
    v1 = version("a1", "P1", "tamper", 1, T0, T0, W0 + 100, W0 + 100)
    row = score(record(incs, [v1], sent), W0 + 5_000)["incidents"][0]
    assert row["acknowledged_by"] is None and row["result"] == "pending"
    v2 = version("a1", "P1", "tamper", 2, T0, T0, W0 + 100, W0 + 2_100, handling="acknowledged")
    row = score(record(incs, [v1, v2], sent), W0 + 5_000)["incidents"][0]
    assert (row["acknowledged_by"], row["acknowledge_latency_s"], row["result"]) == \
        ("w1", 1.9, "pass")
