"""The alert-quality benchmark measures what it says: its synthetic day has the properties it
claims (checked against the truth, not the engine), and its metrics count right on small
hand-made cases."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from benchmarks.quality import metrics
from benchmarks.quality.day import LATE_TAMPER_S, DaySpec, Subject, build_day
from benchmarks.quality.noise import (
    CLEAN,
    DRIFT,
    OUTLIER,
    SIGMA_PER_ACCURACY,
    NoiseParams,
    ar1,
    observe,
)

TINY = DaySpec(persons=1, hours=6, walkers=2, leavers=2, buffered=2, buffered_twice=1, tamper=2,
               seed=7)


@pytest.fixture(scope="module")
def day():
    return build_day(TINY)


def _of(day, role):
    return [s for s in day.subjects if s.role == role]


def _signed(day, s: Subject) -> np.ndarray:
    tr = day.tracks[s.person_id]
    return day.boundary.signed_out_m(tr.tx, tr.ty)


# -- the day ---------------------------------------------------------------------------------


def test_the_day_is_deterministic_for_a_seed(day):
    assert build_day(TINY).lines == day.lines
    other = build_day(DaySpec(**{**TINY.__dict__, "seed": 8}))
    assert other.lines != day.lines


def test_stayers_and_walkers_stay_50_to_400_m_inside_in_truth(day):
    people = _of(day, "stayer") + _of(day, "boundary_walk")
    assert len(_of(day, "stayer")) == 4 * len(TINY.intervals_s)  # every kind, every interval
    for s in people:
        depth = -_signed(day, s)
        assert depth.min() >= 50.0 - 0.5 and depth.max() <= 400.0, s.person_id
        lo, hi = s.depth_m
        assert lo - 1.0 <= depth.min() and depth.max() <= hi + 1.0, s.person_id


def test_walkers_really_walk_along_the_boundary(day):
    for s in _of(day, "boundary_walk"):
        tr = day.tracks[s.person_id]
        walking = (tr.t_ms > s.t_start_ms) & (tr.t_ms < s.t_end_ms)
        steps = np.hypot(np.diff(tr.tx[walking]), np.diff(tr.ty[walking]))
        assert steps.sum() > 1000.0  # 30+ minutes at 1.3 m/s
        depth = -_signed(day, s)[walking]
        assert np.ptp(depth) < 0.05 * depth.mean() + 2.0  # at a constant depth


def test_leavers_cross_once_and_are_200_m_out_at_the_recorded_time(day):
    leavers = _of(day, "leaver")
    assert {s.mode for s in leavers} == {"walk", "cycle", "drive"}
    for s in leavers:
        tr = day.tracks[s.person_id]
        sd = _signed(day, s)
        out = np.flatnonzero(sd > 0)
        assert out.size and (sd[out[0]:] > 0).all()  # never back in
        assert sd.max() >= 400
        # the truth between fixes is a straight line at constant speed
        for when, expected in ((s.t200_ms, 200.0), (s.t_cross_ms, 0.0)):
            x = np.interp(when, tr.t_ms, tr.tx)
            y = np.interp(when, tr.t_ms, tr.ty)
            assert day.boundary.signed_out_m(x, y)[0] == pytest.approx(expected, abs=3.0)
        before = tr.t_ms < s.t200_ms
        assert (sd[before] < 200).all() and (sd[~before] >= 200 - 3.0).all()


def _lines_of(day, person_id):
    return [orjson.loads(ln) for ln in day.lines if f'"{person_id}"'.encode() in ln]


def test_buffered_fixes_arrive_after_a_fresher_fix_and_show_an_excursion(day):
    for s in _of(day, "buffered") + _of(day, "buffered_twice"):
        recs = [r for r in _lines_of(day, s.person_id) if r["type"] == "fix"]
        ts = [r["ts"] for r in recs]
        fresh = next(i for i, t in enumerate(ts) if t >= s.t_end_ms)
        late = [t for t in ts[fresh + 1:] if t < ts[fresh]]
        offline = [t for t in ts if s.t_start_ms <= t < s.t_end_ms]
        assert late and set(late) == set(offline)  # every buffered fix came after the fresh one
        assert all(t < s.t_start_ms for t in ts[:fresh])  # nothing sent while offline
        copies = 2 if s.role == "buffered_twice" else 1
        assert len(late) == copies * len(set(offline))
        sd = _signed(day, s)
        tr = day.tracks[s.person_id]
        away = (tr.t_ms >= s.t_start_ms) & (tr.t_ms < s.t_end_ms)
        assert (sd[away] >= 200).sum() >= 10  # well out, for many buffered fixes
        assert (sd[~away] < 0).all()  # home before and after


def test_tamper_statuses_share_a_second_or_arrive_20_s_late(day):
    for role, lag in (("tamper_same_second", 0), ("tamper_late", LATE_TAMPER_S * 1000)):
        for s in _of(day, role):
            recs = _lines_of(day, s.person_id)
            i = next(i for i, r in enumerate(recs) if r["type"] == "status")
            assert recs[i]["event"] == "tamper"
            assert recs[i - 1]["type"] == "fix"
            assert recs[i]["ts"] == recs[i - 1]["ts"] - lag


def test_power_off_shares_a_fix_second_and_the_phone_is_silent_until_power_on(day):
    people = _of(day, "power_off_same_second")
    assert len(people) == TINY.tamper
    for s in people:
        recs = _lines_of(day, s.person_id)
        i = next(i for i, r in enumerate(recs) if r.get("event") == "power_off")
        assert recs[i - 1]["type"] == "fix" and recs[i - 1]["ts"] == recs[i]["ts"] == s.t_start_ms
        assert recs[i + 1]["event"] == "power_on"
        assert recs[i + 2]["type"] == "fix" and recs[i + 2]["ts"] == s.t_end_ms
        assert s.t_end_ms - s.t_start_ms >= 10 * 60_000


def test_the_feed_is_in_arrival_order_and_the_engine_accepts_every_line(day, tmp_path):
    from config.loader import load_bundle
    from stream.decode import Decoder

    bundle_dir, feed = day.write(tmp_path)
    bundle = load_bundle(bundle_dir)
    assert {z.zone_id for z in bundle.zones} == {z.zone_id for z in load_bundle(
        "config/demo").zones}
    index = {p.person_id: i for i, p in enumerate(bundle.persons)}
    batch, rejects = Decoder(index, bundle.settings).decode(
        feed.read_bytes().splitlines(keepends=True), received_at_ms=4_102_444_800_000)
    assert rejects == [] and len(batch) == len(day.lines)


# -- the noise -------------------------------------------------------------------------------


def _still(n, interval_s=10):
    t = np.arange(n, dtype=np.int64) * interval_s * 1000
    return np.zeros(n), np.zeros(n), t


def test_gaussian_noise_keeps_its_68_percent_promise_and_is_correlated():
    tx, ty, t = _still(40_000)
    obs = observe("gaussian", tx, ty, t, np.random.default_rng(1))
    err = np.hypot(obs.x, obs.y)
    assert (obs.label == CLEAN).all() and set(obs.source) == {"gnss"}
    assert np.mean(err <= obs.accuracy_m) == pytest.approx(0.68, abs=0.02)
    assert 4.0 <= np.median(obs.accuracy_m) <= 12.0
    z = obs.x / (obs.accuracy_m * SIGMA_PER_ACCURACY)  # the error in units of its own σ
    assert np.corrcoef(z[1:], z[:-1])[0, 1] == pytest.approx(np.exp(-10 / 60), abs=0.02)


def test_multipath_outliers_are_rare_far_and_understated():
    tx, ty, t = _still(50_000)
    p = NoiseParams()
    obs = observe("multipath", tx, ty, t, np.random.default_rng(2), p)
    hit = obs.label == OUTLIER
    assert hit.mean() == pytest.approx(p.outlier_rate, rel=0.15)
    err = np.hypot(obs.x, obs.y)
    assert err[hit].min() >= 150 - 1e-6 and err[hit].max() <= 800
    assert (err[hit] > 2 * obs.accuracy_m[hit]).all()  # the claimed circle misses the truth
    # independent: a neighbour of an outlier is an outlier no more often than any fix
    after = np.flatnonzero(hit[:-1]) + 1
    assert hit[after].mean() < 0.05


def test_drift_episodes_are_blocks_of_wifi_or_cell_fixes_offset_by_hundreds_of_metres():
    tx, ty, t = _still(8640 * 4)  # four days at one fix every 10 s
    obs = observe("drift", tx, ty, t, np.random.default_rng(3))
    d = obs.label == DRIFT
    starts = np.flatnonzero(np.diff(d.astype(int)) == 1) + 1
    ends = np.flatnonzero(np.diff(d.astype(int)) == -1) + 1
    assert 4 <= starts.size <= 25
    honest = understated = 0
    for s, e in zip(starts, ends, strict=False):
        minutes = (t[e - 1] - t[s]) / 60_000
        assert 4.5 <= minutes <= 30.5
        offset = np.hypot(obs.x[s:e].mean(), obs.y[s:e].mean())
        assert 140 <= offset <= 1210
        assert len(set(obs.source[s:e])) == 1 and obs.source[s] in ("wifi", "cell")
        if np.median(obs.accuracy_m[s:e]) >= 0.6 * offset:
            honest += 1
        else:
            understated += 1
    assert honest and understated
    assert set(obs.source[~d]) == {"gnss"}


def test_mixed_noise_has_every_trouble():
    tx, ty, t = _still(8640 * 2)
    obs = observe("mixed", tx, ty, t, np.random.default_rng(4))
    assert {CLEAN, OUTLIER, DRIFT} <= set(obs.label.tolist())


def test_ar1_matches_its_recursion():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(3000, 1))
    rho = np.exp(-rng.uniform(1, 120, 3000) / 60)
    rho[0] = 0.0
    expected, x = [], 0.0
    for r, zi in zip(rho, z[:, 0], strict=True):
        x = r * x + np.sqrt(1 - r * r) * zi
        expected.append(x)
    assert np.allclose(ar1(z, rho)[:, 0], expected)
    assert SIGMA_PER_ACCURACY == pytest.approx(1 / 1.5096, rel=1e-3)


# -- the metrics -----------------------------------------------------------------------------

MIN = 60_000


def _u(aid, version, person, typ, condition, opened, last, cleared=None, reopen=0, late=False):
    return {"alert_id": aid, "version": version, "person_id": person, "type": typ,
            "zone_id": "cn-330702" if typ == "zone_exit" else None, "condition": condition,
            "opened_at": opened, "last_event_at": last, "cleared_at": cleared,
            "reopen_count": reopen, "late": late}


def test_a_reopened_alert_is_a_second_raise_and_a_repeat_is_not():
    ups = [
        _u("a", 1, "P", "zone_exit", "active", 0, 2 * MIN),
        _u("a", 2, "P", "zone_exit", "active", 0, 3 * MIN),  # a repeat: event_count + 1
        _u("a", 3, "P", "zone_exit", "cleared", 0, 4 * MIN, cleared=4 * MIN),
        _u("a", 4, "P", "zone_exit", "active", 0, 9 * MIN, reopen=1),
        _u("b", 1, "Q", "zone_exit", "cleared", 5 * MIN, 7 * MIN, cleared=7 * MIN, late=True),
    ]
    eps = metrics.episodes(ups)
    assert [(e.raised_at, e.cleared_at) for e in eps[("P", "zone_exit")]] == [
        (2 * MIN, 4 * MIN), (9 * MIN, None)]
    assert eps[("Q", "zone_exit")] == [metrics.Episode("b", 7 * MIN, 7 * MIN, 5 * MIN, True)]


def _subject(pid, role, **kw):
    base = {"noise": "gaussian", "interval_s": 60, "feed_start_ms": 0, "feed_end_ms": 86_400_000}
    return Subject(pid, role, **(base | kw))


def test_false_alarms_delays_and_misses_on_a_hand_made_day():
    subjects = [
        _subject("S1", "stayer", noise="drift"),
        _subject("S2", "stayer", noise="drift"),
        _subject("W1", "boundary_walk", noise="mixed", interval_s=10),
        # raised 90 s after it was 200 m out
        _subject("L1", "leaver", mode="walk", t_cross_ms=10 * MIN, t200_ms=12 * MIN),
        # raised before it was 200 m out: delay 0
        _subject("L2", "leaver", mode="walk", t_cross_ms=10 * MIN, t200_ms=12 * MIN),
        # a false alarm that cleared before the real exit, then nothing: missed
        _subject("L3", "leaver", mode="drive", t_cross_ms=10 * MIN, t200_ms=11 * MIN),
        # a false alarm still active when the real exit happens: detected at the crossing
        _subject("L4", "leaver", mode="drive", t_cross_ms=10 * MIN, t200_ms=11 * MIN),
        _subject("T1", "tamper_same_second"), _subject("T2", "tamper_late"),
        _subject("P1", "power_off_same_second"),
        _subject("B1", "buffered", t_start_ms=60 * MIN, t_end_ms=120 * MIN),
        _subject("B2", "buffered_twice", t_start_ms=60 * MIN, t_end_ms=120 * MIN),
    ]
    ups = [
        _u("s1", 1, "S1", "zone_exit", "active", 5 * MIN, 6 * MIN),
        _u("s1", 2, "S1", "zone_exit", "cleared", 5 * MIN, 8 * MIN, cleared=8 * MIN),
        _u("s1", 3, "S1", "zone_exit", "active", 5 * MIN, 20 * MIN, reopen=1),
        _u("s1b", 1, "S1", "signal_lost", "active", 30 * MIN, 30 * MIN),
        _u("w1", 1, "W1", "zone_exit", "active", 5 * MIN, 6 * MIN),
        _u("l1", 1, "L1", "zone_exit", "active", 11 * MIN, 12 * MIN + 90_000),
        _u("l2", 1, "L2", "zone_exit", "active", 10 * MIN, 11 * MIN),
        _u("l3", 1, "L3", "zone_exit", "active", 1 * MIN, 2 * MIN),
        _u("l3", 2, "L3", "zone_exit", "cleared", 1 * MIN, 3 * MIN, cleared=3 * MIN),
        _u("l4", 1, "L4", "zone_exit", "active", 1 * MIN, 2 * MIN),
        _u("t1", 1, "T1", "tamper", "active", 30 * MIN, 30 * MIN),
        _u("t2", 1, "T2", "device_off", "active", 30 * MIN, 30 * MIN),  # not a tamper
        _u("p1", 1, "P1", "device_off", "active", 30 * MIN, 30 * MIN),
        _u("b2", 1, "B2", "zone_exit", "cleared", 70 * MIN, 72 * MIN, cleared=121 * MIN,
           late=True),
        _u("b2x", 1, "B2", "zone_exit", "cleared", 70 * MIN, 72 * MIN, cleared=126 * MIN,
           late=True),
    ]
    r = metrics.evaluate(subjects, ups)
    drift = r["false_alarms"]["drift"]["all"]
    assert (drift["false_alarms"], drift["person_days"]) == (2, 2.0)
    assert drift["per_10k_person_days"] == 10_000.0
    assert r["false_alarms"]["boundary_walk"]["10s"]["false_alarms"] == 1
    assert r["other_alerts_on_stayers"] == {"signal_lost": 1}
    assert r["exits"]["missed"] == 1
    assert r["exits"]["by_mode"]["drive"]["60s"]["missed_ids"] == ["L3"]
    assert r["exits"]["by_mode"]["walk"]["60s"]["delay_s"] == {"p50": 0.0, "p95": 90.0,
                                                                 "max": 90.0}
    assert r["exits"]["by_mode"]["drive"]["60s"]["delay_s"]["max"] == 0.0  # L4, at the crossing
    assert r["statuses"] == {
        "tamper_same_second": {"sent": 1, "raised": 1, "alert": "tamper"},
        "tamper_late": {"sent": 1, "raised": 0, "alert": "tamper"},
        "power_off_same_second": {"sent": 1, "raised": 1, "alert": "device_off"}}
    b = r["buffered_excursion"]
    assert (b["sent"], b["raised"], b["raised_with_late_flag"]) == (2, 1, 1)
    assert b["uploaded_twice_raised_more_than_once"] == 1
    assert r["goal"] == {"false_alarms_under_1_per_10k_every_kind": False,
                         "no_missed_exit": False, "p95_delay_at_60s_within_180s": True}


def test_a_false_alarm_is_blamed_on_the_noise_of_the_fixes_that_raised_it():
    from benchmarks.quality.day import Track

    t = np.arange(10, dtype=np.int64) * MIN
    labels = np.array([CLEAN, CLEAN, OUTLIER, CLEAN, CLEAN, DRIFT, DRIFT, CLEAN, CLEAN, CLEAN],
                      dtype=np.int8)
    z = np.zeros(10)
    track = Track(t, t, z, z, z, z, z, np.full(10, "gnss", dtype=object), labels)

    def ep(first, last):
        return metrics.Episode("a", last * MIN, None, first * MIN, False)

    assert metrics.cause(track, ep(2, 3)) == "multipath"
    assert metrics.cause(track, ep(3, 6)) == "drift"
    assert metrics.cause(track, ep(7, 9)) == "gaussian"
    r = metrics.evaluate([_subject("S", "stayer", noise="mixed")],
                         [_u("x", 1, "S", "zone_exit", "active", 4 * MIN, 6 * MIN)], {"S": track})
    assert r["false_alarm_causes"] == {"mixed": {"drift": 1}}


def test_percentiles_are_nearest_rank_and_the_poisson_bound_is_the_rule_of_three():
    assert metrics.percentiles([10, 20, 30, 40]) == {"p50": 20.0, "p95": 40.0, "max": 40.0}
    assert metrics.percentiles([]) == {"p50": None, "p95": None, "max": None}
    assert metrics.poisson_upper95(0) == pytest.approx(3.0, abs=0.05)
    assert metrics.poisson_upper95(10) == pytest.approx(17.0, abs=0.2)


def test_a_driver_heading_8_km_out_is_detected_by_the_engine_on_this_branch(tmp_path):
    """End to end through the real engine: the bench's own plumbing (feed, runner, metrics)."""
    from benchmarks.quality.runner import run_feed

    spec = DaySpec(persons=0, hours=4, walkers=0, leavers=1, buffered=0, buffered_twice=0,
                   tamper=0, seed=3)
    small = build_day(spec)
    bundle, feed = small.write(tmp_path)
    r = metrics.evaluate(small.subjects, run_feed(str(bundle), str(feed)))
    assert r["exits"]["missed"] == 0
    assert r["exits"]["by_mode"]["drive"]["60s"]["leavers"] == 1


def test_another_checkout_runs_the_same_day_in_a_subprocess(tmp_path):
    """--baseline-src: with this checkout as the "other" one, the subprocess sees exactly what
    the in-process run sees (ids included), so a difference in the README is the rules'."""
    from pathlib import Path

    from benchmarks.quality.runner import run_feed
    from benchmarks.quality_bench import run_baseline

    spec = DaySpec(persons=0, hours=4, walkers=0, leavers=1, buffered=1, buffered_twice=0,
                   tamper=1, intervals_s=(60,), seed=5)
    bundle, feed = build_day(spec).write(tmp_path)
    here = Path(__file__).resolve().parent.parent
    inside = run_feed(str(bundle), str(feed))
    assert inside and run_baseline(here, bundle, feed) == inside
