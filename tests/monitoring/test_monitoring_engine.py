"""LookoutMetrics fed by the real decoder and engine, the way the runtimes will wire it."""

from __future__ import annotations

import time

import orjson
from enginekit import LAT0, LON0, Feed, bundle, east_of_edge, ms, person
from scrape import samples, value

from alerts.engine import Engine
from config.model import OfficerSpec, ShiftSpec
from stream import events as ev
from stream.decode import Decoder
from stream.metrics import LookoutMetrics, count_persons

D = "2026-11-27 "


def line(**fields) -> bytes:
    return orjson.dumps(fields)


def fix(pid: str, at: str, outside_m: float | None = None, **extra) -> bytes:
    lon, lat = east_of_edge(outside_m) if outside_m is not None else (LON0, LAT0)
    return line(type="fix", person_id=pid, ts=ms(D + at), lat=lat, lon=lon, accuracy_m=10,
                **extra)


def run_through(b, engine, state, metrics, lines, received_at_ms, now_ms):
    """One chunk as a runtime handles it: decode, count, process, count."""
    decoder = Decoder(engine.person_index, b.settings)
    batch, rejects = decoder.decode(lines, received_at_ms=received_at_ms)
    metrics.observe_decoded(batch, rejects)
    t = time.perf_counter()
    updates = engine.process(state, batch, now_ms)
    metrics.observe_process(batch, updates, time.perf_counter() - t, now_ms, engine.stats)
    return batch, rejects, updates


def test_a_small_feed_through_decoder_and_engine():
    b = bundle(persons=[person("P1"), person("P2")])
    engine = Engine(b)
    state = engine.new_state()
    m = LookoutMetrics()
    lines = [
        fix("P1", "10:00", 1000),
        fix("P1", "10:01", 1000),
        fix("P1", "10:01", 1000),  # duplicate
        fix("P1", "10:00:30", 1000),  # out of order
        fix("P1", "10:02", 1000),  # third clearly-outside fix over a minute: zone_exit opens
        fix("P2", "10:02", drill=True),
        fix("P2", "10:03", 1000, drill=True),
        b'{"type": "fix", "person_id": "P1", "ts": ',  # malformed_json
        fix("P9", "10:03"),  # unknown_person
        line(type="fix", person_id="P1", ts=ms(D + "10:03"), lat=200, lon=LON0),  # invalid_field
        fix("P1", "12:00"),  # future_ts: two hours ahead of the receiving clock
        line(type="tick", ts=ms(D + "10:03")),
    ]
    received_at = ms(D + "10:05")
    now_ms = received_at + 1_500
    batch, rejects, updates = run_through(b, engine, state, m, lines, received_at, now_ms)
    assert len(batch) == 8 and len(rejects) == 4
    s = samples(m)

    assert value(s, "lookout_events_received_total") == len(lines)
    assert value(s, "lookout_events_received_total", drill="false") == 10
    assert value(s, "lookout_events_received_total", drill="true") == 2
    for reason in ("malformed_json", "unknown_person", "invalid_field", "future_ts"):
        assert value(s, "lookout_events_rejected_total", reason=reason, drill="false") == 1
    assert value(s, "lookout_events_accepted_total", drill="false") == engine.stats["accepted"] == 3
    assert value(s, "lookout_events_accepted_total", drill="true") == 2
    assert value(s, "lookout_events_ignored_total", reason="duplicate", drill="false") == 1
    assert value(s, "lookout_events_ignored_total", reason="out_of_order", drill="false") == 1

    (opened,) = [u for u in updates if u.version == 1]
    assert (opened.type, opened.drill) == ("zone_exit", False)
    assert value(s, "lookout_alerts_opened_total") == 1
    assert value(s, "lookout_alerts_opened_total", type="zone_exit", severity="high",
                 drill="false") == 1
    assert value(s, "lookout_alerts_open", type="zone_exit", drill="false") == 1
    # wall clock at detection (10:05:01.5) minus the confirming fix's event time (10:02)
    assert value(s, "lookout_alert_latency_seconds_sum", type="zone_exit") == 181.5
    assert value(s, "lookout_batch_size_events_count", drill="false") == 1
    assert value(s, "lookout_batch_size_events_sum") == 8

    ids = {opened.alert_id, "P1", "P2", "P9"}
    assert not ids & {v for (_, labels) in s for _, v in labels}


