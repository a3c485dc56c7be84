"""What a batch says, computed for all its events at once.

Everything here depends only on the events and on state that no rule changes mid-batch
(the clock, each person's newest timestamp and last fix), so it can be vectorised:
the firing thresholds of timers, which events are applied or ignored as duplicates and late
arrivals, fix-to-zone relations, jumps, and which persons are *quiet*: calm before the batch,
and nothing in the batch that could open, clear, count or fire anything for them. Quiet
persons only move their last-seen columns; everybody else goes through the rules one event at
a time (alerts/rules.py). Both paths give the same result, which tests/test_engine_paths.py
checks by forcing every person down the slow one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts import events as ev
from alerts.caseload import Caseload
from alerts.state import NO_TIME, PartState
from geofences import zones as zrel

_QUIET_STATUSES = np.array([ev.HEARTBEAT, ev.POWER_ON, ev.LOCATION_ENABLED])
_EARTH_R = 6_371_008.8


@dataclass(slots=True)
class Facts:
    threshold: np.ndarray  # F[i]: timers due strictly before it have fired once row i applies
    accepted: np.ndarray  # bool: applies (not older than the person's newest, not a repeat)
    duplicate: np.ndarray  # an exact repeat of an event already applied for the person
    out_of_order: np.ndarray  # late: older than the person's newest applied event
    good_fix: np.ndarray  # accepted fix within max_accuracy_m: may change zone state
    late_fix: np.ndarray  # late fix within max_accuracy_m: evidence for a buffered track
    late_tamper: np.ndarray  # late tamper status: raises as if on time
    sig: np.ndarray  # int64 content signature of each row (type, ts aside, and content)
    jump: np.ndarray
    apart: np.ndarray  # good fix whose accuracy circle and the last fix's do not touch
    # apart, with an accuracy worse than the last one's and past sharp: a suspect episode starts
    # there if the person has a run or an alert going, or (`leap`) the fix is near an edge
    leap_any: np.ndarray
    leap: np.ndarray
    pair_ptr: np.ndarray  # CSR over rows into the pair arrays
    pair_zone: np.ndarray
    pair_rel: np.ndarray  # geofences.zones INSIDE / BAND / OUT
    pair_active: np.ndarray  # the zone's schedule is on at the fix's time
    slow: np.ndarray  # sorted person indices that need the rules this batch
    transitions: list[tuple[int, int, bool]]  # (ts, zone, becomes_active) in [F_prev, F_end)
    by_person: np.ndarray  # non-tick rows sorted by person, arrival order kept within each


def _haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_R * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def firing_thresholds(st: PartState, ts: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """F[i]: the clock as it stands for row i, plus one millisecond on a tick.

    A timer due at d fires before the first row with F > d: an event at t fires timers due
    strictly before t, a tick at t those due at or before it (SPEC §1, §3).
    """
    clock = np.maximum.accumulate(ts)
    np.maximum(clock, st.clock, out=clock)
    f = clock + (kind == ev.TICK)
    f = np.maximum.accumulate(f)
    return np.maximum(f, st.threshold, out=f)


def _segmented_prior_max(p_sorted: np.ndarray, t_sorted: np.ndarray, start: np.ndarray):
    """For each row of person-sorted data, the largest ts among that person's earlier rows."""
    seg = np.cumsum(start) - 1
    base = int(t_sorted.min())
    span = int(t_sorted.max()) - base + 1
    if seg.size and int(seg[-1]) * span < 2**62:
        key = seg * span + (t_sorted - base)
        running = np.maximum.accumulate(key) - seg * span + base
    else:  # absurd time spans: do it plainly rather than overflow
        running = t_sorted.copy()
        for i in range(1, running.size):
            if not start[i]:
                running[i] = max(running[i], running[i - 1])
    prior = np.empty_like(running)
    prior[1:] = running[:-1]
    prior[start] = NO_TIME
    return prior


def signatures(b: ev.EventBatch) -> np.ndarray:
    """A 64-bit hash of each row's type and content (a fix's lat, lon, accuracy_m; a status's
    event): two events of a person with the same ts and signature are the same event."""
    h = b.kind.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    h ^= b.status.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    with np.errstate(over="ignore"):
        for col in (b.lat, b.lon, b.accuracy_m):
            bits = np.where(np.isnan(col), 0.0, col).astype(np.float64).view(np.uint64)
            h = (h ^ bits) * np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(33)
    return h.view(np.int64)


