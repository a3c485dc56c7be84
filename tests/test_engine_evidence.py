"""SPEC §3 of 2026-12-02: same-second events, late data as evidence, per-zone evidence rules."""

from __future__ import annotations

import dataclasses

import numpy as np
from enginekit import (
    Feed,
    bundle,
    curfew_zone,
    home_zone,
    ms,
    of_type,
    person,
    run,
    venue_zone,
)

from alerts.engine import Engine
from alerts.state import EngineState
from stream import events as ev

D = "2026-11-27 "


def t(hhmm: str) -> int:
    return ms(D + hhmm)


def in_batches(b, build, sizes, snapshot=False):
    engine = Engine(b)
    feed = Feed(engine)
    build(feed)
    batch = feed.batch()
    state, out, lo, i = engine.new_state(), [], 0, 0
    while lo < len(batch):
        hi = min(len(batch), lo + sizes[i % len(sizes)])
        i += 1
        out += engine.process(state, batch.take(np.arange(lo, hi)), 0)
        if snapshot:
            state = EngineState.from_bytes(state.to_bytes())
        lo = hi
    return engine, out


# -- same second ------------------------------------------------------------------------------


def test_a_fix_and_a_tamper_in_the_same_second_both_apply():
    engine, _, ups = run(bundle(), lambda f: f.inside(t("10:00")).status(t("10:00"), ev.TAMPER))
    (a,) = of_type(ups, "tamper")
    assert a.opened_at_ms == t("10:00") and a.late is False
    assert engine.stats["duplicate"] == 0


def test_two_different_statuses_in_one_second_both_apply_in_arrival_order():
    def feed(f):
        f.inside(t("10:00")).status(t("10:05"), ev.POWER_OFF).status(t("10:05"), ev.TAMPER)
        f.status(t("10:06"), ev.HEARTBEAT)

    _, _, ups = run(bundle(), feed)
    # an event of the same second is not "later" than the power_off: only 10:06 clears it
    assert [(u.type, u.condition) for u in ups] == [
        ("device_off", "active"), ("tamper", "active"), ("device_off", "cleared")]


def test_exact_repeats_are_duplicates_even_across_batches_and_after_a_tie():
    def feed(f):
        f.inside(t("10:00")).status(t("10:00"), ev.TAMPER)
        f.status(t("10:00"), ev.TAMPER).inside(t("10:00"))  # both exact repeats
        f.inside(t("10:00"), acc=11.0)  # same second, other content: applies

    for sizes in ([10], [1], [2, 1]):
        for snapshot in (False, True):
            engine, ups = in_batches(bundle(), feed, sizes, snapshot)
            assert engine.stats["duplicate"] == 2, (sizes, snapshot)
            assert engine.stats["accepted"] == 3
            assert len(of_type(ups, "tamper")) == 1


# -- late tamper ------------------------------------------------------------------------------


def test_a_tamper_20_s_late_raises_as_if_on_time_and_only_once():
    def feed(f):
        f.inside(t("10:00:30"))
        f.status(t("10:00:10"), ev.TAMPER)  # 20 s older than the fix already applied
        f.status(t("10:00:10"), ev.TAMPER)  # the same late tamper again

    engine, _, ups = run(bundle(), feed)
    (a,) = of_type(ups, "tamper")
    assert a.opened_at_ms == t("10:00:10") and a.late is True
    assert a.condition == "active" and a.version == 1
    assert engine.stats["out_of_order"] == 2


# -- buffered tracks (store and forward) ------------------------------------------------------


def offline_excursion(f, upload_at="11:00"):
    """Inside at 10:00, phone off-line, a fresh fix inside, then the buffered minutes
    10:01..10:59: out of the district (1 km east) from 10:10 to 10:39."""
    f.inside(t("10:00")).inside(t(upload_at))
    for m in range(1, 60):
        if 10 <= m < 40:
            f.out(t(f"10:{m:02d}"))
        else:
            f.inside(t(f"10:{m:02d}"))


