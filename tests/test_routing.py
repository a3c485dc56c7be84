"""Routing at every hour of the week (SPEC §4): every new alert and every escalation reaches
someone on shift, walking the office chain; `unstaffed` only when nobody up it is on shift."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from enginekit import TZ, Feed, bundle, ms, person

from alerts.coverage import DAY_MIN, coverage_gaps, span_text, week_masks
from alerts.engine import Engine
from alerts.routing import Router
from config.loader import load_bundle
from config.model import OfficerSpec, OfficeSpec, ShiftSpec
from stream import events as ev

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo"
MONDAY = datetime(2026, 11, 23, tzinfo=TZ)  # a Monday
# minutes around the demo's shift edges, and 03:00 on the night shift
EDGES = ("03:00", "07:59", "08:00", "08:29", "08:30", "17:29", "17:30", "21:59", "22:00")
DAYS = "1234567"


def week_instants() -> list[int]:
    hours = [MONDAY + timedelta(hours=h) for h in range(7 * 24)]
    edges = [MONDAY + timedelta(days=d, hours=int(t[:2]), minutes=int(t[3:]))
             for d in range(7) for t in EDGES]
    return sorted({int(t.timestamp() * 1000) for t in hours + edges})


def on_shift_by_rota(masks, officer_id: str, at_ms: int) -> bool:
    """Independent of the router: the officer's week of minutes, read at the step's own
    local time."""
    t = datetime.fromtimestamp(at_ms / 1000, TZ)
    return bool(masks[officer_id][(t.isoweekday() - 1) * DAY_MIN + t.hour * 60 + t.minute])


@pytest.fixture(scope="module")
def demo():
    return load_bundle(DEMO)


def test_demo_bundle_has_no_coverage_gap(demo):
    assert coverage_gaps(demo) == []


def test_every_alert_and_escalation_on_the_demo_reaches_someone_on_shift(demo):
    """A tamper for every person at every hour of a week and at the shift edges; then the
    clock runs to its escalation (critical: 300 s)."""
    engine = Engine(demo)
    masks = week_masks(demo)
    roles = {o.officer_id: o.role for o in demo.officers}
    instants = week_instants()
    seen_reasons, first_roles = set(), set()
    for at in instants:
        state = engine.new_state()
        feed = Feed(engine)
        for p in demo.persons:
            feed.status(at, ev.TAMPER, pid=p.person_id)
        opened = engine.process(state, feed.batch(), at)
        assert len(opened) == len(demo.persons)
        escalated = engine.process(state, Feed(engine).tick(at + 300_000).batch(), at)
        assert len(escalated) == len(demo.persons)
        for up in escalated:
            first, esc = up.route
            for step in (first, esc):
                assert step.reason != "unstaffed", (up.person_id, step)
                assert on_shift_by_rota(masks, step.officer_id, step.at_ms), step
            assert roles[esc.officer_id] == "supervisor" and esc.role == "supervisor"
            assert up.officer_id == esc.officer_id
            seen_reasons.add(first.reason)
            first_roles.add(first.role)
    # the walk went through every branch of the chain: own officer, own duty, the centre
    assert seen_reasons == {"on_shift", "officer_off_shift", "office_off_shift"}
    assert first_roles == {"officer", "duty"}
    assert len(instants) == 7 * (24 + 6)  # every hour, and six edges a day between hours


def test_at_0300_the_centre_night_desk_gets_it_and_the_night_supervisor_escalations(demo):
    router = Router(demo)
    at = ms("2026-11-25 03:00")  # a Wednesday
    (step,) = router.first_route("wc-cd-02", "wucheng-chengdong", at)
    assert (step.officer_id, step.role, step.reason) == (
        "wc-zh-night", "duty", "office_off_shift")
    (esc,) = router.escalation_route("wc-cd-02", "wucheng-chengdong", at)
    # the officer's own supervisor (wc-zh-01) is off shift: the centre's night 值班长
    assert (esc.officer_id, esc.reason) == ("wc-zh-02", "not_acknowledged")
    # by day the supervisor_id comes first
    (esc,) = router.escalation_route("wc-cd-02", "wucheng-chengdong", ms("2026-11-25 10:00"))
    assert esc.officer_id == "wc-zh-01"


# -- a small county: one 司法所 under a centre whose night desk works Fridays only -------------

def county(centre_shifts=((5,), 22 * 60, 8 * 60)):
    b = bundle(persons=[person("P1")])
    b.offices = [OfficeSpec("office-1", "城东司法所", "centre"),
                 OfficeSpec("centre", "婺城区社区矫正指挥中心")]
    b.officers = [
        OfficerSpec("officer-1", "李警官", "office-1", "officer", "sup-day"),
        OfficerSpec("colleague", "张警官", "office-1", "officer", "sup-day"),
        OfficerSpec("duty-1", "值班员", "office-1", "duty", "sup-day"),
        OfficerSpec("sup-day", "王值班长", "centre", "supervisor"),
        OfficerSpec("night", "夜班", "centre", "duty"),
        OfficerSpec("ops", "运维", "centre", "admin"),
    ]
    b.shifts = [
        ShiftSpec("officer-1", (1, 2, 3, 4, 5), 9 * 60, 17 * 60),
        ShiftSpec("colleague", (1, 2, 3, 4, 5), 13 * 60, 19 * 60),
        ShiftSpec("duty-1", tuple(range(1, 8)), 8 * 60, 22 * 60),
        ShiftSpec("sup-day", tuple(range(1, 8)), 8 * 60, 22 * 60),
        ShiftSpec("night", *centre_shifts),
        ShiftSpec("ops", (1,), 9 * 60, 10 * 60),
    ]
    return b


def first(router, at):
    return [(s.officer_id, s.role, s.reason)
            for s in router.first_route("officer-1", "office-1", ms(at))]


def test_the_chain_is_walked_in_order_and_never_reaches_someone_off_shift():
    r = Router(county())
    assert first(r, "2026-11-27 10:00") == [("officer-1", "officer", "on_shift")]
    # Friday 18:00: officer-1 is off; the office's duty officer comes before a colleague
    assert first(r, "2026-11-27 18:00") == [("duty-1", "duty", "officer_off_shift")]
    # Saturday 21:59 / 22:00: the duty officer's last minute, then the centre's night desk
    # (its Friday window runs past midnight, so Saturday night is unstaffed)
    assert first(r, "2026-11-28 21:59") == [("duty-1", "duty", "officer_off_shift")]
    assert first(r, "2026-11-27 22:00") == [("night", "duty", "office_off_shift")]


def test_a_window_past_midnight_belongs_to_the_day_it_starts():
    r = Router(county())
    # Friday 22:00 to Saturday 08:00: Saturday 03:00 and 07:59 are covered, 08:00 is not
    assert first(r, "2026-11-28 03:00") == [("night", "duty", "office_off_shift")]
    assert first(r, "2026-11-28 07:59") == [("night", "duty", "office_off_shift")]
    assert first(r, "2026-11-28 08:00") == [("duty-1", "duty", "officer_off_shift")]
    # Friday 03:00 would need a Thursday window: nobody
    assert first(r, "2026-11-27 03:00")[0][2] == "unstaffed"


def test_nobody_up_the_chain_goes_to_the_officer_and_duty_officers_marked_unstaffed():
    engine = Engine(county())
    state = engine.new_state()
    at = ms("2026-11-25 03:00")  # Wednesday night: no night desk
    (up,) = engine.process(state, Feed(engine).status(at, ev.TAMPER).batch(), at)
    assert [(s.officer_id, s.reason) for s in up.route] == [
        ("officer-1", "unstaffed"), ("duty-1", "unstaffed")]
    assert up.officer_id == "officer-1"
    (esc,) = engine.process(state, Feed(engine).tick(at + 300_000).batch(), at)
    # no supervisor on shift either: the one the escalation would reach, marked so
    assert esc.to_wire()["route"][-1] == {"officer_id": "sup-day", "role": "supervisor",
                                          "reason": "unstaffed",
                                          "at": "2026-11-25T03:05:00.000+08:00"}


def test_escalation_skips_an_off_shift_supervisor_for_one_on_shift_up_the_chain():
    b = county()
    b.officers.append(OfficerSpec("sup-night", "赵值班长", "centre", "supervisor"))
    b.shifts.append(ShiftSpec("sup-night", tuple(range(1, 8)), 22 * 60, 8 * 60))
    r = Router(b)
    (night,) = r.escalation_route("officer-1", "office-1", ms("2026-11-25 03:00"))
    (day,) = r.escalation_route("officer-1", "office-1", ms("2026-11-25 10:00"))
    assert (night.officer_id, night.reason) == ("sup-night", "not_acknowledged")
    assert (day.officer_id, day.reason) == ("sup-day", "not_acknowledged")


def test_coverage_gaps_name_the_office_and_hours():
    gaps = {g.need: g for g in coverage_gaps(county())}
    alert = gaps["alert"]
    assert (alert.office_id, alert.office_name) == ("office-1", "城东司法所")
    # nights 22:00-08:00 except the one after Friday; Saturday night runs into Sunday
    assert [span_text(s, e, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
            for s, e in alert.spans] == [
        "Mon 22:00–Tue 08:00", "Tue 22:00–Wed 08:00", "Wed 22:00–Thu 08:00",
        "Thu 22:00–Fri 08:00", "Sat 22:00–Sun 08:00", "Sun 22:00–Mon 08:00"]
    assert alert.hours == 60
    assert "城东司法所" in alert.describe() and "无人值班" in alert.describe()
    assert gaps["escalation"].hours == 7 * 10  # the only supervisor works days
    covered = county(centre_shifts=(tuple(range(1, 8)), 22 * 60, 8 * 60))
    assert [g.need for g in coverage_gaps(covered)] == ["escalation"]


def test_routing_is_the_same_for_a_drill():
    b = county()
    engine = Engine(b)
    at = ms("2026-11-27 22:30")
    (real,) = engine.process(engine.new_state(), Feed(engine).status(at, ev.TAMPER).batch(), at)
    state = engine.new_state()
    drill = engine.process(state, Feed(engine).status(at, ev.TAMPER, drill=True).batch(), at)
    (d,) = [u for u in drill if u.drill]
    assert d.route == real.route and d.route[0].officer_id == "night"


def test_answers_do_not_depend_on_the_order_of_questions(demo):
    """The router keeps who-is-on-shift for the stretch until the next shift edge; asked in
    any order, it answers as a fresh router asked once."""
    import random

    instants = week_instants()
    instants += [t + d for t in instants for d in (-1, 1)]  # both sides of every edge
    random.Random(5).shuffle(instants)
    kept = Router(demo)
    one_per_office = {p.office_id: p for p in demo.persons}.values()
    for at in instants:
        fresh = Router(demo)
        for p in one_per_office:
            assert kept.first_route(p.officer_id, p.office_id, at) == fresh.first_route(
                p.officer_id, p.office_id, at), at
            assert kept.escalation_route(p.officer_id, p.office_id, at) == \
                fresh.escalation_route(p.officer_id, p.office_id, at), at
