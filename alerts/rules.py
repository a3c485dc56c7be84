"""The detection rules of SPEC §3, applied one event at a time to the persons that need them.

This is the reference behaviour: the vectorised quiet path in alerts/facts.py only skips
persons for whom these rules would provably do nothing. Timers (silence, schedule changes,
permit windows) live in one heap and fire, in due order, before the first row whose
threshold passes them.
"""

from __future__ import annotations

import heapq

import numpy as np

from alerts import events as ev
from alerts import kinds as k
from alerts.caseload import Caseload
from alerts.facts import Facts
from alerts.incidents import Incident
from alerts.state import NEVER, NO_TIME, PartState
from geofences.zones import BAND, INSIDE, OUT

# timer kinds, in the order they fire when due at the same instant
ZONE_OFF, PERMIT_START, ZONE_ON, PERMIT_END, SILENCE, ESCALATE = range(6)


class PartRunner:
    """Runs the rules for the slow persons of one part (real or drill) over one batch."""

    def __init__(self, st: PartState, cl: Caseload, b: ev.EventBatch, facts: Facts, now_ms: int):
        self.st, self.cl, self.b, self.f, self.now = st, cl, b, facts, now_ms
        self.out: list[tuple[int, int, Incident]] = []  # (seq, phase, incident snapshot)
        self.f_end = int(facts.threshold[-1])
        self.heap: list[tuple] = []
        # the stream position after the last row applied: a timer a late row armed, due
        # before that row's threshold, still fires after the row that armed it
        self.floor = -1
        self.slow = np.zeros(st.n_persons, dtype=bool)
        self.slow[facts.slow] = True

    # -- driving ---------------------------------------------------------------------------
    def run(self) -> list[tuple[int, int, Incident]]:
        self._arm_timers()
        F = self.f.threshold
        b = self.b
        f = self.f
        rows = np.flatnonzero((b.kind != ev.TICK) & (f.accepted | f.late_fix | f.late_tamper))
        rows = rows[self.slow[b.person[rows]]]
        for r in rows.tolist():
            self._fire(int(F[r]))
            if f.accepted[r]:
                self._apply(r)
            else:
                self._apply_late(r)
            self.floor = int(b.seq[r]) + 1
        self._fire(self.f_end)
        for p in self.f.slow.tolist():
            pid = self.st.person_ids[p]
            self.st.calm[p] = not (self.st.book.person_has_active(pid) or self.st.counters.get(pid)
                                   or "suspect" in self.st.extras.get(pid, ()))
        return self.out

    def _arm_timers(self) -> None:
        st, cl, f_prev = self.st, self.cl, self.st.threshold
        for p in self.f.slow.tolist():
            due = int(st.silence_due[p])
            if due < self.f_end:
                heapq.heappush(self.heap, (due, p, SILENCE, -1))
            due = int(st.esc_due[p])
            if due < self.f_end and not st.drill:
                heapq.heappush(self.heap, (due, p, ESCALATE, -1))
            for pm in cl.permits.get(p, ()):
                if f_prev <= pm.start < self.f_end:
                    heapq.heappush(self.heap, (pm.start, p, PERMIT_START, id_of(cl, p, pm)))
                if f_prev <= pm.end < self.f_end:
                    heapq.heappush(self.heap, (pm.end, p, PERMIT_END, id_of(cl, p, pm)))
        if self.f.transitions:
            for t, z, on in self.f.transitions:
                for p in cl.assignment.persons_with_zone(z).tolist():
                    if self.slow[p]:
                        heapq.heappush(self.heap, (t, p, ZONE_ON if on else ZONE_OFF, z))

    def _fire(self, threshold: int) -> None:
        heap = self.heap
        while heap and heap[0][0] < threshold:
            due, p, kind, arg = heapq.heappop(heap)
            seq = self._seq_at(due)
            if kind == SILENCE:
                if self.st.silence_due[p] == due and self.st.feed_down_since is None:
                    self._silence(p, due, seq)
            elif kind == ESCALATE:
                current = int(self.st.esc_due[p])
                if current == due:
                    for inc in escalate_due(self.st, self.cl, p, due):
                        self._emit(inc, seq, 0)
                    current = int(self.st.esc_due[p])  # the person's next alert in line
                # an entry goes stale when an alert clears or escalates; keep the next one due
                if due < current < self.f_end:
                    heapq.heappush(heap, (current, p, ESCALATE, -1))
            elif kind in (ZONE_ON, PERMIT_END):
                zones = [arg] if kind == ZONE_ON else sorted(self.cl.permits[p][arg].zones)
                for z in zones:
                    if self._zone_on(p, z, due):
                        self._activation_check(p, z, due, seq)
            else:
                zones = [arg] if kind == ZONE_OFF else sorted(self.cl.permits[p][arg].zones)
                for z in zones:
                    self._deactivate(p, z, due, seq)

    def _seq_at(self, due: int) -> int:
        """The stream position before which a timer due at `due` fires, never before a row
        already applied."""
        i = int(np.searchsorted(self.f.threshold, due, side="right"))
        return max(int(self.b.seq[min(i, len(self.b) - 1)]), self.floor)

    # -- emitting --------------------------------------------------------------------------
    def _emit(self, inc: Incident | None, seq: int, phase: int) -> None:
        if inc is not None:
            self.out.append((seq, phase, Incident.from_state(inc.to_state())))

    def _location(self, p: int):
        st = self.st
        if st.last_fix_ts[p] == NO_TIME:
            return None
        return (float(st.last_lon[p]), float(st.last_lat[p]), float(st.last_acc[p]))

    def _qualify(self, p, alert_type, zone, first_at, at, count, seq, phase, location=None,
                 late_at: int | None = None) -> Incident:
        """`late_at`: raised from late data, routed at that moment of the engine's clock."""
        pid = self.st.person_ids[p]
        zid = self.cl.zone_ids[zone] if zone >= 0 else ""
        severity = self.cl.zone_severity(zone) if zone >= 0 else k.DEFAULT_SEVERITY[alert_type]
        key = (pid, alert_type, zid)
        was_active = self.st.book.is_active(key)
        inc = self.st.book.qualify(
            key, first_at, at, count, severity,
            location if location is not None else self._location(p), self.now,
        )
        if not was_active:
            inc.late = late_at is not None
        if inc.version == 1:
            self._route_new(p, inc, at if late_at is None else late_at)
        self._emit(inc, seq, phase)
        return inc

    def _route_new(self, p: int, inc: Incident, at: int) -> None:
        cl, st = self.cl, self.st
        steps = cl.router.first_route(cl.officer_ids[p], cl.office_ids[p], at)
        inc.add_route(steps)
        after = cl.router.escalate_after_ms[inc.severity]
        # a drill escalates on the wall clock: officers answer in real time at any drill speed
        inc.escalate_due = (self.now if st.drill else at) + after
        st.lower_esc_due(p, inc.escalate_due)
        if not st.drill:
            if inc.escalate_due < self.f_end:
                heapq.heappush(self.heap, (inc.escalate_due, p, ESCALATE, -1))

    def _clear(self, p, alert_type, zone, at, seq, phase) -> None:
        zid = self.cl.zone_ids[zone] if zone >= 0 else ""
        inc = self.st.book.clear((self.st.person_ids[p], alert_type, zid), at)
        if inc is not None and inc.escalate_due is not None:
            # nobody is escalated over a condition that has already ended by itself
            inc.escalate_due = None
            self.st.refresh_escalation(inc.person_id, p)
        self._emit(inc, seq, phase)

    # -- timers ----------------------------------------------------------------------------
    def _silence(self, p: int, due: int, seq: int) -> None:
        self.st.silence_due[p] = NEVER
        self._qualify(p, k.SIGNAL_LOST, -1, due, due, 1, seq, 0)

    def _zone_on(self, p: int, z: int, t: int) -> bool:
        sched_on = bool(self.cl.zones.schedules[z].active_at(np.array([t], dtype=np.int64))[0])
        return sched_on and not self.cl.suspended(p, z, t)

    def _activation_check(self, p: int, z: int, t: int, seq: int) -> None:
        """A zone starts to apply: a recent last fix taken before that counts once, at t."""
        st, cl = self.st, self.cl
        last = int(st.last_fix_ts[p])
        if last == NO_TIME or last >= t or last <= t - int(cl.timeout_ms[p]):
            return
        rel = cl.zones.relate_one(z, float(st.last_lon[p]), float(st.last_lat[p]),
                                  float(st.last_acc[p]))
        suspect = "suspect" in st.extras.get(st.person_ids[p], ())
        self._zone_fix(p, z, rel, t, seq, 0, suspect=suspect)

    def _deactivate(self, p: int, z: int, t: int, seq: int) -> None:
        pid = self.st.person_ids[p]
        counts = self.st.counters.get(pid)
        if counts:
            counts.pop(self.cl.zone_ids[z], None)
            if not counts:
                del self.st.counters[pid]
        alert_type = k.ZONE_EXIT if self.cl.inclusion[z] else k.ZONE_ENTER
        self._clear(p, alert_type, z, t, seq, 0)

    # -- events ----------------------------------------------------------------------------
    def _apply(self, r: int) -> None:
        b, st, cl = self.b, self.st, self.cl
        p, t, seq = int(b.person[r]), int(b.ts[r]), int(b.seq[r])
        kind, status = int(b.kind[r]), int(b.status[r])
        self._clear(p, k.SIGNAL_LOST, -1, t, seq, 1)
        if kind == ev.STATUS and status == ev.POWER_OFF:
            self._qualify(p, k.DEVICE_OFF, -1, t, t, 1, seq, 1)
        else:
            off = st.book.get((st.person_ids[p], k.DEVICE_OFF, ""))
            if off is not None and off.last_event_at < t:  # a later event, not the same second
                self._clear(p, k.DEVICE_OFF, -1, t, seq, 1)
        st.latest_ts[p] = t
        battery = float(b.battery_pct[r])
        if battery == battery:  # not NaN
            if battery <= cl.low_battery:
                self._qualify(p, k.LOW_BATTERY, -1, t, t, 1, seq, 1)
            elif battery >= cl.battery_ok:
                self._clear(p, k.LOW_BATTERY, -1, t, seq, 1)
        if kind == ev.FIX:
            self._clear(p, k.LOCATION_DISABLED, -1, t, seq, 1)
            if self.f.good_fix[r]:
                self._fix(r, p, t, seq)
        else:
            self._status(p, status, t, seq)
        pid = st.person_ids[p]
        if st.book.is_active((pid, k.DEVICE_OFF, "")):
            st.silence_due[p] = NEVER
        else:
            due = t + int(cl.timeout_ms[p])
            st.arm_silence(p, due)
            if due < self.f_end:
                heapq.heappush(self.heap, (due, p, SILENCE, -1))

    def _status(self, p: int, status: int, t: int, seq: int) -> None:
        if status == ev.LOW_BATTERY:
            self._qualify(p, k.LOW_BATTERY, -1, t, t, 1, seq, 1)
        elif status == ev.TAMPER:
            self._qualify(p, k.TAMPER, -1, t, t, 1, seq, 1)
        elif status == ev.LOCATION_DISABLED:
            self._qualify(p, k.LOCATION_DISABLED, -1, t, t, 1, seq, 1)
        elif status == ev.LOCATION_ENABLED:
            self._clear(p, k.LOCATION_DISABLED, -1, t, seq, 1)

    def _fix(self, r: int, p: int, t: int, seq: int) -> None:
        b, st, f = self.b, self.st, self.f
        loc = (float(b.lon[r]), float(b.lat[r]), float(b.accuracy_m[r]))
        st.last_fix_ts[p] = t
        st.last_lon[p], st.last_lat[p], st.last_acc[p] = loc
        if f.jump[r]:
            self._qualify(p, k.LOCATION_JUMP, -1, t, t, 1, seq, 1)
        suspect = self._suspect(p, r, t)
        lo, hi = int(f.pair_ptr[r]), int(f.pair_ptr[r + 1])
        seen_exclusion = set()
        for i in range(lo, hi):
            z = int(f.pair_zone[i])
            if not self.cl.inclusion[z]:
                seen_exclusion.add(z)
            if f.pair_active[i] and not self.cl.suspended(p, z, t):
                self._zone_fix(p, z, int(f.pair_rel[i]), t, seq, 1, loc, suspect)
        # exclusion zones the spatial index did not return are far away: OUT
        pid = st.person_ids[p]
        pending = set(st.counters.get(pid, {}))
        pending.update(key[2] for key in st.book.active_keys_of(pid) if key[1] == k.ZONE_ENTER)
        for zid in sorted(pending):
            z = self.cl.zones.index[zid]
            if z not in seen_exclusion and not self.cl.inclusion[z]:
                if bool(self.cl.zones.schedules[z].active_at(np.array([t]))[0]):
                    self._zone_fix(p, z, OUT, t, seq, 1, loc)

    def _suspect(self, p: int, r: int, t: int) -> bool:
        """Whether this fix is suspect (docs/detection.md): a leap starts an episode; a sharp
        fix that leaps back, two sharp fixes in a row, or suspect_max_s end it."""
        st, cl = self.st, self.cl
        pid = st.person_ids[p]
        if self.f.leap[r] or (self.f.leap_any[r] and (
                st.counters.get(pid) or st.book.person_has_active(pid))):
            st.extras.setdefault(pid, {})["suspect"] = [t, 0]
            return True
        extras = st.extras.get(pid)
        episode = extras.get("suspect") if extras else None
        if extras is None or episode is None:
            return False
        sharp = float(self.b.accuracy_m[r]) <= cl.sharp_m
        if t - episode[0] <= cl.suspect_max_ms and not (sharp and self.f.apart[r]):
            episode[1] = episode[1] + 1 if sharp else 0
            if episode[1] < 2:
                return True
        del extras["suspect"]
        if not extras:
            del st.extras[pid]
        return False

    def _zone_fix(self, p, z, rel, t, seq, phase, loc=None, suspect=False) -> None:
        """One fix (or an activation check) against one active zone: the decision table."""
        cl, st = self.cl, self.st
        if rel == BAND:
            return  # hysteresis: between inside and clearly outside nothing changes
        pid, zid = st.person_ids[p], cl.zone_ids[z]
        inclusion = bool(cl.inclusion[z])
        alert_type = k.ZONE_EXIT if inclusion else k.ZONE_ENTER
        qualifies = rel == (OUT if inclusion else INSIDE)
        active = st.book.is_active((pid, alert_type, zid))
        counts = st.counters.get(pid)
        run = _padded(counts.get(zid)) if counts else None
        if suspect and not inclusion:
            suspect = False  # an exclusion zone (a victim's) is never kept waiting
        if not qualifies:
            if suspect:
                return  # a suspect inside fix neither resets a run nor clears an exit
            if active:
                run = run or st.counters.setdefault(pid, {}).setdefault(zid, _new_run(t))
                run[RUN_CLEARING] += 1
                if run[RUN_CLEARING] < int(cl.clear_fixes[z]):
                    return
            self._drop_run(pid, zid)
            if active:
                self._clear(p, alert_type, z, t, seq, phase)
            return
        if run is None:
            run = st.counters.setdefault(pid, {}).setdefault(zid, _new_run(t))
        run[RUN_CLEARING] = 0
        if active:
            self._qualify(p, alert_type, z, run[RUN_FIRST], t, 1, seq, phase, loc)
            return
        run[RUN_COUNT] += 1
        run[RUN_TRUSTED] += 0 if suspect else 1
        if confirmed(cl, z, run, t):
            self._qualify(p, alert_type, z, run[RUN_FIRST], t, run[RUN_COUNT], seq, phase, loc)

    def _drop_run(self, pid: str, zid: str) -> None:
        counts = self.st.counters.get(pid)
        if counts and counts.pop(zid, None) is not None and not counts:
            del self.st.counters[pid]

    # -- late data (SPEC §3: evidence, never current state) -----------------------------------
    def _apply_late(self, r: int) -> None:
        b, st = self.b, self.st
        p, t, seq = int(b.person[r]), int(b.ts[r]), int(b.seq[r])
        clock = int(self.f.threshold[r])
        if self.f.late_tamper[r]:
            self._raise_late(p, k.TAMPER, -1, t, t, 1, seq, None, clock)
            return
        pid = st.person_ids[p]
        extras = st.extras.setdefault(pid, {})
        track = extras.get("track")
        anchor = int(st.latest_ts[p])
        if track is not None and track["anchor"] == anchor and t == track["last"]:
            return  # a second fix in the same second of a buffered track adds nothing
        if track is None or track["anchor"] != anchor or t < track["last"]:
            # consecutive late fixes form one track; anything on time in between ends it
            track = extras["track"] = {"anchor": anchor, "last": t, "zones": {}}
        track["last"] = t
        loc = (float(b.lon[r]), float(b.lat[r]), float(b.accuracy_m[r]))
        f, cl = self.f, self.cl
        seen = set()
        for i in range(int(f.pair_ptr[r]), int(f.pair_ptr[r + 1])):
            z = int(f.pair_zone[i])
            seen.add(z)
            if f.pair_active[i] and not cl.suspended(p, z, t):
                self._track_fix(p, z, int(f.pair_rel[i]), t, seq, track, loc, clock)
        for zid in sorted(track["zones"]):
            tracked = cl.zones.index.get(zid)
            if tracked is not None and tracked not in seen and not cl.inclusion[tracked] and \
                    bool(cl.zones.schedules[tracked].active_at(np.array([t]))[0]):
                self._track_fix(p, tracked, OUT, t, seq, track, loc, clock)

    def _track_fix(self, p, z, rel, t, seq, track, loc, clock) -> None:
        """The decision table of _zone_fix, for a buffered track: it raises once per run and
        clears nothing but its own run."""
        if rel == BAND:
            return
        cl = self.cl
        zid = cl.zone_ids[z]
        inclusion = bool(cl.inclusion[z])
        runs = track["zones"]
        run = runs.get(zid)
        if rel != (OUT if inclusion else INSIDE):
            if run is not None and run[RUN_RAISED]:
                run[RUN_CLEARING] += 1
                if run[RUN_CLEARING] < int(cl.clear_fixes[z]):
                    return
            runs.pop(zid, None)
            return
        if run is None:
            run = runs[zid] = _new_run(t)
        run[RUN_CLEARING] = 0
        if run[RUN_RAISED]:
            return
        run[RUN_COUNT] += 1
        run[RUN_TRUSTED] += 1
        if confirmed(cl, z, run, t):
            run[RUN_RAISED] = 1
            alert_type = k.ZONE_EXIT if inclusion else k.ZONE_ENTER
            self._raise_late(p, alert_type, z, run[RUN_FIRST], t, run[RUN_COUNT], seq, loc,
                             clock)

    def _raise_late(self, p, alert_type, z, first_at, t, count, seq, loc, clock) -> None:
        """An alert from late data: raised unless an alert of its key already covers it or the
        same late run raised it before; cleared at once unless the person is in breach now."""
        st, cl = self.st, self.cl
        pid = st.person_ids[p]
        zid = cl.zone_ids[z] if z >= 0 else ""
        key = (pid, alert_type, zid)
        inc = st.book.get(key)
        if inc is not None and (inc.active or (
                inc.cleared_at is not None
                and inc.opened_at - st.book.reopen_window_ms <= first_at <= inc.cleared_at)):
            return
        raised = st.extras.setdefault(pid, {}).setdefault("raised", {})
        seen = raised.setdefault(f"{alert_type}|{zid}", [])
        if first_at in seen:
            return
        seen.append(first_at)
        inc = self._qualify(p, alert_type, z, first_at, t, count, seq, 1, loc, late_at=clock)
        if alert_type == k.TAMPER:
            return  # only an officer's resolution ends a tamper
        run = st.counters.get(pid, {}).get(zid)
        if not (run and run[RUN_COUNT]):  # no pending run on time: not in breach now
            self._clear(p, alert_type, z, max(t, int(st.latest_ts[p])), seq, 1)