def test_a_buffered_excursion_uploaded_after_a_fresh_fix_raises_late_and_clears_at_once():
    engine, _, ups = run(bundle(), offline_excursion)
    (a,) = of_type(ups, "zone_exit")
    assert a.late is True
    assert a.opened_at_ms == t("10:10")  # the first fix of the confirming run
    assert a.condition == "cleared" and a.cleared_at_ms == t("11:00")
    assert [u.condition for u in ups if u.type == "zone_exit"] == ["active", "cleared"]
    assert engine.stats["out_of_order"] == 59
    # the hour off-line was signal_lost on time; the late fixes change nothing of it
    (lost,) = of_type(ups, "signal_lost")
    assert (lost.opened_at_ms, lost.cleared_at_ms) == (t("10:30"), t("11:00"))


def test_the_same_buffer_uploaded_twice_raises_nothing_twice_at_any_batch_size():
    def twice(f):
        offline_excursion(f)
        for m in range(1, 60):  # the phone retries the whole upload
            f.out(t(f"10:{m:02d}")) if 10 <= m < 40 else f.inside(t(f"10:{m:02d}"))

    reference = None
    for sizes in ([1000], [1], [7, 3], [60]):
        for snapshot in (False, True):
            _, ups = in_batches(bundle(), twice, sizes, snapshot)
            exits = [(u.type, u.version) for u in ups if u.type == "zone_exit"]
            assert exits == [("zone_exit", 1), ("zone_exit", 2)]
            reference = reference or ups
            assert ups == reference


def test_a_buffered_excursion_without_enough_evidence_raises_nothing():
    def feed(f):
        f.inside(t("10:00")).inside(t("11:00"))
        f.inside(t("10:01")).out(t("10:02")).out(t("10:02:30")).inside(t("10:03"))

    _, _, ups = run(bundle(), feed)
    assert of_type(ups, "zone_exit") == []


