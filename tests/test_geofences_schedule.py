import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from config.model import Window
from geofences.schedule import Schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE = 60_000


def ms(y, mo, d, h=0, mi=0, tz=SHANGHAI) -> int:
    return round(dt.datetime(y, mo, d, h, mi, tzinfo=tz).timestamp() * 1000)


# 2024-06-03 is a Monday; 2024-06-07 a Friday; 2024-06-09 a Sunday.
MON, FRI, SAT, SUN = 3, 7, 8, 9


def at(day, h, mi=0) -> int:
    """June 2024 day `day` (may run past the month's end), local time."""
    date = dt.date(2024, 6, 1) + dt.timedelta(days=day - 1)
    return ms(date.year, date.month, date.day, h, mi)


def active(schedule, ts) -> bool:
    return bool(schedule.active_at(np.array([ts]))[0])


def test_none_windows_is_always_active():
    s = Schedule(None, "Asia/Shanghai")
    assert s.active_at(np.array([0, at(MON, 3)])).all()
    assert s.next_transition(at(MON, 3)) is None
    assert s.transitions(0, at(MON, 3)) == []


def test_window_edges_are_start_inclusive_end_exclusive():
    s = Schedule((Window((1, 2, 3, 4, 5), 8 * 60, 18 * 60),), "Asia/Shanghai")
    assert active(s, at(MON, 8))
    assert not active(s, at(MON, 8) - 1)
    assert active(s, at(MON, 18) - 1)
    assert not active(s, at(MON, 18))
    assert not active(s, at(SAT, 12))


def test_next_transition_is_strictly_after():
    s = Schedule((Window((1,), 8 * 60, 18 * 60),), "Asia/Shanghai")
    assert s.next_transition(at(MON, 7)) == (at(MON, 8), True)
    assert s.next_transition(at(MON, 8)) == (at(MON, 18), False)
    assert s.next_transition(at(MON, 18)) == (at(MON + 7, 8), True)
    assert s.transitions(at(MON, 8), at(MON, 18)) == [(at(MON, 18), False)]
    assert s.transitions(at(MON, 8) - 1, at(MON, 18) - 1) == [(at(MON, 8), True)]


def test_midnight_spanning_window_belongs_to_its_start_day():
    curfew = Schedule((Window((5,), 22 * 60, 6 * 60),), "Asia/Shanghai")  # Fri 22:00-06:00
    assert not active(curfew, at(FRI, 21, 59))
    assert active(curfew, at(FRI, 22))
    assert active(curfew, at(SAT, 0))
    assert active(curfew, at(SAT, 5, 59))
    assert not active(curfew, at(SAT, 6))
    assert not active(curfew, at(SAT, 23))  # Saturday is not a start day
    assert not active(curfew, at(FRI, 3))  # nor did Thursday start one


def test_sunday_window_wraps_into_monday():
    s = Schedule((Window((7,), 23 * 60, 60),), "Asia/Shanghai")
    assert active(s, at(SUN, 23))
    assert active(s, at(SUN + 1, 0, 30))
    assert not active(s, at(SUN + 1, 1))
    assert not active(s, at(SAT, 23, 30))
    assert not active(s, at(MON + 1, 0, 30))  # Tuesday: Monday starts no window
    assert s.next_transition(at(SUN, 12)) == (at(SUN, 23), True)
    assert s.next_transition(at(SUN, 23)) == (at(SUN + 1, 1), False)


def test_full_day_window_and_twenty_four_seven():
    monday = Schedule((Window((1,), 0, 24 * 60),), "Asia/Shanghai")
    assert active(monday, at(MON, 0)) and active(monday, at(MON + 1, 0) - 1)
    assert not active(monday, at(MON + 1, 0))
    assert monday.transitions(at(SUN - 7, 12), at(MON + 1, 12)) == [
        (at(MON, 0), True),
        (at(MON + 1, 0), False),
    ]
    always = Schedule((Window(tuple(range(1, 8)), 0, 24 * 60),), "Asia/Shanghai")
    assert always.active_at(np.arange(at(MON, 0), at(MON + 30, 0), 3_600_000)).all()
    assert always.next_transition(at(FRI, 12)) is None  # days chain: no fake midnight edge


