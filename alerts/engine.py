"""The detection engine: a batch of events plus state in, state plus alert updates out.

    engine = Engine(bundle)                 # compiles zones, persons, permits
    state = engine.new_state()
    updates = engine.process(state, batch, now_ms)   # state is updated in place

`process` does no I/O and reads no clock: event time drives every rule, and `now_ms` (the
runtime's wall clock) only stamps `detected_at` on new alerts. The same events in the same
order give the same updates, ids included, however they are cut into batches. The embedded
service, `lookout replay` and the Kafka workers all call this one method.

`updates` are SPEC §4 alert records in emission order. `engine.stats` counts what the batch
did (accepted, duplicate, out_of_order per world) for the runtimes' summaries and metrics.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from alerts import facts as facts_mod
from alerts.caseload import Caseload
from alerts.records import update_record
from alerts.rules import PartRunner
from alerts.state import EngineState, PartState
from config.model import Bundle
from stream import events as ev


class Engine:
    def __init__(self, bundle: Bundle, force_slow: bool = False):
        self.caseload = Caseload(bundle)
        # Every person down the rule-by-rule path: the reference the fast path is tested against.
        self.force_slow = force_slow
        self.stats: Counter = Counter()

    @property
    def person_index(self) -> dict[str, int]:
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
            if part.started and not part.drill:
                # a person enrolled now is tracked from now: 漏管 starts counting at once
                new = ~keep
                part.tracked_since[new] = part.clock
                part.silence_due[new] = part.clock + self.caseload.timeout_ms[new]

    def process(self, state: EngineState, batch: ev.EventBatch, now_ms: int) -> list[dict]:
        if len(batch) == 0:
            return []
        drill = batch.drill
        results = []
        for is_drill in (False, True):
            rows = np.flatnonzero(drill == is_drill)
            if rows.size:
                sub = batch if rows.size == len(batch) else batch.take(rows)
                results.extend(self._process_part(state.part(is_drill), sub, now_ms))
        results.sort(key=lambda x: (x[0], x[1]))  # stable: keeps each world's own order
        return [rec for _, _, rec in results]

    def _process_part(self, st: PartState, b: ev.EventBatch, now_ms: int):
        cl = self.caseload
        if not st.started:
            self._start_clock(st, int(b.ts[0]))
        f = facts_mod.compute(st, cl, b, force_slow=self.force_slow)
        prefix = "drill_" if st.drill else ""
        self.stats[prefix + "accepted"] += int(f.accepted.sum())
        self.stats[prefix + "duplicate"] += int(f.duplicate.sum())
        self.stats[prefix + "out_of_order"] += int(f.out_of_order.sum())

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
            st.silence_due[:] = t0 + self.caseload.timeout_ms

    def _quiet_update(self, st: PartState, b: ev.EventBatch, f) -> None:
        """Quiet persons only move their last-seen columns; nothing else can change."""
        slow = np.zeros(st.n_persons, dtype=bool)
        slow[f.slow] = True
        rows = np.flatnonzero(f.accepted)
        rows = rows[~slow[b.person[rows]]]
        if rows.size == 0:
            return
        p = b.person[rows]
        np.maximum.at(st.latest_ts, p, b.ts[rows])
        st.silence_due[p] = st.latest_ts[p] + self.caseload.timeout_ms[p]
        g = rows[f.good_fix[rows]]
        if g.size:
            # the newest good fix per person: accepted rows of a person rise in ts
            pg = b.person[g]
            order = np.lexsort((b.ts[g], pg))
            last = order[np.r_[pg[order][1:] != pg[order][:-1], True]]
            gl = g[last]
            pl = b.person[gl]
            st.last_fix_ts[pl] = b.ts[gl]
            st.last_lon[pl] = b.lon[gl]
            st.last_lat[pl] = b.lat[gl]
            st.last_acc[pl] = b.accuracy_m[gl]

    def _prune(self, st: PartState) -> None:
        index = self.caseload.index
        threshold = st.threshold

        def earliest_next_event(person_id: str) -> int:
            p = index.get(person_id)
            latest = int(st.latest_ts[p]) + 1 if p is not None else threshold
            return min(latest, threshold)

        st.book.prune(earliest_next_event)