def test_a_late_excursion_while_the_person_is_out_now_stays_active():
    def feed(f):
        f.inside(t("10:00")).out(t("11:00"))  # out now, one fix: a pending run on time
        for m in (10, 11, 12, 13):
            f.out(t(f"10:{m:02d}"))

    _, _, ups = run(bundle(), feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.late is True and a.condition == "active" and a.opened_at_ms == t("10:10")


def test_a_buffered_track_is_checked_against_zones_as_they_were():
    night = curfew_zone("night", start="22:00", end="06:00")
    b = bundle(zones=[home_zone(), night], persons=[person(zones=("home", "night"))])
    away = (120.0 + 2000 / 96_405.0, 30.0)  # in the district, 2 km from home

    def feed(f):
        f.inside(t("23:30"))
        # the buffer: away 21:50-22:05; the curfew started at 22:00 while away
        for at in ("21:50", "21:55", "21:59", "22:00", "22:01", "22:02", "22:05"):
            f.fix(t(at), *away)

    _, _, ups = run(b, feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.zone_id == "night" and a.opened_at_ms == t("22:00") and a.late is True


def test_an_on_time_event_ends_a_buffered_track():
    def feed(f):
        f.inside(t("10:00")).inside(t("11:00"))
        f.out(t("10:10")).out(t("10:11"))
        f.inside(t("11:01"))  # on time: the upload above is one track, what follows another
        f.out(t("10:12"))

    _, _, ups = run(bundle(), feed)
    assert of_type(ups, "zone_exit") == []


# -- per-zone evidence ------------------------------------------------------------------------


def test_a_zone_may_confirm_faster_than_the_settings():
    fast = dataclasses.replace(venue_zone(), confirm_fixes=2, confirm_s=0)
    slow_home = dataclasses.replace(home_zone(), confirm_fixes=4, confirm_s=120)
    b = bundle(zones=[slow_home, fast])
    lon, lat = fast.geometry.x, fast.geometry.y

    def feed(f):
        f.fix(t("20:00"), lon, lat).fix(t("20:00:05"), lon, lat)  # 2 fixes in the venue
        for m in ("21:00", "21:01", "21:02"):  # 3 out of the district in 2 min: not enough
            f.out(t(m))

    _, _, ups = run(b, feed)
    (enter,) = of_type(ups, "zone_enter")
    assert enter.opened_at_ms == t("20:00") and enter.event_count == 2
    assert of_type(ups, "zone_exit") == []
    _, _, ups = run(b, lambda f: [f.out(t(m)) for m in ("21:00", "21:01", "21:02", "21:03")])
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == t("21:00") and a.event_count == 4


# -- suspect fixes: indoor drift and spikes (docs/detection.md) -------------------------------


def drift_episode(f, start="10:00", minutes=20, metres=500.0, acc=40.0):
    """Sharp GNSS fixes at home, then Wi-Fi fixes `metres` outside the district every minute,
    claiming `acc`, then GNSS at home again."""
    h, m = map(int, start.split(":"))
    for i in range(-3, minutes + 3):
        at = ms(D + f"{h + (m + i) // 60:02d}:{(m + i) % 60:02d}")
        if 0 <= i < minutes:
            f.out(at, metres, acc=acc)
        else:
            f.inside(at, acc=8.0)


def test_drift_that_looks_like_an_exit_raises_nothing():
    _, _, ups = run(bundle(), drift_episode)
    assert of_type(ups, "zone_exit") == []
    # the same fixes under the SPEC's rules alone (no fix is ever suspect) raise a false 越界
    _, _, ups = run(bundle(sharp_accuracy_m=1e9), drift_episode)
    assert len(of_type(ups, "zone_exit")) == 1


def test_a_suspect_episode_ends_after_suspect_max_s():
    # 50 minutes on Wi-Fi outside: after 40 the fixes are taken at face value
    _, _, ups = run(bundle(), lambda f: drift_episode(f, minutes=50))
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == t("10:00")
    assert a.last_event_at_ms == t("10:49")
    opened = next(u for u in ups if u.type == "zone_exit")
    assert opened.last_event_at_ms == t("10:42")  # 40 min, then two trusted fixes


def drive_out(f, acc_at=None):
    """Driving east out of the district at 12.5 m/s, a fix a minute, sharp GNSS; at the fix
    `acc_at` the accuracy gets worse, past sharp (a leap: it starts a suspect episode)."""
    for i in range(8):
        metres = -1500 + 750 * i
        acc = 25.0 if i == acc_at else 8.0
        f.out(ms(D + f"10:{i:02d}"), metres, acc=acc)


def test_a_true_exit_is_not_delayed_by_one_suspect_fix():
    _, _, plain = run(bundle(), drive_out)
    (reference,) = of_type(plain, "zone_exit")
    assert reference.opened_at_ms == t("10:03")  # 750 m out; 1500 m, 2250 m confirm at 10:05
    for i in (3, 4, 5):
        _, _, ups = run(bundle(), lambda f, i=i: drive_out(f, acc_at=i))
        (a,) = of_type(ups, "zone_exit")
        first = next(u for u in ups if u.type == "zone_exit")
        assert a.opened_at_ms == reference.opened_at_ms, i
        # confirmed at the same fix: the next sharp fix, 750 m on, ends the suspicion
        assert first.last_event_at_ms == t("10:05"), i


def test_a_spike_inward_during_an_excursion():
    def confirmed_then(f, spike_acc):
        for m in range(4):
            f.out(ms(D + f"10:{m:02d}"))
        f.inside(ms(D + "10:04"), acc=spike_acc)  # one fix at home
        f.out(ms(D + "10:05")).out(ms(D + "10:06"))

    for acc in (8.0, 60.0):  # sharp: one of the two inside fixes; suspect: nothing at all
        _, _, ups = run(bundle(), lambda f, acc=acc: confirmed_then(f, acc))
        (a,) = of_type(ups, "zone_exit")
        assert a.condition == "active" and a.opened_at_ms == t("10:00")
        assert [u.condition for u in ups if u.type == "zone_exit"].count("cleared") == 0

    def pending_then(f, spike_acc):
        f.out(ms(D + "10:00")).out(ms(D + "10:01"))
        f.inside(ms(D + "10:01:30"), acc=spike_acc)  # a spike home before the exit confirms
        f.out(ms(D + "10:02"))

    # a sharp inside fix resets the run, as SPEC §3 says; a suspect one (it leaps from the
    # last fix with its accuracy 60 m) does not, and the exit confirms on time
    _, _, ups = run(bundle(), lambda f: pending_then(f, 8.0))
    assert of_type(ups, "zone_exit") == []
    _, _, ups = run(bundle(), lambda f: pending_then(f, 60.0))
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == t("10:00") and a.last_event_at_ms == t("10:02")