def _classify(st: PartState, b: ev.EventBatch, order: np.ndarray, sig: np.ndarray):
    """accepted / duplicate / late for each non-tick row (SPEC §3 "Order, duplicates and late
    data"). A person's events apply in arrival order; one that shares the newest ts so far is a
    duplicate only when an event with that ts and the same signature already applied."""
    n = len(b)
    accepted, duplicate, late = (np.zeros(n, dtype=bool) for _ in range(3))
    if order.size == 0:
        return accepted, duplicate, late
    p_s, t_s, g_s = b.person[order], b.ts[order], sig[order]
    start = np.ones(order.size, dtype=bool)
    start[1:] = p_s[1:] != p_s[:-1]
    prior = np.maximum(_segmented_prior_max(p_s, t_s, start), st.latest_ts[p_s])
    tie = t_s == prior
    late[order] = t_s < prior
    # a repeat within the batch: the same (person, ts, signature) as an earlier row
    pos = np.arange(order.size)
    by = np.lexsort((pos, g_s, t_s, p_s))
    same = np.zeros(order.size, dtype=bool)
    same[1:] = ((p_s[by][1:] == p_s[by][:-1]) & (t_s[by][1:] == t_s[by][:-1])
                & (g_s[by][1:] == g_s[by][:-1]))
    repeat = np.zeros(order.size, dtype=bool)
    repeat[by] = same
    # or a repeat of what the state applied last, at its newest ts
    at_latest = tie & (t_s == st.latest_ts[p_s])
    repeat |= at_latest & (g_s == st.latest_sig[p_s])
    if st.extras:
        for i in np.flatnonzero(at_latest & ~repeat).tolist():
            extra = st.extras.get(st.person_ids[int(p_s[i])])
            if extra and int(g_s[i]) in extra.get("tie", ()):
                repeat[i] = True
    duplicate[order] = tie & repeat
    accepted[order] = (t_s > prior) | (tie & ~repeat)
    return accepted, duplicate, late


def compute(st: PartState, cl: Caseload, b: ev.EventBatch, force_slow: bool = False) -> Facts:
    n = len(b)
    F = firing_thresholds(st, b.ts, b.kind)
    f_prev, f_end = st.threshold, int(F[-1])

    rows = np.flatnonzero(b.kind != ev.TICK)
    order = rows[np.argsort(b.person[rows], kind="stable")]
    sig = signatures(b)
    accepted, duplicate, out_of_order = _classify(st, b, order, sig)

    fix_ok = (b.kind == ev.FIX) & (b.accuracy_m <= cl.max_accuracy_m)
    good = accepted & fix_ok
    late_fix = out_of_order & fix_ok
    late_tamper = out_of_order & (b.kind == ev.STATUS) & (b.status == ev.TAMPER)
    jump, apart, leap_any = _steps(st, cl, b, order, good)
    pair_row, pair_zone, pair_rel, pair_active = _relations(cl, b, np.flatnonzero(good | late_fix))
    pair_ptr = np.searchsorted(pair_row, np.arange(n + 1))
    # a leap deep inside every zone changes nothing: only one near an edge starts an episode,
    # so honest movement far from any boundary never costs the rule-by-rule path
    near_edge = np.zeros(n, dtype=bool)
    near_edge[pair_row[pair_active & cl.inclusion[pair_zone] & (pair_rel != zrel.INSIDE)]] = True
    leap = leap_any & near_edge

    transitions = [
        (t, z, on)
        for z in cl.scheduled
        for t, on in cl.zones.schedules[z].transitions(f_prev - 1, f_end - 1)
    ]
    transitions.sort()

    if force_slow:
        slow = np.arange(st.n_persons)
    else:
        slow = _slow_persons(st, cl, b, F, accepted, good, jump | leap, order, pair_row,
                             pair_zone, pair_rel, pair_active, transitions, late_fix | late_tamper)
    return Facts(F, accepted, duplicate, out_of_order, good, late_fix, late_tamper, sig, jump,
                 apart, leap_any, leap, pair_ptr, pair_zone, pair_rel, pair_active, slow, transitions, order)


