"""Routing, escalation, officers' actions and the feed's own health (SPEC §3, §4)."""

from __future__ import annotations

import numpy as np
import pytest
from enginekit import Feed, bundle, ms, person

from alerts.engine import ActionError, Engine
from config.model import OfficerSpec, ShiftSpec
from stream import events as ev

D = "2026-11-27 "


def staffed(**kw):
    b = bundle(**kw)
    b.officers = [
        OfficerSpec("officer-1", "李警官", "office-1", "officer", "sup-1"),
        OfficerSpec("duty-1", "值班员", "office-1", "duty", "sup-1"),
        OfficerSpec("sup-1", "王值班长", "office-1", "supervisor"),
        OfficerSpec("ops-1", "运维", "hq", "admin"),
    ]
    b.shifts = [
        ShiftSpec("officer-1", (1, 2, 3, 4, 5), 8 * 60, 18 * 60),  # weekdays 08:00-18:00
        ShiftSpec("duty-1", tuple(range(1, 8)), 18 * 60, 8 * 60),  # nights, past midnight
    ]
    return b


def open_tamper(engine, state, at):
    return engine.process(state, Feed(engine).status(at, ev.TAMPER).batch(), 0)


def test_the_officer_on_shift_gets_it_otherwise_the_duty_officer():
    engine = Engine(staffed())
    state = engine.new_state()
    (day,) = open_tamper(engine, state, ms(D + "10:00"))
    assert day.officer_id == "officer-1" and day.route[0].reason == "on_shift"
    engine2 = Engine(staffed())
    (night,) = open_tamper(engine2, engine2.new_state(), ms(D + "23:30"))
    assert night.officer_id == "duty-1" and night.route[0].role == "duty"


def test_unacknowledged_alert_escalates_to_the_supervisor_after_its_severity_delay():
    engine = Engine(staffed())
    state = engine.new_state()
    open_tamper(engine, state, ms(D + "10:00"))  # critical: 300 s
    ups = engine.process(state, Feed(engine).tick(ms(D + "10:04:59")).batch(), 0)
    assert ups == []
    (up,) = engine.process(state, Feed(engine).tick(ms(D + "10:05")).batch(), 0)
    assert up.escalated and up.officer_id == "sup-1"
    assert [s.officer_id for s in up.route] == ["officer-1", "sup-1"]


def test_acknowledging_stops_escalation_and_repeats_change_nothing():
    engine = Engine(staffed())
    state = engine.new_state()
    (opened,) = open_tamper(engine, state, ms(D + "10:00"))
    ack = {"type": "action", "person_id": "P1", "alert_id": opened.alert_id,
           "ts": "2026-11-27T10:02:00+08:00", "action": "acknowledge", "by": "officer-1"}
    (up,) = engine.act(state, ack, 0)
    assert up.handling == "acknowledged" and up.version == 2
    assert engine.act(state, ack, 0) == []
    later = engine.process(state, Feed(engine).tick(ms(D + "11:00")).batch(), 0)
    assert [u for u in later if u.type == "tamper"] == []


def test_a_tamper_cannot_be_resolved_without_a_note_and_resolving_it_ends_it():
    engine = Engine(staffed())
    state = engine.new_state()
    (opened,) = open_tamper(engine, state, ms(D + "10:00"))
    resolve = {"type": "action", "person_id": "P1", "alert_id": opened.alert_id,
               "ts": "2026-11-27T10:03:00+08:00", "action": "resolve", "by": "officer-1",
               "disposition": "device_fault"}
    with pytest.raises(ActionError) as err:
        engine.act(state, resolve, 0)
    assert err.value.reason == "invalid_field" and "note" in str(err.value)
    (up,) = engine.act(state, {**resolve, "note": "表带松动，已更换"}, 0)
    assert up.handling == "resolved" and up.condition == "cleared"
    assert up.to_wire()["resolution"] == {"disposition": "device_fault", "note": "表带松动，已更换",
                                          "by": "officer-1", "at": "2026-11-27T10:03:00.000+08:00"}
    # a resolved alert is never reopened: the next tamper is a new alert
    (again,) = open_tamper(engine, state, ms(D + "10:04"))
    assert again.alert_id != opened.alert_id and again.version == 1


