"""The engine's promises about itself: the vectorised quiet path agrees with the rule-by-rule
path, batch size never changes the output, and a restart from a snapshot changes nothing."""

from __future__ import annotations

import numpy as np
from enginekit import (
    LAT0,
    LON0,
    Feed,
    bundle,
    curfew_zone,
    east_of_edge,
    home_zone,
    ms,
    permit,
    person,
    venue_zone,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.engine import Engine
from alerts.state import EngineState
from alerts.timefmt import rfc3339
from alerts.transitions import TransitionTracker
from config.model import OfficerSpec, ShiftSpec
from stream import events as ev
from stream.kafka.caseloads import Partitioned
from stream.kafka.partition import PartitionRunner

START = ms("2026-11-27 21:00")
PERSONS = ("P1", "P2", "P3")


def world():
    b = bundle(
        zones=[home_zone(), curfew_zone(), venue_zone()],
        persons=[
            person("P1", zones=("home", "curfew"), timeout_s=600),
            person("P2", zones=("home",), timeout_s=900),
            person("P3", zones=("home",), groups=(), timeout_s=1200),
        ],
        permits=[permit("P2", start="2026-11-27 21:30", end="2026-11-27 22:30")],
        escalate_after_s={"critical": 60, "high": 300, "medium": 600, "low": 900},
    )
    # staffed, so that routing and escalation add steps to `route` along the way
    b.officers = [OfficerSpec("officer-1", "李警官", "office-1", "officer", "sup-1"),
                  OfficerSpec("duty-1", "值班员", "office-1", "duty", "sup-1"),
                  OfficerSpec("sup-1", "王值班长", "office-1", "supervisor")]
    b.shifts = [ShiftSpec("officer-1", tuple(range(1, 8)), 8 * 60, 22 * 60)]
    return b


OUTSIDE_FAR = east_of_edge(400)
places = st.sampled_from(
    [
        (LON0, LAT0),  # home, inside the curfew circle
        east_of_edge(-500),  # inside the district, outside curfew
        east_of_edge(60),  # the band
        east_of_edge(400),  # clearly outside
        (LON0 + 0.01, LAT0),  # in the venue
        (LON0 + 0.01 + 130 / 96_405, LAT0),  # venue band
        (LON0 + 0.3, LAT0),  # far away: a jump from home
    ]
)

event = st.tuples(
    st.integers(0, 2),  # person
    st.integers(-120, 400),  # seconds after the previous event (negative: late)
    st.sampled_from(["fix", "fix", "fix", "fix", "status", "tick"]),
    places,
    st.sampled_from([5.0, 50.0, 300.0, 1500.0]),
    st.sampled_from([None, None, None, 10.0, 30.0]),
    st.sampled_from(list(range(7))),
    st.booleans(),  # drill
)


def build(feed: Feed, events) -> None:
    t = START
    for p, dt, kind, (lon, lat), acc, battery, status, drill in events:
        t = max(START, t + dt * 1000) if dt > 0 else t
        ts = t + dt * 1000 if dt < 0 else t
        pid = PERSONS[p]
        if kind == "fix":
            feed.fix(ts, lon, lat, pid=pid, acc=acc, battery=battery, drill=drill)
        elif kind == "status":
            feed.status(ts, status, pid=pid, battery=battery, drill=drill)
        else:
            feed.tick(ts, drill=drill)


def run_in_batches(engine: Engine, batch: ev.EventBatch, sizes: list[int], snapshot=False):
    state = engine.new_state()
    out, lo, i = [], 0, 0
    while lo < len(batch):
        size = sizes[i % len(sizes)]
        i += 1
        hi = min(len(batch), lo + size)
        out += engine.process(state, batch.take(np.arange(lo, hi)), 0)
        if snapshot:
            state = EngineState.from_bytes(state.to_bytes())
        lo = hi
    return out


BUFFERED = [(0, 300, "fix", (LON0, LAT0), 5.0, None, 0, False)] + [
    (0, dt, "fix", OUTSIDE_FAR, 5.0, None, 0, False) for dt in (-240, -200, -150, -100, -60)
] + [(0, -30, "fix", (LON0, LAT0), 5.0, None, 0, False)] * 2 + [
    (0, 0, "status", (LON0, LAT0), 5.0, None, 4, False),  # a tamper in the fix's second
    (0, -20, "status", (LON0, LAT0), 5.0, None, 4, False),  # and one 20 s late
]


# a tamper 61 s late, after fixes that move the clock past its escalation
LATE_TAMPER_ESCALATED = [(0, 0, "fix", (LON0, LAT0), 5.0, None, 0, False)] * 4 + [
    (0, 218, "fix", (LON0, LAT0), 5.0, None, 0, True),
    (0, 383, "fix", (LON0, LAT0), 5.0, None, 0, False),
    (1, -61, "status", (LON0, LAT0), 5.0, None, 4, False)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=60), st.lists(st.integers(1, 9), min_size=1, max_size=4))
