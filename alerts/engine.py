"""The detection engine: a batch of events plus state in, state plus alert updates out.

    engine = Engine(bundle)                 # compiles zones, persons, permits
    state = engine.new_state()
    updates = engine.process(state, batch, now_ms)   # state is updated in place

`process` does no I/O and reads no clock: event time drives every rule, and `now_ms` (the
runtime's wall clock) only stamps `detected_at` on new alerts. The same events in the same
order give the same updates, ids included, however they are cut into batches. The embedded
service, `lookout replay` and the Kafka workers all call this one method.

`updates` are `AlertUpdate`s in emission order (alerts/records.py: epoch-ms times;
`to_wire()` is the SPEC §4 record). `engine.stats` counts what the batch
did (accepted, duplicate, out_of_order per world) for the runtimes' summaries and metrics.

Officers' actions enter through `act(state, action, now_ms)` (SPEC §4: the engine is the only
writer of an alert). The live service reports an outage of the whole feed with
`feed_down(state, at_ms, now_ms)` and its end with `feed_up(...)`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from alerts import events as ev
from alerts import facts as facts_mod
from alerts.actions import ActionError, apply_action
from alerts.caseload import Caseload
from alerts.kinds import FEED_DOWN
from alerts.records import AlertUpdate, update_record
from alerts.rules import PartRunner, escalate_due
from alerts.state import NEVER, EngineState, PartState
from config.model import Bundle
from config.persons import PersonRows
from geofences.zones import CompiledZones

__all__ = ["ActionError", "Engine"]


class Engine:
    def __init__(self, bundle: Bundle, force_slow: bool = False,
                 zones: CompiledZones | None = None):
        self.caseload = Caseload(bundle, zones)
        # Every person down the rule-by-rule path: the reference the fast path is tested against.
        self.force_slow = force_slow
        self.stats: Counter = Counter()

    @property
    def person_index(self) -> PersonRows:
        return self.caseload.index

    def new_state(self) -> EngineState:
        cl = self.caseload
        return EngineState(
            PartState(cl.person_ids, drill=False, reopen_window_ms=cl.reopen_window_ms),
            PartState(cl.person_ids, drill=True, reopen_window_ms=cl.reopen_window_ms),
        )

    def reload(self, bundle: Bundle, state: EngineState) -> None:
        """Swap in new reference data without losing anyone's state (by person_id)."""
        self.caseload = Caseload(bundle)
        ids = self.caseload.person_ids
        for part in (state.real, state.drill):
            keep = part.remap(ids, clock_start_for_new=not part.drill)
            if part.writes is not None:  # rows moved: the ones noted before mean nothing now
                part.writes = [np.arange(part.n_persons)]
            if part.started and not part.drill:
                # a person enrolled now is tracked from now: 漏管 starts counting at once
                new = ~keep
                part.tracked_since[new] = part.clock
                part.arm_silence(new, part.clock + self.caseload.timeout_ms[new])

    def process(self, state: EngineState, batch: ev.EventBatch, now_ms: int) -> list[AlertUpdate]:
        results = self._drill_escalations(state.drill, now_ms)
        if len(batch) == 0:
            return [rec for _, _, rec in results]
        drill = batch.drill
        for is_drill in (False, True):
            rows = np.flatnonzero(drill == is_drill)
            if rows.size:
                sub = batch if rows.size == len(batch) else batch.take(rows)
                results.extend(self._process_part(state.part(is_drill), sub, now_ms))
        results.sort(key=lambda x: (x[0], x[1]))  # stable: keeps each world's own order
        return [rec for _, _, rec in results]

    def _process_part(self, st: PartState, b: ev.EventBatch, now_ms: int):
        cl = self.caseload
        st.own_columns()
        if not st.started:
            self._start_clock(st, int(b.ts[0]))
        f = facts_mod.compute(st, cl, b, force_slow=self.force_slow)
        prefix = "drill_" if st.drill else ""
        self.stats[prefix + "accepted"] += int(f.accepted.sum())
        self.stats[prefix + "duplicate"] += int(f.duplicate.sum())
        self.stats[prefix + "out_of_order"] += int(f.out_of_order.sum())

        # the rules write only the slow persons, the quiet update only the batch's persons
        st.note_writes(f.slow)
        st.note_writes(b.person[b.person >= 0])
        _remember_signatures(st, cl.index, b, f)
        out = PartRunner(st, cl, b, f, now_ms).run()
        self._quiet_update(st, b, f)
        st.clock = max(st.clock, int(b.ts.max()))
        st.threshold = int(f.threshold[-1])
        st.batches += 1
        if st.batches % 64 == 0:
            self._prune(st)
        return [(seq, phase, update_record(inc, cl, st.drill)) for seq, phase, inc in out]

    def _start_clock(self, st: PartState, t0: int) -> None:
        st.started = True
        st.clock = t0
        st.threshold = t0
        if not st.drill:  # in a drill only persons the drill has sent are watched
            st.tracked_since[:] = t0
            st.arm_silence(slice(None), t0 + self.caseload.timeout_ms)
            st.note_writes(np.arange(st.n_persons))

    def _quiet_update(self, st: PartState, b: ev.EventBatch, f) -> None:
        """Quiet persons only move their last-seen columns; nothing else can change."""
        slow = np.zeros(st.n_persons, dtype=bool)
        slow[f.slow] = True
        for mask in (f.accepted, f.good_fix):
            # rows sorted by person; a person's applied rows rise in ts, so the last one wins
            rows = f.by_person[mask[f.by_person]]
            if rows.size == 0:
                continue
            p = b.person[rows]
            last = np.ones(rows.size, dtype=bool)
            last[:-1] = p[1:] != p[:-1]
            last &= ~slow[p]
            rows, p = rows[last], p[last]
            if mask is f.accepted:
                st.latest_ts[p] = b.ts[rows]
                st.arm_silence(p, b.ts[rows] + self.caseload.timeout_ms[p])
            else:
                st.last_fix_ts[p] = b.ts[rows]
                st.last_lon[p] = b.lon[rows]
                st.last_lat[p] = b.lat[rows]
                st.last_acc[p] = b.accuracy_m[rows]

    def _drill_escalations(self, st: PartState, now_ms: int):
        """A drill's escalations count wall-clock seconds (SPEC §4), checked at every call."""
        due = st.esc_due_before(now_ms + 1)
        if due.size:
            st.own_columns()
        st.note_writes(due)
        out = []
        for p in due.tolist():
            for inc in escalate_due(st, self.caseload, p, now_ms):
                out.append((-1, 0, update_record(inc, self.caseload, True)))
        return out

    # -- officers' actions and the feed's health -------------------------------------------------
    def act(self, state: EngineState, action: dict, now_ms: int) -> list[AlertUpdate]:
        """Acknowledge or resolve an alert. Raises ActionError (with .reason) on a bad action;
        repeating an action that already took effect changes nothing and returns []."""
        inc, drill = None, False
        alert_id = action.get("alert_id") if isinstance(action, dict) else None
        for part in (state.real, state.drill):
            inc = part.book.by_alert_id(alert_id) if isinstance(alert_id, str) else None
            if inc is not None:
                drill = part.drill
                break
        part = state.part(drill)
        part.own_columns()
        changed = apply_action(part, self.caseload, inc, action)
        if not changed or inc is None:  # an unknown alert raised ActionError already
            return []
        p = self.caseload.index.get(inc.person_id)
        if p is not None:
            part.refresh_escalation(inc.person_id, p)
            part.note_writes([p])
        return [update_record(inc, self.caseload, drill)]

    def feed_down(self, state: EngineState, at_ms: int, now_ms: int) -> list[AlertUpdate]:
        """No events at all for feed_silence_s: one alert for operators, and per-person silence
        stops counting, so a gateway outage is one incident and not thousands."""
        st = state.real
        if st.feed_down_since is not None:
            return []
        st.feed_down_since = at_ms
        inc = st.book.qualify(("", FEED_DOWN, ""), at_ms, at_ms, 1, "critical", None, now_ms)
        if inc.version == 1:
            inc.add_route([self.caseload.router.operator_route(at_ms)])
        return [update_record(inc, self.caseload, False)]

    def feed_up(self, state: EngineState, at_ms: int, now_ms: int) -> list[AlertUpdate]:
        st = state.real
        if st.feed_down_since is None:
            return []
        st.own_columns()
        armed = st.silence_due != NEVER
        st.silence_due[armed] += max(0, at_ms - st.feed_down_since)
        st.note_writes(np.flatnonzero(armed))
        st.feed_down_since = None
        inc = st.book.clear(("", FEED_DOWN, ""), at_ms)
        return [update_record(inc, self.caseload, False)] if inc is not None else []

    def _prune(self, st: PartState) -> None:
        index = self.caseload.index
        threshold = st.threshold
        for pid in list(st.extras):
            # a buffered track ends with anything on time after it: it can never continue
            extras = st.extras[pid]
            track = extras.get("track")
            p = index.get(pid)
            if track is not None and (p is None or track["anchor"] != int(st.latest_ts[p])):
                del extras["track"]
            if not extras:
                del st.extras[pid]

        def earliest_next_event(person_id: str) -> int:
            p = index.get(person_id)
            latest = int(st.latest_ts[p]) + 1 if p is not None else threshold
            return min(latest, threshold)

        st.book.prune(earliest_next_event)


