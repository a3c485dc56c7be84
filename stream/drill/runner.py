"""Running a planned drill: send at N× speed, note when each injection went out, wait for the
alerts (and the officers), and return the drill record.

Times: a drill's events carry event time (its own clock, which at N× runs ahead of the wall
clock); everything the scorecard judges is wall time, because officers answer in real time.
`injected_at` is when an incident's first event was sent, `due_at` when the event carrying its
decisive time was sent (see inject.py). Both are taken just before the send, so a latency
includes ingest.
"""

from __future__ import annotations

import sys
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field

from alerts.timefmt import wall_ms
from stream.drill.plan import DrillPlan
from stream.drill.score import match_incidents
from stream.drill.sources import Observed

SLICE_S = 0.05  # events due within this much wall time go in one send
POLL_S = 0.25


@dataclass
class SendLog:
    started_at: int = 0
    finished_at: int = 0
    sent: int = 0
    injected_at: dict[int, int] = field(default_factory=dict)
    due_at: dict[int, int] = field(default_factory=dict)


def send(plan: DrillPlan, sink, speed: float | None, say=None) -> SendLog:
    """Everything in the plan, paced on its event times; speed None sends as fast as it can."""
    events, lines = plan.events, plan.lines()
    ts = [e["ts"] for e in events]
    first = {id(inj.events[0]): inj.index for inj in plan.injections if inj.events}
    decisive = sorted((inj.decisive_ts, inj.index) for inj in plan.injections
                      if inj.decisive_ts is not None)
    log = SendLog(started_at=wall_ms())
    wall0, last_said = time.monotonic(), time.monotonic()
    i, d = 0, 0
    while i < len(events):
        elapsed = time.monotonic() - wall0
        if speed is None:
            j = min(len(events), i + 5000)
        else:
            horizon = plan.start_ms + (elapsed + SLICE_S) * speed * 1000
            j = bisect_right(ts, horizon, i)
            if j == i:
                wait = (ts[i] - plan.start_ms) / (speed * 1000) - elapsed - SLICE_S
                time.sleep(min(max(wait, 0.001), 0.5))
                continue
        sent_at = wall_ms()
        sink.send(lines[i:j])
        for k in range(i, j):
            idx = first.get(id(events[k]))
            if idx is not None:
                log.injected_at.setdefault(idx, sent_at)
        while d < len(decisive) and decisive[d][0] <= ts[j - 1]:
            log.due_at[decisive[d][1]] = sent_at
            d += 1
        log.sent, i = j, j
        if say is not None and time.monotonic() - last_said >= 5.0:
            last_said = time.monotonic()
            say(f"sent 已发送 {j}/{len(events)} events, drill time 演练时间 "
                f"+{(ts[j - 1] - plan.start_ms) / 1000:.0f} s")
    log.finished_at = wall_ms()
    return log


class Poller:
    """Polls a source in the background while the drill is sent and awaited."""

    def __init__(self, source, observed: Observed):
        self.source, self.observed = source, observed
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="drill-poller", daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.lock:
                    self.source.poll()
            except Exception as exc:  # reported once the drill is over
                self.error = exc
            self._stop.wait(POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        with self.lock:
            self.source.poll(full=True)


def wait(poller: Poller, record: dict, detect_timeout_s: float, ack_wait_s: float | None,
         say=None) -> None:
    """Until every incident the rules can raise is detected (or `detect_timeout_s` passes),
    then until each detected one is acknowledged or its acknowledgement target has passed
    (at most `ack_wait_s` more, when given)."""
    deadline = time.monotonic() + detect_timeout_s
    expected = {i["index"] for i in record["incidents"] if i["decisive_ts"] is not None}
    while time.monotonic() < deadline:
        if expected <= set(_matches(poller, record)):
            break
        time.sleep(POLL_S)
    matched = _matches(poller, record)
    missing = expected - set(matched)
    if say is not None:
        say(f"detected 已检出 {len(matched)}/{len(record['incidents'])} incidents"
            + (f"; still missing 未检出: {sorted(missing)}" if missing else ""))
    ack_until = 0.0
    for idx, m in matched.items():
        target = record["incidents"][idx]["targets"]["acknowledge_within_s"]
        if target is not None and m["detected_at"] is not None:
            ack_until = max(ack_until, m["detected_at"] / 1000 + target)
    if ack_wait_s is not None:
        ack_until = min(ack_until, time.time() + ack_wait_s)
    if ack_until > time.time() and say is not None:
        say(f"waiting up to {ack_until - time.time():.0f} s for acknowledgements 等待签收")
    while time.time() < ack_until:
        pending = [m for m in _matches(poller, record).values() if m["acknowledged"] is None]
        if not pending:
            break
        time.sleep(min(1.0, max(0.05, ack_until - time.time())))


def _matches(poller: Poller, record: dict) -> dict[int, dict]:
    with poller.lock:
        versions, actions = poller.observed.to_lists()
    return match_incidents(record["incidents"], versions, actions)


def say_stderr(text: str) -> None:
    print(f"lookout drill: {text}", file=sys.stderr, flush=True)
