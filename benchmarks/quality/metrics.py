"""From ground truth and alert updates to the figures officers care about.

An alert *raise* is what makes an officer look: a new alert (version 1) or a reopening (an
update that turns a cleared alert active again). Its moment is the update's `last_event_at`,
the event time of the fix that confirmed it: that is when the engine could first have told
anyone, whatever `opened_at` says about when the run began.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from benchmarks.quality.day import Subject, Track
from benchmarks.quality.noise import DRIFT, OUTLIER

GOAL_FALSE_PER_10K = 1.0
GOAL_P95_DELAY_S = 180.0
GOAL_INTERVAL_S = 60


@dataclass(frozen=True)
class Episode:
    """An alert active from `raised_at` to `cleared_at` (None: still active at the end)."""

    alert_id: str
    raised_at: int
    cleared_at: int | None
    opened_at: int
    late: bool


def episodes(updates: list[dict]) -> dict[tuple[str, str], list[Episode]]:
    """(person, type) -> the times an alert went active, in order."""
    out: dict[tuple[str, str], list[Episode]] = defaultdict(list)
    active: dict[str, int] = {}  # alert_id -> index into its key's list, while active
    for u in updates:
        key, aid = (u["person_id"], u["type"]), u["alert_id"]
        eps = out[key]
        if u["condition"] == "active" and aid not in active:
            active[aid] = len(eps)
            eps.append(Episode(aid, u["last_event_at"], None, u["opened_at"], u["late"]))
        elif u["version"] == 1:  # raised and cleared in one record (late data)
            eps.append(Episode(aid, u["last_event_at"], u["cleared_at"], u["opened_at"], u["late"]))
        if u["condition"] == "cleared" and aid in active:
            i = active.pop(aid)
            e = eps[i]
            eps[i] = Episode(aid, e.raised_at, u["cleared_at"], e.opened_at, e.late)
    return out


def poisson_upper95(k: int) -> float:
    """One-sided 95 % upper bound of a Poisson mean after k events (Wilson-Hilferty)."""
    a = k + 1
    return float(a * (1 - 1 / (9 * a) + 1.6449 / (3 * np.sqrt(a))) ** 3)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    v = np.asarray(values, float)
    q = np.percentile(v, [50, 95], method="inverted_cdf")  # nearest rank: a delay that happened
    return {"p50": round(float(q[0]), 1), "p95": round(float(q[1]), 1),
            "max": round(float(v.max()), 1)}


def detection(s: Subject, eps: list[Episode]) -> int | None:
    """When the engine had a 越界 alert active for a leaver after they crossed (None: missed)."""
    for e in eps:
        if e.raised_at <= s.feed_end_ms and (e.cleared_at is None or e.cleared_at > s.t_cross_ms):
            return max(e.raised_at, s.t_cross_ms)
    return None


def cause(track: Track, e: Episode) -> str:
    """What misled the engine: the noise on the fixes from opened_at to the raise."""
    labels = set(track.label[(track.t_ms >= e.opened_at) & (track.t_ms <= e.raised_at)].tolist())
    if DRIFT in labels:
        return "drift"
    if OUTLIER in labels:
        return "multipath"
    return "gaussian"


def _rate(alarms: int, person_days: float) -> dict:
    return {"person_days": round(person_days, 2), "false_alarms": alarms,
            "per_10k_person_days": round(alarms / person_days * 1e4, 1) if person_days else None,
            "upper95_per_10k": round(poisson_upper95(alarms) / person_days * 1e4, 1)
            if person_days else None}


def _false_alarm_rates(false: dict[str, dict[int, list]]) -> dict:
    kinds = {}
    for label, by_interval in false.items():
        both = [sum(c[0] for c in by_interval.values()), sum(c[1] for c in by_interval.values())]
        kinds[label] = {"all": _rate(*both)} | {
            f"{iv}s": _rate(*c) for iv, c in sorted(by_interval.items())}
    return kinds


def _exit_delays(exits: dict[str, dict[int, list]], missed: dict[str, dict[int, list[str]]]) -> dict:
    delays: dict[str, dict] = {}
    for mode in sorted(set(exits) | set(missed)):
        for iv in sorted(set(exits[mode]) | set(missed[mode])):
            n_missed = len(missed[mode][iv])
            delays.setdefault(mode, {})[f"{iv}s"] = {
                "leavers": len(exits[mode][iv]) + n_missed, "missed": n_missed,
                "missed_ids": missed[mode][iv], "delay_s": percentiles(exits[mode][iv])}
    return delays


def evaluate(subjects: list[Subject], updates: list[dict],
             tracks: dict[str, Track] | None = None) -> dict:
    """The figures; with the day's tracks, also what caused each false alarm."""
    eps = episodes(updates)
    zone = {pid: e for (pid, typ), e in eps.items() if typ == "zone_exit"}

    false: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    other = Counter()
    causes: dict[str, Counter] = defaultdict(Counter)
    exits: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    missed: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    statuses = {"tamper_same_second": [0, 0, "tamper"], "tamper_late": [0, 0, "tamper"],
                "power_off_same_second": [0, 0, "device_off"]}
    buffered = {"buffered": [0, 0, 0], "buffered_twice": [0, 0, 0]}  # sent, raised, raised >1
    late_flag = 0
    for s in subjects:
        mine = zone.get(s.person_id, [])
        if s.role in ("stayer", "boundary_walk"):
            label = s.noise if s.role == "stayer" else "boundary_walk"
            cell = false[label][s.interval_s]
            cell[0] += len(mine)
            cell[1] += s.person_days
            if tracks is not None:
                causes[label].update(cause(tracks[s.person_id], e) for e in mine)
            for (pid, typ), e in eps.items():
                if pid == s.person_id and typ != "zone_exit":
                    other[typ] += len(e)
        elif s.role == "leaver":
            at = detection(s, mine)
            if at is None:
                missed[s.mode][s.interval_s].append(s.person_id)
            else:
                exits[s.mode][s.interval_s].append(max(0, at - s.t200_ms) / 1000.0)
        elif s.role in statuses:
            st = statuses[s.role]
            st[0] += 1
            st[1] += bool(eps.get((s.person_id, st[2])))
        elif s.role in buffered:
            inside = [e for e in mine if s.t_start_ms <= e.opened_at < s.t_end_ms]
            b = buffered[s.role]
            b[0] += 1
            b[1] += bool(inside)
            b[2] += len(inside) > 1
            late_flag += any(e.late for e in inside)

    kinds = _false_alarm_rates(false)
    delays = _exit_delays(exits, missed)
    at_goal = [d for m in exits.values() for d in m.get(GOAL_INTERVAL_S, [])]
    all_delays = {f"{iv}s": percentiles([d for m in exits.values() for d in m.get(iv, [])])
                  for iv in sorted({iv for m in exits.values() for iv in m})}
    total_missed = sum(len(v) for m in missed.values() for v in m.values())
    p95 = percentiles(at_goal)["p95"]
    return {
        "false_alarms": kinds,
        "false_alarm_causes": {k: dict(sorted(v.items())) for k, v in sorted(causes.items())},
        "other_alerts_on_stayers": dict(sorted(other.items())),
        "exits": {"by_mode": delays, "delay_s": all_delays, "missed": total_missed},
        "statuses": {k: {"sent": v[0], "raised": v[1], "alert": v[2]}
                     for k, v in statuses.items()},
        "buffered_excursion": {
            "sent": buffered["buffered"][0] + buffered["buffered_twice"][0],
            "raised": buffered["buffered"][1] + buffered["buffered_twice"][1],
            "raised_with_late_flag": late_flag,
            "uploaded_twice": buffered["buffered_twice"][0],
            "uploaded_twice_raised_more_than_once": buffered["buffered_twice"][2],
        },
        "goal": {
            "false_alarms_under_1_per_10k_every_kind": all(
                k["all"]["false_alarms"] / k["all"]["person_days"] * 1e4 < GOAL_FALSE_PER_10K
                for k in kinds.values() if k["all"]["person_days"]),
            "no_missed_exit": total_missed == 0,
            "p95_delay_at_60s_within_180s": p95 is not None and p95 <= GOAL_P95_DELAY_S,
        },
    }