def test_adjacent_and_overlapping_windows_merge():
    s = Schedule(
        (
            Window((1,), 8 * 60, 12 * 60),
            Window((1,), 12 * 60, 18 * 60),
            Window((1,), 17 * 60, 19 * 60),
        ),
        "Asia/Shanghai",
    )
    assert s.transitions(at(MON, 0), at(MON, 23)) == [(at(MON, 8), True), (at(MON, 19), False)]
    night = Schedule((Window((1,), 20 * 60, 24 * 60), Window((2,), 0, 6 * 60)), "Asia/Shanghai")
    assert night.transitions(at(MON, 0), at(MON + 1, 23)) == [
        (at(MON, 20), True),
        (at(MON + 1, 6), False),
    ]


def test_empty_window_list_is_never_active():
    s = Schedule((), "Asia/Shanghai")
    assert not s.active_at(np.array([at(MON, 12)])).any()
    assert s.next_transition(at(MON, 12)) is None


def test_dst_zone_uses_wall_clock():
    berlin = ZoneInfo("Europe/Berlin")
    # 2024-03-31: clocks jump 02:00 -> 03:00; a daily 01:00-04:00 window lasts two real hours
    s = Schedule((Window(tuple(range(1, 8)), 60, 4 * 60),), "Europe/Berlin")
    start, end = ms(2024, 3, 31, 1, tz=berlin), ms(2024, 3, 31, 4, tz=berlin)
    assert end - start == 2 * 3_600_000
    assert s.transitions(start - 1, end) == [(start, True), (end, False)]


def test_far_apart_queries_and_empty_input():
    s = Schedule((Window((3,), 9 * 60, 10 * 60),), "Asia/Shanghai")
    assert s.active_at(np.array([], dtype=np.int64)).shape == (0,)
    assert active(s, ms(2030, 1, 2, 9, 30))  # a Wednesday
    assert active(s, ms(2001, 1, 3, 9, 30))  # a Wednesday, decades earlier
    assert not active(s, ms(2001, 1, 3, 10, 0))


def _reference_active(windows, ts_ms, tz=SHANGHAI) -> bool:
    """Straightforward per-timestamp definition of the SPEC rule."""
    local = dt.datetime.fromtimestamp(ts_ms / 1000, tz)
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    today = local.isoweekday()
    yesterday = 7 if today == 1 else today - 1
    for w in windows:
        if w.end_min > w.start_min:
            if today in w.days and w.start_min <= minute < w.end_min:
                return True
        else:
            if today in w.days and minute >= w.start_min:
                return True
            if yesterday in w.days and minute < w.end_min:
                return True
    return False


windows_strategy = st.lists(
    st.builds(
        Window,
        st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True).map(tuple),
        st.integers(0, 24 * 60 - 1),
        st.integers(0, 24 * 60),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(windows_strategy, st.integers(0, 2**31))
def test_vectorised_matches_reference_and_transitions(windows, seed):
    s = Schedule(tuple(windows), "Asia/Shanghai")
    rng = np.random.default_rng(seed)
    base = at(MON, 0)
    # minute boundaries, one ms either side, and random instants over three weeks
    edges = base + rng.integers(0, 21 * 24 * 60, 300) * MINUTE
    ts = np.concatenate([edges, edges - 1, base + rng.integers(0, 21 * 86_400_000, 300)])
    got = s.active_at(ts)
    expect = np.array([_reference_active(windows, int(t)) for t in ts])
    assert np.array_equal(got, expect)
    # transitions alternate and agree with active_at on both sides of each edge
    changes = s.transitions(base, base + 14 * 86_400_000)
    for t, becomes in changes:
        assert active(s, t) == becomes and active(s, t - 1) != becomes
    flags = [b for _, b in changes]
    assert all(a != b for a, b in zip(flags, flags[1:], strict=False))
    nxt = s.next_transition(base)
    assert nxt == (changes[0] if changes else None)