@example(BUFFERED, [1])
@example(BUFFERED + BUFFERED, [3, 2])  # the same upload twice
@example(LATE_TAMPER_ESCALATED, [1])  # its escalation once sorted before its opening
def test_any_batching_and_either_path_give_identical_output(events, sizes):
    b = world()
    reference_engine = Engine(b, force_slow=True)
    feed = Feed(reference_engine)
    build(feed, events)
    batch = feed.batch()
    reference = run_in_batches(reference_engine, batch, [len(batch)])
    assert run_in_batches(Engine(b), batch, [len(batch)]) == reference
    assert run_in_batches(Engine(b), batch, sizes) == reference
    assert run_in_batches(Engine(b, force_slow=True), batch, sizes) == reference
    assert run_in_batches(Engine(b), batch, sizes, snapshot=True) == reference


def test_drill_events_never_touch_real_state():
    b = world()
    engine = Engine(b)
    feed = Feed(engine)
    feed.inside(START, pid="P1")
    for m in range(1, 5):
        feed.out(START + m * 60_000, pid="P1", drill=True)
        feed.status(START + m * 60_000 + 1, ev.TAMPER, pid="P2", drill=True)
    state = engine.new_state()
    real_before = state.real.to_bytes()
    ups = engine.process(state, feed.batch(), 0)
    assert ups and all(u.drill for u in ups)
    assert {u.type for u in ups} == {"zone_exit", "tamper"}
    assert all(u.message.zh.startswith("【演练】") for u in ups)
    # the real world saw exactly one fix from P1 and nothing else
    assert state.real.latest_ts[engine.person_index["P1"]] == START
    assert state.real.book.by_key == {}
    assert real_before != state.real.to_bytes()  # it did move: the clock and P1's fix


def test_reload_keeps_state_of_kept_persons_and_tracks_new_ones_from_now():
    b = world()
    engine = Engine(b)
    state = engine.new_state()
    feed = Feed(engine)
    feed.out(START, pid="P1").out(START + 30_000, pid="P1").out(START + 60_000, pid="P1")
    ups = engine.process(state, feed.batch(), 0)
    (opened,) = [u for u in ups if u.type == "zone_exit"]
    # P3 released, P4 enrolled
    b2 = bundle(zones=b.zones, persons=[b.persons[1], b.persons[0], person("P4")],
                permits=b.permits)
    engine.reload(b2, state)
    feed = Feed(engine)
    feed.inside(START + 120_000, pid="P1").inside(START + 150_000, pid="P1")
    ups = engine.process(state, feed.batch(), 0)
    (cleared,) = [u for u in ups if u.type == "zone_exit"]
    assert cleared.alert_id == opened.alert_id and cleared.condition == "cleared"
    assert cleared.cleared_at_ms == START + 150_000
    assert cleared.to_wire()["cleared_at"] == rfc3339(START + 150_000, "Asia/Shanghai")
    p4 = engine.person_index["P4"]
    assert state.real.tracked_since[p4] == START + 60_000


OUTSIDE = east_of_edge(400)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=2, max_size=40), st.integers(1, 39))
@example([(1, 10, "fix", OUTSIDE, 5.0, None, 0, False)] * 2, 1)  # a pending count crosses the cut
@example([(0, 10, "status", OUTSIDE, 5.0, None, 4, False)] * 2, 1)  # an open tamper crosses it
def test_state_moved_person_by_person_continues_identically(events, cut):
    """What a keyed store (a Kafka changelog) does: persons saved one by one, plus the clock."""
    b = world()
    engine = Engine(b)
    feed = Feed(engine)
    build(feed, events)
    batch = feed.batch()
    cut = min(cut, len(batch) - 1)
    first, rest = batch.take(np.arange(cut)), batch.take(np.arange(cut, len(batch)))

    state = engine.new_state()
    expected = engine.process(state, first, 0) + engine.process(state, rest, 0)

    part = Partitioned(b, 1)[0]  # one partition: the same persons in the same rows
    engine2 = part.engine
    saving = PartitionRunner(part)
    got = engine2.process(saving.state, first, 0)
    saving.unsaved = set(range(saving.buckets))  # every person, whatever the engine noted
    restored = PartitionRunner.restore(part, saving.person_records(), saving.clock_record()[1])
    got += engine2.process(restored.state, rest, 0)
    assert got == expected


def test_a_late_tamper_escalated_in_its_batch_comes_out_opening_first():
    """The tamper arrives 61 s late, after fixes that move the clock past its escalation: its
    escalation must not come out before its opening, or a consumer keeping the newest version
    (notifier, metrics) never sees it open."""
    b = world()
    feed = Feed(Engine(b))
    build(feed, LATE_TAMPER_ESCALATED)
    batch = feed.batch()
    for sizes in ([len(batch)], [1], [2, 3]):
        for engine in (Engine(b), Engine(b, force_slow=True)):
            ups = run_in_batches(engine, batch, sizes)
            tamper = [u.version for u in ups if u.type == "tamper"]
            assert tamper == [1, 2], (sizes, tamper)
            tracker = TransitionTracker()
            seen = [tracker.observe(u) for u in ups if u.type == "tamper"]
            assert seen[0] is not None and seen[0].opened
