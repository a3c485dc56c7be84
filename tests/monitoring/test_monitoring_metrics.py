"""LookoutMetrics on synthetic observations: exact counts, drill separation, bounded labels."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import CollectorRegistry
from scrape import changed, samples, value

from alerts.records import AlertUpdate, Message, RouteStep
from stream.metrics import LookoutMetrics

NOW_MS = 1_795_000_000_000
ALLOWED_LABELS = {"drill", "reason", "type", "severity", "escalated", "topic", "partition",
                  "operation", "le", "stage", "disposition"}


def update(alert_id="al-1", version=1, type="zone_exit", severity="high", condition="active",
           handling="new", escalated=False, drill=False, reopen_count=0, person_id="P-secret",
           last_event_ms=NOW_MS - 4_000, detected_ms=NOW_MS, route=()) -> AlertUpdate:
    return AlertUpdate(
        alert_id=alert_id, version=version, person_id=person_id, type=type, zone_id="home",
        severity=severity, condition=condition, handling=handling,
        opened_at_ms=last_event_ms, last_event_at_ms=last_event_ms,
        cleared_at_ms=last_event_ms if condition == "cleared" else None, event_count=version,
        reopen_count=reopen_count, detected_at_ms=detected_ms, location=None,
        officer_id=None, route=tuple(route), escalated=escalated, drill=drill, late=False,
        resolution=None, message=Message("", ""))


def test_counters_move_by_exactly_what_was_observed():
    m = LookoutMetrics()
    m.observe_decode(7, {"malformed_json": 2, "unknown_person": 1})
    m.observe_engine_stats(Counter(), Counter(accepted=6, duplicate=1))
    m.observe_updates([update()], NOW_MS)
    s = samples(m)
    assert value(s, "lookout_events_received_total", drill="false") == 10
    assert value(s, "lookout_events_rejected_total", reason="malformed_json") == 2
    assert value(s, "lookout_events_rejected_total", reason="unknown_person") == 1
    assert value(s, "lookout_events_rejected_total") == 3
    assert value(s, "lookout_events_accepted_total", drill="false") == 6
    assert value(s, "lookout_events_ignored_total", reason="duplicate") == 1
    assert value(s, "lookout_events_ignored_total", reason="out_of_order") == 0
    assert value(s, "lookout_alerts_opened_total") == 1
    assert value(s, "lookout_alerts_opened_total", type="zone_exit", severity="high",
                 drill="false") == 1
    assert value(s, "lookout_alerts_open", type="zone_exit", drill="false") == 1
    assert value(s, "lookout_alerts_unacknowledged", escalated="false") == 1
    assert value(s, "lookout_alert_latency_seconds_count", type="zone_exit") == 1
    assert value(s, "lookout_alert_latency_seconds_sum") == pytest.approx(4.0)
    for name in ("cleared", "reopened", "escalated", "acknowledged", "resolved"):
        assert value(s, f"lookout_alerts_{name}_total") == 0


def test_drill_observations_land_only_under_drill_true():
    m = LookoutMetrics()
    before = samples(m)
    m.observe_decode(5, {"invalid_field": 1}, drill=True)
    m.observe_engine_stats(Counter(), Counter(drill_accepted=4, drill_out_of_order=1))
    m.observe_batch(5, 0.01, drill=True)
    m.observe_updates([update(drill=True), update("al-2", type="tamper", severity="critical",
                                                   drill=True)], NOW_MS)
    m.observe_updates([update(version=2, drill=True, escalated=True)], NOW_MS)
    m.set_persons(3, 1, drill=True)
    moved = changed(before, samples(m))
    assert moved
    assert all(dict(labels).get("drill") == "true" for (_, labels) in moved)
    assert value(moved, "lookout_events_received_total") == 6
    assert value(moved, "lookout_alerts_opened_total") == 2
    assert value(moved, "lookout_alerts_escalated_total") == 1


def test_no_label_carries_a_person_or_alert_id():
    m = LookoutMetrics()
    people = [f"33070219800101{i:04d}" for i in range(5)]
    ids = [f"al-{i:020x}" for i in range(5)]
    for i, (pid, aid) in enumerate(zip(people, ids, strict=True)):
        m.observe_updates([update(aid, person_id=pid, type="signal_lost", drill=i % 2 == 0)],
                          NOW_MS)
        m.observe_updates([update(aid, 2, person_id=pid, type="signal_lost", condition="cleared",
                                  drill=i % 2 == 0)], NOW_MS)
    # nonsense from a broken producer must not mint new label values either
    m.observe_updates([update("al-x", type="P-odd-type", severity="urgent")], NOW_MS)
    m.observe_decode(1, {"reason-from-a-bug": 1})
    s = samples(m)
    values = {v for (_, labels) in s for _, v in labels}
    assert not values & {*people, *ids, "al-x", "P-secret", "P-odd-type", "urgent",
                         "reason-from-a-bug"}
    assert {k for (_, labels) in s for k, _ in labels} <= ALLOWED_LABELS
    assert value(s, "lookout_alerts_opened_total", type="other", severity="other") == 1
    assert value(s, "lookout_events_rejected_total", reason="other") == 1


def test_a_lifecycle_counts_each_transition_once_and_keeps_the_gauges_right():
    m = LookoutMetrics()
    a = dict(type="tamper", severity="critical")
    steps = [
        update(**a),
        update(version=2, escalated=True, **a),
        update(version=3, escalated=True, handling="acknowledged", **a),
        update(version=3, escalated=True, handling="acknowledged", **a),  # redelivered
        update(version=4, escalated=True, handling="acknowledged", condition="cleared", **a),
        update(version=5, escalated=True, handling="acknowledged", reopen_count=1, **a),
        update(version=6, escalated=True, handling="resolved", reopen_count=1, **a),
    ]
    seen = []
    for i, u in enumerate(steps):
        m.observe_updates([u], NOW_MS + 60_000 * i)
        s = samples(m)
        seen.append((value(s, "lookout_alerts_open"),
                     value(s, "lookout_alerts_unacknowledged", escalated="true")))
    assert seen == [(1, 0), (1, 1), (1, 0), (1, 0), (0, 0), (1, 0), (0, 0)]
    s = samples(m)
    for name, n in (("opened", 1), ("escalated", 1), ("acknowledged", 1), ("cleared", 1),
                    ("reopened", 1), ("resolved", 1)):
        assert value(s, f"lookout_alerts_{name}_total", type="tamper") == n, name
    # acknowledged two minutes after detection, on the wall clock
    assert value(s, "lookout_alert_acknowledge_seconds_count", severity="critical") == 1
    assert value(s, "lookout_alert_acknowledge_seconds_sum") == pytest.approx(120.0)


def test_latency_is_clamped_at_zero_and_only_version_one_counts():
    m = LookoutMetrics()
    m.observe_updates([update(last_event_ms=NOW_MS + 5_000)], NOW_MS)  # device clock ahead
    m.observe_updates([update(version=2, last_event_ms=NOW_MS - 900_000)], NOW_MS)
    s = samples(m)
    assert value(s, "lookout_alert_latency_seconds_count") == 1
    assert value(s, "lookout_alert_latency_seconds_sum") == 0
    replayed = LookoutMetrics(alert_latency=False)  # a recorded feed's event times are history
    replayed.observe_updates([update(last_event_ms=NOW_MS - 86_400_000)], NOW_MS)
    s = samples(replayed)
    assert value(s, "lookout_alert_latency_seconds_count") == 0
    assert value(s, "lookout_alerts_opened_total") == 1


def test_the_alert_memory_is_bounded_and_forgetting_leaves_the_gauges():
    m = LookoutMetrics(max_alerts=2)
    m.observe_updates([update(f"al-{i}") for i in range(3)], NOW_MS)
    s = samples(m)
    assert value(s, "lookout_alerts_open") == 2
    assert value(s, "lookout_metrics_alerts_forgotten_total") == 1
    assert value(s, "lookout_alerts_opened_total") == 3
    # a forgotten alert's later version joins again without counting a transition
    m.observe_updates([update("al-0", 2, condition="cleared")], NOW_MS)
    s = samples(m)
    assert value(s, "lookout_alerts_cleared_total") == 0
    assert value(s, "lookout_alerts_open") == 1  # al-1 was pushed out in turn


def test_seeded_alerts_fill_the_gauges_and_count_nothing():
    m = LookoutMetrics()
    # the store's records, as SPEC §4 writes them; one it cannot read is skipped, not fatal
    m.seed_alerts([u.to_wire() for u in (update("al-1", 3, escalated=True),
                                         update("al-2", 1, type="device_off"),
                                         update("al-3", 2, handling="resolved"))]
                  + [{"alert_id": "al-4", "version": "four"}])
    s = samples(m)
    assert value(s, "lookout_alerts_open") == 2
    assert value(s, "lookout_alerts_unacknowledged", escalated="true") == 1
    assert value(s, "lookout_alerts_opened_total") == 0
    m.observe_updates([update("al-1", 4, escalated=True, handling="acknowledged")], NOW_MS)
    assert value(samples(m), "lookout_alerts_acknowledged_total") == 1


def test_feed_down_follows_the_engines_alert_and_ignores_drills():
    m = LookoutMetrics()
    fd = dict(alert_id="al-fd", type="feed_down", severity="critical", person_id=None)
    m.observe_updates([update(**fd)], NOW_MS)
    assert value(samples(m), "lookout_feed_down") == 1
    m.observe_updates([update("al-dfd", type="feed_down", drill=True, condition="cleared")], NOW_MS)
    assert value(samples(m), "lookout_feed_down") == 1
    m.observe_updates([update(version=2, condition="cleared", **fd)], NOW_MS)
    assert value(samples(m), "lookout_feed_down") == 0


def test_engine_stats_sync_takes_deltas_and_survives_a_new_engine():
    m = LookoutMetrics()
    m.sync_engine_stats(Counter(accepted=10, duplicate=2))
    m.sync_engine_stats(Counter(accepted=15, duplicate=2, drill_accepted=3))
    m.sync_engine_stats(Counter(accepted=4))  # a restarted engine counts from zero
    s = samples(m)
    assert value(s, "lookout_events_accepted_total", drill="false") == 19
    assert value(s, "lookout_events_accepted_total", drill="true") == 3
    assert value(s, "lookout_events_ignored_total", reason="duplicate") == 2


def test_last_real_event_ignores_ticks_and_drills():
    m = LookoutMetrics()
    m.observe_decode(3, None, drill=False, now_s=1000.0)
    m.observe_decode(2, None, drill=False, now_s=2000.0, person_events=0)  # ticks only
    m.observe_decode(4, None, drill=True, now_s=3000.0)
    s = samples(m)
    name = "lookout_last_event_received_timestamp_seconds"
    assert value(s, name, drill="false") == 1000.0
    assert value(s, name, drill="true") == 3000.0


def test_workers_lag_and_errors():
    m = LookoutMetrics()
    m.observe_lag("lookout.events", 3, 120)
    m.observe_lag("lookout.events", 4, -1)  # a watermark read between two calls
    m.observe_produce_error("lookout.alerts")
    m.observe_store_error("write", 2)
    s = samples(m)
    lag = "lookout_kafka_consumer_lag_messages"
    assert value(s, lag, topic="lookout.events", partition="3") == 120
    assert value(s, lag, partition="4") == 0
    assert value(s, "lookout_kafka_produce_errors_total", topic="lookout.alerts") == 1
    assert value(s, "lookout_store_errors_total", operation="write") == 2
    m.forget_partition("lookout.events", 3)
    m.forget_partition("lookout.events", 99)
    assert (lag, frozenset({("topic", "lookout.events"), ("partition", "3")})) not in samples(m)


def test_instances_do_not_share_a_registry():
    a, b = LookoutMetrics(), LookoutMetrics()
    a.observe_decode(5, None)
    assert value(samples(b), "lookout_events_received_total") == 0
    reg = CollectorRegistry()
    LookoutMetrics(registry=reg)
    assert reg.get_sample_value("lookout_feed_down") == 0


def test_textfile_and_exposition(tmp_path):
    m = LookoutMetrics()
    m.observe_decode(2, {"future_ts": 1})
    path = tmp_path / "lookout.prom"
    m.write_textfile(path)
    assert path.read_bytes() == m.render()
    body, ctype = m.exposition()
    assert ctype.startswith("text/plain") and b"lookout_events_received_total" in body
    body, ctype = m.exposition("application/openmetrics-text; version=1.0.0")
    assert ctype.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")


def test_web_endpoints_serve_metrics():
    testclient = pytest.importorskip("starlette.testclient", reason="starlette not installed")
    from starlette.applications import Starlette
    from starlette.routing import Mount

    m = LookoutMetrics()
    m.observe_decode(3, None)
    app = Starlette(routes=[Mount("/mounted", app=m.asgi_app())])
    app.add_route("/metrics", m.starlette_endpoint())
    with testclient.TestClient(app) as client:
        for path in ("/metrics", "/mounted/"):
            r = client.get(path)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain")
            assert 'lookout_events_received_total{drill="false"} 3.0' in r.text
        r = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
        assert r.headers["content-type"].startswith("application/openmetrics-text")


def step(officer_id, role, reason):
    return RouteStep(officer_id, role, reason, NOW_MS)


def test_each_unstaffed_routing_decision_counts_once():
    m = LookoutMetrics()
    unstaffed = [step("w1", "officer", "unstaffed"), step("duty1", "duty", "unstaffed")]
    m.observe_updates([update("al-1", type="tamper", severity="critical", route=unstaffed)], NOW_MS)
    m.observe_updates([update("al-2", route=[step("w1", "officer", "on_shift")])], NOW_MS)
    # al-1 again (a repeat: same route), then escalated with nobody on shift either
    m.observe_updates([update("al-1", 2, type="tamper", severity="critical", route=unstaffed)], NOW_MS)
    m.observe_updates([update("al-1", 3, type="tamper", severity="critical", escalated=True, route=[*unstaffed, step("sup1", "supervisor", "unstaffed")])], NOW_MS)
    m.observe_updates([update("al-3", drill=True, route=[step("w1", "officer", "unstaffed")])], NOW_MS)
    s = samples(m)
    assert value(s, "lookout_alerts_unstaffed_total", stage="first", severity="critical",
                 drill="false") == 1
    assert value(s, "lookout_alerts_unstaffed_total", stage="escalation", drill="false") == 1
    assert value(s, "lookout_alerts_unstaffed_total", drill="false") == 2
    assert value(s, "lookout_alerts_unstaffed_total", drill="true") == 1


def test_coverage_gaps_are_a_gauge_per_office_and_need():
    from alerts.coverage import Gap

    m = LookoutMetrics()
    offices = {"wucheng-chengdong": "城东司法所", "wucheng-jiangnan": "江南司法所"}
    m.set_coverage([Gap("wucheng-chengdong", "城东司法所", "alert", ((0, 480), (1320, 1920)))],
                   offices)
    s = samples(m)
    assert value(s, "lookout_coverage_gap_hours", office="wucheng-chengdong", need="alert") == 18
    assert value(s, "lookout_coverage_gap_hours", office_name="城东司法所",
                 need="escalation") == 0
    assert value(s, "lookout_coverage_gap_hours", office="wucheng-jiangnan") == 0
    m.set_coverage([], {"wucheng-jiangnan": "江南司法所"})  # a new bundle: no stale series
    assert value(samples(m), "lookout_coverage_gap_hours", office="wucheng-chengdong") == 0
    assert len([k for k in samples(m) if k[0] == "lookout_coverage_gap_hours"]) == 2

