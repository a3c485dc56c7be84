"""A demo day with officers at work: the simulator's feed through the real engine, with
acknowledgements and resolutions handed to the engine as officers would send them.

The store's write time of each version is kept as `version_times`, as the service would pass
it: the engine clock of the step that wrote it (the simulated wall clock), or the action's ts.
"""

from __future__ import annotations

import heapq
from pathlib import Path

import numpy as np
import orjson

from alerts.actions import ActionError
from alerts.engine import Engine
from alerts.summary.history import named_instants
from config.loader import load_bundle, parse_ts_ms
from stream import events as ev
from stream.decode import Decoder
from stream.simulate import DEMO_START, simulate

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"
MIN = 60_000
DISPOSITIONS = ("false_alarm", "violation_confirmed", "authorized", "device_fault", "other")
WEIGHTS = (0.4, 0.25, 0.15, 0.15, 0.05)


class _OfficersAtWork:
    """Keeps every version the engine writes, and answers each new alert as officers would:
    some never, some resolved at once, most acknowledged and later resolved."""

    def __init__(self, engine: Engine, rng: np.random.Generator):
        self.engine, self.state, self.rng = engine, engine.new_state(), rng
        self.updates: list[dict] = []
        self.times: dict[tuple[str, int], int] = {}
        self.ack_by: dict[str, str] = {}
        self.due: list[tuple[int, int, dict]] = []  # (ts, order, action)

    def keep(self, recs, written=None):
        for r in (u.to_wire() for u in recs):  # the store's records
            self.updates.append(r)
            self.times[(r["alert_id"], r["version"])] = written or max(named_instants(r))
            if r["version"] == 1 and not r["drill"]:
                self.plan(r)

    def plan(self, r):
        rng = self.rng
        t0 = max(named_instants(r))
        x = rng.random()
        who = r["officer_id"]
        base = {"type": "action", "person_id": r["person_id"], "alert_id": r["alert_id"], "by": who}
        resolve = {**base, "action": "resolve", "note": "已核实 checked",
                   "disposition": str(rng.choice(DISPOSITIONS, p=WEIGHTS))}
        if x < 0.12:
            return  # nobody answers: it stays on the handover list
        ack_in = int(rng.lognormal(np.log(4), 1.2) * MIN)
        if x < 0.25:
            self.push(t0 + ack_in, resolve)
            return
        self.push(t0 + ack_in, {**base, "action": "acknowledge"})
        if rng.random() < 0.85:
            self.push(t0 + ack_in + int(rng.uniform(20, 120) * MIN), resolve)

    def push(self, ts, action):
        heapq.heappush(self.due, (ts, len(self.due) + len(self.updates), {**action, "ts": ts}))

    def act_until(self, t):
        while self.due and self.due[0][0] <= t:
            ts, _, action = heapq.heappop(self.due)
            try:
                recs = self.engine.act(self.state, action, ts)
            except ActionError:
                continue  # e.g. an alert already gone: an officer's click on a stale screen
            if recs and action["action"] == "acknowledge":
                self.ack_by[action["alert_id"]] = action["by"]
            self.keep(recs, written=ts)

    def process(self, batch, now):
        self.keep(self.engine.process(self.state, batch, now))


def demo_day(seed: int = 7, violations: int = 6, hours: float = 24.0):
    """(bundle, updates, version_times, ack_by, start_ms, end_ms); `ack_by` is who acknowledged
    each alert, as the store's action log would tell."""
    bundle = load_bundle(DEMO)
    start = parse_ts_ms(DEMO_START)
    end = start + int(hours * 3600_000)
    lines = [orjson.dumps(e) for e in simulate(DEMO, None, start, hours, 60.0, seed, violations)]
    engine = Engine(bundle)
    batch, rejects = Decoder(engine.person_index, bundle.settings).decode(lines, end + 86_400_000)
    assert not rejects
    office = _OfficersAtWork(engine, np.random.default_rng(seed))
    # minute by minute, so officers' actions land between the events around them
    order = np.argsort(batch.ts, kind="stable")
    minute = batch.ts[order] // MIN
    cuts = np.flatnonzero(np.diff(minute)) + 1
    for rows in np.split(order, cuts):
        part = batch.take(rows)
        office.act_until(int(part.ts.min()))
        office.process(part, int(part.ts.max()))
    last = int(batch.ts.max())
    for t in range(last - last % MIN + MIN, end + 1, MIN):
        office.act_until(t)
        office.process(ev.EventBatch.from_rows(
            [{"kind": ev.TICK, "ts": t, "drill": False, "seq": len(batch)}]), t)
    return bundle, office.updates, office.times, office.ack_by, start, end