def _steps(st, cl, b, order, good) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From each good fix's previous one: `jump`, suspected spoofing (farther apart than any
    honest trip), and `leap`, the start of a suspect episode (docs/detection.md): the two
    accuracy circles do not touch and the accuracy got worse, past sharp."""
    jump, apart, leap = (np.zeros(len(b), dtype=bool) for _ in range(3))
    g = order[good[order]]
    if g.size == 0:
        return jump, apart, leap
    p = b.person[g]
    first = np.ones(g.size, dtype=bool)
    first[1:] = p[1:] != p[:-1]
    prev = np.zeros(g.size, dtype=np.int64)
    prev[1:] = g[:-1]
    lon0 = np.where(first, st.last_lon[p], b.lon[prev])
    lat0 = np.where(first, st.last_lat[p], b.lat[prev])
    acc0 = np.where(first, st.last_acc[p], b.accuracy_m[prev])
    t0 = np.where(first, st.last_fix_ts[p], b.ts[prev])
    known = t0 > NO_TIME
    acc = b.accuracy_m[g]
    dist = _haversine_m(lon0, lat0, b.lon[g], b.lat[g]) - acc0 - acc
    dt_s = np.maximum(b.ts[g] - t0, 1) / 1000.0
    with np.errstate(invalid="ignore"):
        jump[g] = known & (dist > cl.jump_min_m) & (dist > cl.max_speed * dt_s)
        apart[g] = known & (dist > 0)
    leap[g] = apart[g] & (acc > cl.sharp_m) & (acc > acc0)
    return jump, apart, leap


def _relations(cl: Caseload, b: ev.EventBatch, rows: np.ndarray):
    """(row, zone, relation, zone scheduled on) for every zone that applies to a good fix,
    sorted by row. Exclusion zones come from the spatial index: the absent ones are OUT."""
    r_in, z_in = cl.assignment.inclusion_pairs(rows, b.person[rows])
    pi, z_ex = cl.zones.exclusion_candidates(b.lon[rows], b.lat[rows])
    r_ex = rows[pi]
    if r_ex.size:
        keep = cl.assignment.applies(b.person[r_ex], z_ex)
        r_ex, z_ex = r_ex[keep], z_ex[keep]
    row = np.concatenate([r_in, r_ex]).astype(np.int64)
    zone = np.concatenate([z_in, z_ex]).astype(np.int64)
    o = np.argsort(row, kind="stable")
    row, zone = row[o], zone[o]
    rel = (
        cl.zones.relate(zone, b.lon[row], b.lat[row], b.accuracy_m[row])
        if row.size
        else np.zeros(0, dtype=np.int8)
    )
    active = np.ones(row.size, dtype=bool)
    if cl.scheduled and row.size:
        sched = np.isin(zone, cl.scheduled)
        for z in np.unique(zone[sched]):
            m = zone == z
            active[m] = cl.zones.schedules[int(z)].active_at(b.ts[row[m]])
    return row, zone, rel, active


def _slow_persons(st, cl, b, F, accepted, good, jump, order, pair_row, pair_zone, pair_rel,
                  pair_active, transitions, late_evidence) -> np.ndarray:
    n = len(b)
    f_end = int(F[-1])
    bad = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        bad |= b.battery_pct <= cl.low_battery
    bad |= jump
    bad |= (b.kind == ev.STATUS) & ~np.isin(b.status, _QUIET_STATUSES)
    incl = cl.inclusion[pair_zone]
    hit = pair_active & ((incl & (pair_rel == zrel.OUT)) | (~incl & (pair_rel == zrel.INSIDE)))
    bad[pair_row[hit]] = True
    bad &= accepted

    persons = b.person
    # late fixes and late tampers are evidence the rules weigh (buffered tracks, tamper)
    slow = [persons[bad], persons[late_evidence]]
    if st.feed_down_since is None:  # during a feed outage silence does not count
        slow.append(np.flatnonzero(st.silence_due < f_end))
    if not st.drill:  # a drill's escalations run on the wall clock, not on F
        slow.append(np.flatnonzero(st.esc_due < f_end))
    with_events = persons[order]
    slow.append(with_events[~st.calm[with_events]])

    # silence between a person's own events: fires if the clock passed due before the next one
    acc_sorted = order[accepted[order]]
    if acc_sorted.size:
        p = persons[acc_sorted]
        t = b.ts[acc_sorted]
        nxt_same = np.zeros(p.size, dtype=bool)
        nxt_same[:-1] = p[1:] == p[:-1]
        due = t + cl.timeout_ms[p]
        f_next = np.full(p.size, f_end, dtype=np.int64)
        f_next[:-1] = F[acc_sorted[1:]]
        fires = np.where(nxt_same, due < f_next, due < f_end)
        slow.append(p[fires])

    if cl.permit_person.size and n:
        t_lo = min(int(b.ts.min()), f_prev_of(st))
        live = (cl.permit_start < f_end) & (cl.permit_end > t_lo)
        slow.append(cl.permit_person[live])

    if transitions:
        has_events = np.zeros(st.n_persons, dtype=bool)
        has_events[with_events] = True
        t_min = transitions[0][0]
        recent = st.last_fix_ts >= t_min - cl.timeout_ms
        for z in sorted({z for _, z, _ in transitions}):
            who = cl.assignment.persons_with_zone(z)
            slow.append(who[has_events[who] | recent[who] | ~st.calm[who]])
    return np.unique(np.concatenate(slow).astype(np.int64))


def f_prev_of(st: PartState) -> int:
    return int(st.threshold)