def staffed_bundle():
    b = bundle(persons=[person("P1"), person("P2", timeout_s=600)])
    b.officers = [
        OfficerSpec("officer-1", "李警官", "office-1", "officer", "sup-1"),
        OfficerSpec("sup-1", "王值班长", "office-1", "supervisor"),
    ]
    b.shifts = [ShiftSpec("officer-1", tuple(range(1, 8)), 0, 24 * 60 - 1)]
    return b


def test_escalation_acknowledgement_and_silence_through_the_engine():
    engine = Engine(staffed_bundle())
    state = engine.new_state()
    m = LookoutMetrics()
    t0 = 1_800_000_000_000  # the runtime's wall clock

    def process(feed, now_ms):
        t = time.perf_counter()
        ups = engine.process(state, feed.batch(), now_ms)
        m.observe_process(feed.batch(), ups, time.perf_counter() - t, now_ms, engine.stats)
        return ups

    (tamper,) = process(Feed(engine).status(ms(D + "10:00"), ev.TAMPER), t0)
    s = samples(m)
    assert value(s, "lookout_alerts_unacknowledged", type="tamper", escalated="false") == 1

    # critical escalates after 300 s of engine time; P2, never heard from, goes silent
    ups = process(Feed(engine).tick(ms(D + "10:12")), t0 + 60_000)
    assert {u.type for u in ups} == {"tamper", "signal_lost"}
    s = samples(m)
    assert value(s, "lookout_alerts_escalated_total", type="tamper") == 1
    assert value(s, "lookout_alerts_unacknowledged", type="tamper", escalated="true") == 1
    assert value(s, "lookout_alerts_opened_total", type="signal_lost") == 1

    ack = {"type": "action", "person_id": "P1", "alert_id": tamper.alert_id,
           "ts": "2026-11-27T10:13:00+08:00", "action": "acknowledge", "by": "officer-1"}
    m.observe_updates(engine.act(state, ack, t0 + 400_000), t0 + 400_000)
    s = samples(m)
    assert value(s, "lookout_alerts_acknowledged_total", type="tamper", drill="false") == 1
    assert value(s, "lookout_alerts_unacknowledged", type="tamper") == 0
    assert value(s, "lookout_alerts_open", type="tamper") == 1
    assert value(s, "lookout_alert_acknowledge_seconds_count", severity="critical") == 1
    assert value(s, "lookout_alert_acknowledge_seconds_sum", severity="critical") == 400.0

    m.set_persons(*count_persons(engine, state))
    s = samples(m)
    assert value(s, "lookout_persons_tracked", drill="false") == 2
    assert value(s, "lookout_persons_silent", drill="false") == 1  # P2

    # P2 reports in: signal_lost clears
    ups = process(Feed(engine).inside(ms(D + "10:14"), pid="P2"), t0 + 500_000)
    assert [u.condition for u in ups if u.type == "signal_lost"] == ["cleared"]
    m.set_persons(*count_persons(engine, state))
    s = samples(m)
    assert value(s, "lookout_alerts_cleared_total", type="signal_lost") == 1
    assert value(s, "lookout_alerts_open", type="signal_lost") == 0
    assert value(s, "lookout_persons_silent", drill="false") == 0


def test_feed_down_from_the_engine_sets_the_gauge():
    engine = Engine(bundle())
    state = engine.new_state()
    m = LookoutMetrics()
    engine.process(state, Feed(engine).inside(ms(D + "10:00")).batch(), 0)
    m.observe_updates(engine.feed_down(state, ms(D + "10:02"), 1), 1)
    assert value(samples(m), "lookout_feed_down") == 1
    m.observe_updates(engine.feed_up(state, ms(D + "10:30"), 2), 2)
    s = samples(m)
    assert value(s, "lookout_feed_down") == 0
    assert value(s, "lookout_alerts_cleared_total", type="feed_down") == 1