def _remember_signatures(st: PartState, index: PersonRows, b: ev.EventBatch, f) -> None:
    """Keep the signatures of each person's events at their newest ts, so that an exact repeat
    arriving in a later batch is still a duplicate. Ties are rare: they go one by one."""
    rows = f.by_person[f.accepted[f.by_person]]
    if rows.size == 0:
        return
    p, t, sig = b.person[rows], b.ts[rows], f.sig[rows]
    last = np.ones(rows.size, dtype=bool)
    last[:-1] = p[1:] != p[:-1]
    tied = np.zeros(rows.size, dtype=bool)
    tied[1:] = (p[1:] == p[:-1]) & (t[1:] == t[:-1])
    lp, lt = p[last], t[last]
    old_ts = st.latest_ts[lp].copy()  # not yet moved: the rules and quiet update run after
    old_sig = st.latest_sig[lp].copy()
    st.latest_sig[lp] = sig[last]
    carried = lt == old_ts
    for i in np.flatnonzero(tied[last] | carried).tolist():
        person, final = int(lp[i]), int(lt[i])
        sigs = set(sig[(p == person) & (t == final)].tolist())
        pid = st.person_ids[person]
        if carried[i]:
            sigs.add(int(old_sig[i]))
            sigs.update(st.extras.get(pid, {}).get("tie", ()))
        st.extras.setdefault(pid, {})["tie"] = sorted(sigs)
    # the few persons holding ties, not every person of the batch: a tie ends when the
    # person's newest ts moves on without one
    holders = [pid for pid, extras in st.extras.items() if "tie" in extras]
    if holders:
        rows = np.fromiter((index.get(pid, -1) for pid in holders), dtype=np.int64,
                           count=len(holders))
        for k in np.flatnonzero(np.isin(rows, lp[~(tied[last] | carried)])).tolist():
            extras = st.extras[holders[k]]
            del extras["tie"]
            if not extras:
                del st.extras[holders[k]]