def test_resolving_a_zone_alert_does_not_change_its_condition():
    engine = Engine(staffed())
    state = engine.new_state()
    ups = engine.process(state, Feed(engine).out(D + "10:00").out(D + "10:00:30")
                         .out(D + "10:01").batch(), 0)
    resolve = {"type": "action", "alert_id": ups[0].alert_id, "ts": "2026-11-27T10:02:00+08:00",
               "action": "resolve", "by": "officer-1", "disposition": "authorized"}
    (up,) = engine.act(state, resolve, 0)
    assert up.condition == "active" and up.handling == "resolved"


def test_unknown_alert_and_bad_fields_are_clear_errors():
    engine = Engine(staffed())
    state = engine.new_state()
    with pytest.raises(ActionError) as err:
        engine.act(state, {"type": "action", "alert_id": "al-nope", "ts": 0,
                           "action": "acknowledge", "by": "x"}, 0)
    assert err.value.reason == "unknown_alert"
    with pytest.raises(ActionError):
        engine.act(state, {"type": "action", "alert_id": "al-nope", "ts": 0,
                           "action": "shrug", "by": "x"}, 0)


def test_drill_escalation_counts_wall_clock_seconds():
    engine = Engine(staffed())
    state = engine.new_state()
    wall = 1_800_000_000_000
    feed = Feed(engine).status(ms(D + "10:00"), ev.TAMPER, drill=True)
    (opened,) = engine.process(state, feed.batch(), wall)
    # an hour of drill event time later, but only 299 wall seconds: no escalation
    later = Feed(engine).tick(ms(D + "11:00"), drill=True).batch()
    ups = engine.process(state, later, wall + 299_000)
    assert [u for u in ups if u.type == "tamper"] == []
    empty = Feed(engine).batch()
    (up,) = engine.process(state, empty, wall + 300_000)
    assert up.drill and up.escalated and up.alert_id == opened.alert_id


def test_feed_outage_is_one_alert_and_pauses_silence():
    b = staffed(persons=[person("P1"), person("P2")])
    engine = Engine(b)
    state = engine.new_state()
    engine.process(state, Feed(engine).inside(D + "10:00").inside(D + "10:00", pid="P2").batch(), 0)
    (down,) = engine.feed_down(state, ms(D + "10:02"), 0)
    assert down.type == "feed_down" and down.person_id is None
    assert down.officer_id == "ops-1" and down.severity == "critical"
    # an hour of wall-clock ticks during the outage: nobody is declared silent
    assert engine.process(state, Feed(engine).tick(D + "11:00").batch(), 0) == []
    (up,) = engine.feed_up(state, ms(D + "11:02"), 0)
    assert up.condition == "cleared"
    # silence resumes where it stopped: 28 min were left at 10:02, so due 11:30
    assert engine.process(state, Feed(engine).tick(D + "11:29").batch(), 0) == []
    lost = engine.process(state, Feed(engine).tick(D + "11:31").batch(), 0)
    assert {u.person_id for u in lost if u.type == "signal_lost"} == {"P1", "P2"}
    assert {u.to_wire()["opened_at"][11:16] for u in lost if u.type == "signal_lost"} == {"11:30"}


def test_the_next_escalation_in_line_fires_after_the_first_clears_in_the_same_batch():
    def run(batch_size):
        engine = Engine(staffed())
        state = engine.new_state()
        feed = Feed(engine)
        feed.status(D + "10:00", ev.LOCATION_DISABLED)  # high: escalates at 10:15
        feed.status(D + "10:01", ev.TAMPER)  # critical: escalates at 10:06
        feed.status(D + "10:02", ev.LOCATION_ENABLED)  # over by itself: no escalation
        feed.status(D + "10:03", ev.LOW_BATTERY)  # low: escalates at 11:03
        feed.tick(D + "12:00")
        batch = feed.batch()
        ups = []
        for lo in range(0, len(batch), batch_size):
            ups += engine.process(state, batch.take(np.arange(lo, min(lo + batch_size, len(batch)))), 0)
        return [(u.type, u.to_wire()["route"][-1]["at"][11:16]) for u in ups if u.escalated]

    expected = [("tamper", "10:06"), ("signal_lost", "10:48"), ("low_battery", "11:03")]
    assert run(100) == expected
    # the last batch holds only the tick: every escalation is armed from state, and the
    # ones behind the first must still fire in order
    assert run(4) == expected
