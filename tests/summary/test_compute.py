"""Every figure of the summary against a shift counted by hand (tests/summary/fixture.py)."""

from __future__ import annotations

import json

import pytest

from alerts.summary import compute_summary, render

from .fixture import BUNDLE, END, START, VERSION_TIMES, ms, records


def summary(**kw):
    kw.setdefault("version_times", VERSION_TIMES)
    return compute_summary(records(), BUNDLE, START, END, **kw)


def ids(rows):
    return [r.alert_id for r in rows]


def test_opened_in_the_period():
    s = summary()
    # A1 08:10, A2 08:50, A3 10:00, A4 11:00, A5 12:00, A7 14:00, A9 15:30 = 7.
    # Not A6 (drill), A8 (07:00, before), A10 (16:00: the end is excluded).
    assert s.opened_total == 7
    assert ids(s.alerts) == ["A1", "A2", "A3", "A4", "A5", "A7", "A9"]
    assert s.drill_alerts_left_out == 1  # A6
    # zone_exit A1 A2; one each of signal_lost A3, zone_enter A4, tamper A5, feed_down A7,
    # location_jump A9; the drill A6 (zone_exit) would have made it 3
    assert s.by_type == {"zone_exit": 2, "zone_enter": 1, "device_off": 0, "signal_lost": 1,
                         "location_disabled": 0, "tamper": 1, "low_battery": 0,
                         "location_jump": 1, "feed_down": 1}
    # critical A4 A5 A7; high A1 A2 A3; medium A9; low: A8 only, and it is before the period
    assert s.by_severity == {"critical": 3, "high": 3, "medium": 1, "low": 0}
    # east A1 A2 A3; west A4 A5 A9; no office: feed_down A7
    assert [(o.office_id, o.count) for o in s.by_office] == [("east", 3), ("west", 3), (None, 1)]
    assert s.escalated_total == 2  # A3, A4


def test_handover_lists():
    s = summary()
    # active at 16:00: A3 (acknowledged), A4, A8 (from 07:00), A9; critical first, then by opening
    assert ids(s.handover.open) == ["A4", "A3", "A9", "A8"]
    # escalated and not resolved: A4, A3 (acknowledged still counts: not resolved)
    assert ids(s.handover.escalated) == ["A4", "A3"]
    # handling new at 16:00: A4; A7 (cleared 14:10, still actionable); A9 (its ack was
    # written 16:30, after the handover); A8
    assert ids(s.handover.unacknowledged) == ["A4", "A7", "A9", "A8"]
    a4 = s.handover.open[0]
    assert (a4.officer_id, a4.officer_name, a4.age_s) == ("sup", "冯长", 5 * 3600)


def test_time_to_acknowledge():
    a = summary().ack
    # A1: store wrote v1 08:11:00, v2 (acknowledged) 08:15:00        -> 240 s ("written")
    # A2: routed 08:51, resolved straight away at 08:57 (opened 08:50) -> 360 s ("resolution")
    # A5: no v1 write time, so detected_at 12:00:30; v2 written 12:02:30 -> 120 s ("written")
    # A3: acknowledged after the 10:15 escalation, no time recorded    -> unknown, left out
    # A4, A7, A9: still new at 16:00                                   -> pending
    assert (a.timed.n, a.unknown, a.pending) == (3, 1, 3)
    assert a.timed.median_s == 240  # middle of 120, 240, 360
    assert a.timed.p90_s == 360  # nearest rank: ceil(0.9 * 3) = 3rd
    assert a.by_severity["critical"].model_dump() == {"n": 1, "median_s": 120, "p90_s": 120}
    # high: 240, 360 -> median 300, p90 = ceil(1.8) = 2nd = 360
    assert a.by_severity["high"].model_dump() == {"n": 2, "median_s": 300, "p90_s": 360}
    assert a.by_severity["medium"].n == a.by_severity["low"].n == 0
    # minutes: 2 and 4 in [1, 5), 6 in [5, 15)
    assert [b.count for b in a.buckets] == [0, 2, 1, 0, 0, 0]
    rows = {r.alert_id: r for r in summary().alerts}
    assert [(rows[k].ack_s, rows[k].ack_basis) for k in ("A1", "A2", "A3", "A4", "A5")] == [
        (240, "written"), (360, "resolution"), (None, "unknown"), (None, None), (120, "written")]


def test_without_store_times_only_resolutions_are_timed():
    a = summary(version_times=None).ack
    # A2 keeps its 360 s (the resolution says when); A1, A3, A5 acknowledged with no time;
    # A9's acknowledgement now has no write time either, so its derived time is its own
    # content (15:30), before the handover: it counts as acknowledged, not pending
    assert (a.timed.n, a.timed.median_s, a.unknown, a.pending) == (1, 360, 4, 2)


def test_repeat_persons_dispositions_and_hours():
    s = summary()
    # P3: A4 A5 A9 = 3; P1: A1 A2 = 2 (A6 is a drill); P2: A3 only (A8 is before the period)
    assert [(p.person_id, p.person_name, p.count) for p in s.repeat_persons] == [
        ("P3", "吴刚", 3), ("P1", "孙立", 2)]
    assert s.repeat_persons[1].by_type == {"zone_exit": 2}
    # resolved: A1 violation_confirmed, A2 false_alarm, A5 false_alarm
    assert s.resolved_total == 3
    assert {d.disposition: (d.count, round(d.share, 4)) for d in s.dispositions} == {
        "violation_confirmed": (1, 0.3333), "false_alarm": (2, 0.6667), "authorized": (0, 0.0),
        "device_fault": (0, 0.0), "other": (0, 0.0)}
    # 08h: A1 A2; 10h A3; 11h A4; 12h A5; 13h: only the drill; 14h A7; 15h A9
    assert [h.count for h in s.per_hour] == [2, 0, 1, 1, 1, 0, 1, 1]
    assert s.per_hour[0].start == "2026-11-16T08:00:00.000+08:00"
    assert s.per_hour_mean == 7 / 8