# a zone run: [qualifying fixes, ts of the first, clearing fixes in a row, raised (late tracks),
# qualifying fixes that were not suspect]
RUN_COUNT, RUN_FIRST, RUN_CLEARING, RUN_RAISED, RUN_TRUSTED = range(5)


def _new_run(t: int) -> list:
    return [0, t, 0, 0, 0]


def _padded(run: list | None) -> list | None:
    """A run saved before it had all its fields (older snapshots): what it had counted stands."""
    if run is not None and len(run) < 5:
        run.extend([0, 0, 0, run[RUN_COUNT]][len(run) - 1:])
    return run


def confirmed(cl: Caseload, z: int, run: list, t: int) -> bool:
    """Enough qualifying fixes, spanning enough time from the first to this one (SPEC §3), at
    least two of them (or all, for a zone that confirms on fewer) not suspect."""
    need = int(cl.confirm_fixes[z])
    return (run[RUN_COUNT] >= need and t - run[RUN_FIRST] >= int(cl.confirm_ms[z])
            and run[RUN_TRUSTED] >= min(2, need))


def id_of(cl: Caseload, p: int, pm) -> int:
    return cl.permits[p].index(pm)


def escalate_due(st: PartState, cl: Caseload, p: int, threshold: int) -> list[Incident]:
    """Escalate every alert of person p whose escalation is due at or before `threshold`."""
    pid = st.person_ids[p]
    out = []
    for key in sorted(st.book.keys_by_person.get(pid, ())):
        inc = st.book.by_key[key]
        if inc.escalate_due is None or inc.escalate_due > threshold:
            continue
        steps = cl.router.escalation_route(cl.officer_ids[p], cl.office_ids[p],
                                           inc.escalate_due)
        inc.escalate_due = None
        inc.escalated = True
        if steps:
            inc.add_route(steps)
        inc.version += 1
        out.append(inc)
    st.refresh_escalation(pid, p)
    return out
