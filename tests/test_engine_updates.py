"""The engine's typed alert update and its one wire form (SPEC §4)."""

from __future__ import annotations

import orjson
from enginekit import Feed, ms
from test_engine_officers import D, staffed

from alerts.engine import Engine
from alerts.incidents import Incident
from alerts.records import AlertUpdate, Message, RouteStep, read_records
from stream import events as ev

SPEC_KEYS = ["alert_id", "version", "person_id", "type", "zone_id", "severity", "condition",
             "handling", "opened_at", "last_event_at", "cleared_at", "event_count",
             "reopen_count", "detected_at", "location", "officer_id", "route", "escalated",
             "drill", "late", "resolution", "message"]


def a_life(engine: Engine) -> list[AlertUpdate]:
    """A tamper: opened, escalated (nobody answered), acknowledged, resolved; a zone exit."""
    state = engine.new_state()
    now = ms(D + "10:00") + 1_234
    ups = engine.process(state, Feed(engine).status(D + "10:00", ev.TAMPER)
                         .out(D + "10:01").out(D + "10:02").out(D + "10:03").batch(), now)
    ups += engine.process(state, Feed(engine).tick(D + "10:06").batch(), now)
    tamper = ups[0].alert_id
    base = {"type": "action", "person_id": "P1", "alert_id": tamper, "by": "sup-1"}
    ups += engine.act(state, {**base, "action": "acknowledge", "ts": "2026-11-27T10:07:00+08:00"},
                      now)
    ups += engine.act(state, {**base, "action": "resolve", "ts": "2026-11-27T10:09:30+08:00",
                              "disposition": "device_fault", "note": "表带松动"}, now)
    return ups


def test_times_are_epoch_ms_and_the_wire_writes_them_as_spec_4_does():
    ups = a_life(Engine(staffed()))
    opened = ups[0]
    assert (opened.type, opened.version) == ("tamper", 1)
    assert opened.opened_at_ms == ms(D + "10:00") and opened.detected_at_ms == ms(D + "10:00") + 1_234
    wire = opened.to_wire()
    assert list(wire) == SPEC_KEYS
    assert wire["opened_at"] == "2026-11-27T10:00:00.000+08:00"
    assert wire["detected_at"] == "2026-11-27T02:00:01.234Z"  # the runtime's clock, in UTC
    assert wire["route"] == [{"officer_id": "officer-1", "role": "officer", "reason": "on_shift",
                              "at": "2026-11-27T10:00:00.000+08:00"}]
    escalated = next(u for u in ups if u.escalated)
    assert escalated.route[-1] == RouteStep("sup-1", "supervisor", "not_acknowledged",
                                            ms(D + "10:05"))
    resolved = ups[-1]
    assert resolved.resolution is not None and resolved.resolution.at_ms == ms(D + "10:09:30")
    assert resolved.to_wire()["resolution"] == {
        "disposition": "device_fault", "note": "表带松动", "by": "sup-1",
        "at": "2026-11-27T10:09:30.000+08:00"}
    exit_ = next(u for u in ups if u.type == "zone_exit")
    assert exit_.location is not None and exit_.to_wire()["location"] == {
        "lat": exit_.location.lat, "lon": exit_.location.lon,
        "accuracy_m": exit_.location.accuracy_m}


def test_a_record_read_back_is_the_update_and_writes_the_same_bytes():
    for u in a_life(Engine(staffed())):
        raw = orjson.dumps(u.to_wire())
        back = AlertUpdate.from_wire(orjson.loads(raw), u.tz)
        assert back == u
        assert orjson.dumps(back.to_wire()) == raw


def test_each_time_is_written_in_the_offset_of_its_own_instant():
    """A zone with daylight saving: opened in winter time, cleared in summer time."""
    u = AlertUpdate(
        alert_id="al-1", version=2, person_id="P1", type="zone_exit", zone_id="home",
        severity="high", condition="cleared", handling="new",
        opened_at_ms=1_772_949_600_000,  # 2026-03-08 01:00 EST, an hour before the change
        last_event_at_ms=1_772_949_600_000,
        cleared_at_ms=1_772_956_800_000,  # 04:00 EDT
        event_count=3, reopen_count=0, detected_at_ms=None, location=None, officer_id=None,
        route=(RouteStep("o-1", "officer", "on_shift", 1_772_949_600_000),), escalated=False,
        drill=False, late=False, resolution=None, message=Message("", ""),
        tz="America/New_York")
    wire = u.to_wire()
    assert wire["opened_at"] == "2026-03-08T01:00:00.000-05:00"
    assert wire["cleared_at"] == "2026-03-08T04:00:00.000-04:00"
    assert wire["route"][0]["at"] == wire["opened_at"] and wire["detected_at"] is None
    assert AlertUpdate.from_wire(wire, "America/New_York") == u


def test_an_engine_state_written_with_route_times_as_text_still_loads():
    inc = Incident("al-1", "P1", "tamper", None, "critical", 1, 1, 1, None)
    state = inc.to_state()
    state["route"] = [{"officer_id": "o-1", "role": "officer", "reason": "on_shift",
                       "at": "2026-11-27T10:00:00.000+08:00"}]
    assert Incident.from_state(state).route == [
        RouteStep("o-1", "officer", "on_shift", ms(D + "10:00"))]
    again = Incident.from_state(orjson.loads(orjson.dumps(
        {**inc.to_state(), "route": [RouteStep("o-1", "duty", "unstaffed", 5).to_state()]})))
    assert again.route == [RouteStep("o-1", "duty", "unstaffed", 5)]


def test_records_that_cannot_be_read_back_are_left_out_and_logged(caplog):
    good = a_life(Engine(staffed()))[0]
    bad_route = {**good.to_wire(), "route": [{"officer_id": "o-1"}]}
    bad_time = {**good.to_wire(), "opened_at": "yesterday"}
    assert read_records([bad_route, good.to_wire(), bad_time, {}], good.tz) == [good]
    assert sum("cannot be read" in r.message for r in caplog.records) == 3