def test_load_per_officer():
    load = {o.officer_id: (o.routed, o.acknowledged, o.resolved, o.escalated_to)
            for o in summary().officer_load}
    # o-e1: routed A1 A2 A3; acknowledged A1 (held it), A2 (resolved it); resolved A1 A2
    # o-w1: routed A4 A5 A9; acknowledged A5; resolved A5
    # sup: escalated A3, A4 (routed to and escalated to); acknowledged A3 (held it then)
    # ops: routed feed_down A7
    assert load == {"o-e1": (3, 2, 2, 0), "o-w1": (3, 1, 1, 0), "sup": (2, 1, 0, 2),
                    "ops": (1, 0, 0, 0)}
    # who actually acknowledged, from the store's action log, beats "whoever held it"
    load = {o.officer_id: o.acknowledged for o in summary(ack_by={"A3": "o-e1"}).officer_load}
    assert (load["o-e1"], load["sup"]) == (3, 0)


def test_office_filter():
    s = summary(office="east")
    # east: A1 A2 A3 opened; A8 is east but before the period; feed_down A7 never
    assert ids(s.alerts) == ["A1", "A2", "A3"]
    assert s.by_type["zone_exit"] == 2 and s.by_type["signal_lost"] == 1 and s.by_type["feed_down"] == 0
    assert [(o.office_id, o.count) for o in s.by_office] == [("east", 3)]
    assert ids(s.handover.open) == ["A3", "A8"]
    assert ids(s.handover.escalated) == ["A3"]
    assert ids(s.handover.unacknowledged) == ["A8"]
    # 240 and 360 timed (median 300, p90 360), A3 unknown, nothing pending
    assert (s.ack.timed.n, s.ack.timed.median_s, s.ack.timed.p90_s) == (2, 300, 360)
    assert (s.ack.unknown, s.ack.pending) == (1, 0)
    assert s.drill_alerts_left_out == 1  # A6 is P1's, east
    assert [(p.person_id, p.count) for p in s.repeat_persons] == [("P1", 2)]
    assert {o.officer_id: o.routed for o in s.officer_load} == {"o-e1": 3, "sup": 1}
    assert s.resolved_total == 2

    w = summary(office="west")
    assert ids(w.alerts) == ["A4", "A5", "A9"]
    assert ids(w.handover.unacknowledged) == ["A4", "A9"]
    assert w.drill_alerts_left_out == 0


def test_visible_offices_leave_out_what_the_reader_may_not_see():
    s = summary(visible_offices={"west"})
    assert ids(s.alerts) == ["A4", "A5", "A9"]  # and no feed_down: it belongs to no office
    assert ids(s.handover.open) == ["A4", "A9"]
    assert {o.officer_id for o in s.officer_load} == {"o-w1", "sup"}
    text = render(s, "json") + render(s, "csv") + render(s, "md", "zh")
    for secret in ("A1", "A3", "A7", "A8", "孙立", "周敏", "east", "ops", "陈运"):
        assert secret not in text, secret
    # a filter outside what the reader may see shows nothing rather than something
    none = summary(visible_offices={"west"}, office="east")
    assert none.opened_total == 0 and none.alerts == [] and none.handover.open == []


def test_as_of_now_before_the_end():
    s = summary(now_ms=ms("12:15"))
    # opened before 12:15: A1 A2 A3 A4 A5; A5's resolution (12:30) has not happened yet
    assert ids(s.alerts) == ["A1", "A2", "A3", "A4", "A5"]
    a5 = s.alerts[-1]
    assert (a5.handling, a5.condition, a5.ack_s) == ("acknowledged", "active", 120)
    assert s.resolved_total == 2  # A1, A2
    assert ids(s.handover.open) == ["A4", "A5", "A3", "A8"]
    assert [h.count for h in s.per_hour] == [2, 0, 1, 1, 1]  # no bars for hours to come
    assert s.per_hour_mean == pytest.approx(5 / 4.25)


def test_json_round_trip_and_bad_period():
    s = summary()
    data = json.loads(render(s, "json"))
    assert data["opened_total"] == 7 and data["ack"]["timed"]["median_s"] == 240
    with pytest.raises(ValueError):
        compute_summary(records(), BUNDLE, END, START)


def test_offices_carry_their_names_from_the_bundle():
    import dataclasses

    from config.model import OfficeSpec

    named = dataclasses.replace(BUNDLE, offices=[OfficeSpec("east", "城东司法所", "hq"),
                                                 OfficeSpec("hq", "婺城区社区矫正指挥中心")])
    s = compute_summary(records(), named, START, END, office="east", version_times=VERSION_TIMES)
    assert s.office_name == "城东司法所"
    assert [(o.office_id, o.office_name) for o in s.by_office] == [("east", "城东司法所")]
    assert {r.office_name for r in s.alerts} == {"城东司法所"}
    assert {o.officer_id: o.office_name for o in s.officer_load} == {
        "o-e1": "城东司法所", "sup": "婺城区社区矫正指挥中心"}
    # an office the bundle does not list is named by its id
    assert {o.office_name for o in summary().by_office} == {"east", "west", None}
    text = render(s, "md", "zh")
    assert "城东司法所" in text
