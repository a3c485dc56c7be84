"""The one transition tracker metrics, notifications and drill scoring share."""

from __future__ import annotations

import msgspec
from test_engine_officers import staffed
from test_engine_updates import a_life

from alerts.engine import Engine
from alerts.records import AlertUpdate, Message, RouteStep
from alerts.transitions import TransitionTracker


def version(n: int, **kw) -> AlertUpdate:
    base = AlertUpdate(
        alert_id="al-1", version=n, person_id="P1", type="zone_exit", zone_id="home",
        severity="high", condition="active", handling="new", opened_at_ms=0, last_event_at_ms=0,
        cleared_at_ms=None, event_count=n, reopen_count=0, detected_at_ms=0, location=None,
        officer_id="o-1", route=(RouteStep("o-1", "officer", "on_shift", 0),), escalated=False,
        drill=False, late=False, resolution=None, message=Message("", ""))
    return msgspec.structs.replace(base, **kw)


def what(t) -> set[str]:
    names = ("opened", "unseen", "cleared", "escalated", "handled", "acknowledged", "resolved")
    out = {n for n in names if getattr(t, n)}
    if t.reopened:
        out.add(f"reopened{t.reopened}")
    return out


def test_a_life_through_the_engine_reads_as_its_transitions():
    tracker = TransitionTracker()
    got = [what(tracker.observe(u)) for u in a_life(Engine(staffed())) if u.type == "tamper"]
    assert got == [{"opened"}, {"escalated"}, {"handled", "acknowledged"},
                   # a tamper ends only when resolved: it clears with the resolution
                   {"resolved", "cleared"}]


def test_each_version_counts_once_and_an_older_one_is_no_news():
    tracker = TransitionTracker()
    assert what(tracker.observe(version(1))) == {"opened"}
    assert tracker.observe(version(1)) is None  # redelivered
    assert what(tracker.observe(version(3, condition="cleared", cleared_at_ms=5))) == {"cleared"}
    assert tracker.observe(version(2)) is None  # arrived after a later one
    reopened = tracker.observe(version(4, reopen_count=1))
    assert what(reopened) == {"reopened1"}
    # resolved straight from "new": handled without an acknowledgement
    assert what(tracker.observe(version(5, handling="resolved"))) == {"handled", "resolved"}


def test_a_consumer_that_starts_late_counts_no_transition_it_did_not_see():
    tracker = TransitionTracker()
    t = tracker.observe(version(7, escalated=True, handling="acknowledged"))
    assert t is not None and what(t) == {"unseen"} and t.new_route_steps == ()
    assert what(tracker.observe(version(8, escalated=True, handling="resolved"))) == {"resolved"}


def test_new_route_steps_are_what_this_version_added():
    first = (RouteStep("o-1", "officer", "unstaffed", 0), RouteStep("d-1", "duty", "unstaffed", 0))
    esc = RouteStep("s-1", "supervisor", "not_acknowledged", 300_000)
    tracker = TransitionTracker()
    assert tracker.observe(version(1, route=first)).new_route_steps == first
    assert tracker.observe(version(2, route=first)).new_route_steps == ()
    t = tracker.observe(version(3, route=(*first, esc), escalated=True))
    assert t.new_route_steps == (esc,) and t.escalated


def test_the_memory_is_bounded_and_says_what_it_forgets():
    forgotten = []
    tracker = TransitionTracker(capacity=2, on_forget=forgotten.append)
    for aid in ("a", "b", "c"):
        tracker.observe(version(1, alert_id=aid))
    assert len(tracker) == 2 and [f.version for f in forgotten] == [1]
    assert tracker.get("a") is None and tracker.get("c") is not None
    # a forgotten alert's next version is seen as a late start, not as news
    assert what(tracker.observe(version(2, alert_id="a", condition="cleared"))) == {"unseen"}
    tracker.forget("a")
    assert tracker.get("a") is None and len(forgotten) == 2  # "b" went when "a" came back
