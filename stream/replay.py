"""`lookout replay`: a recorded feed through the engine in process (SPEC §5)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import orjson

from alerts.engine import Engine
from alerts.records import AlertUpdate
from alerts.timefmt import wall_ms
from config.model import Bundle
from stream import events as ev
from stream.deadletter import DeadLetterWriter
from stream.decode import Decoder
from stream.pipeline import decoded_chunks


@dataclass
class ReplaySummary:
    read: int = 0
    accepted: int = 0
    duplicate: int = 0
    out_of_order: int = 0
    rejected: Counter = field(default_factory=Counter)
    alerts_by_type: Counter = field(default_factory=Counter)
    updates: int = 0
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "events_read": self.read,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "out_of_order": self.out_of_order,
            "rejected": dict(sorted(self.rejected.items())),
            "alerts_by_type": dict(sorted(self.alerts_by_type.items())),
            "alert_updates": self.updates,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
        }

    def render(self) -> str:
        rej = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        alerts = ", ".join(f"{k} {v}" for k, v in sorted(self.alerts_by_type.items())) or "none"
        return (
            f"events read 读取事件: {self.read}\n"
            f"accepted 接收: {self.accepted} (duplicate 重复 {self.duplicate}, "
            f"out of order 乱序 {self.out_of_order})\n"
            f"rejected 拒收: {sum(self.rejected.values())} ({rej})\n"
            f"alerts by type 告警: {alerts}\n"
            f"events per second 每秒事件: {self.events_per_s:,.0f}\n"
        )


class _Pacer:
    """Holds the feed back to N× real time on event time; max runs flat out."""

    def __init__(self, speed: float | None):
        self.speed = speed
        self.t0_event: int | None = None
        self.t0_wall = 0.0

    def wait_for(self, ts_ms: int) -> None:
        if self.speed is None:
            return
        if self.t0_event is None:
            self.t0_event, self.t0_wall = ts_ms, time.monotonic()
            return
        due = self.t0_wall + (ts_ms - self.t0_event) / 1000.0 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _slices(batch: ev.EventBatch, speed: float | None, span_ms: float):
    """Paced replays hand the engine small slices so alerts come out as time passes."""
    if speed is None or len(batch) == 0:
        yield batch
        return
    ts = batch.ts
    start = 0
    while start < len(batch):
        end = int(np.searchsorted(ts[start:], ts[start] + span_ms, side="right")) + start
        end = max(end, start + 1)
        yield batch.take(np.arange(start, end))
        start = end


def replay(
    bundle: Bundle,
    paths: list[str],
    out,
    dead_letter: DeadLetterWriter,
    speed: float | None = None,
    until_ms: int | None = None,
    drill: bool = False,
    progress=None,
    chunk_lines: int = 50_000,
    engine: Engine | None = None,
    parallel: bool = True,
    metrics=None,
) -> ReplaySummary:
    engine = engine or Engine(bundle)
    state = engine.new_state()
    decoder = Decoder(engine.person_index, bundle.settings)
    summary = ReplaySummary()
    pacer = _Pacer(speed)
    started = time.perf_counter()

    def run(part: ev.EventBatch) -> None:
        now = wall_ms()
        t = time.perf_counter()
        updates = engine.process(state, part, now)
        if metrics is not None:
            metrics.observe_process(part, updates, time.perf_counter() - t, now, engine.stats)
        emit(updates)

    def emit(updates: list[AlertUpdate]) -> None:
        for u in updates:
            if u.version == 1:
                summary.alerts_by_type[u.type] += 1
            out.write(orjson.dumps(u.to_wire()) + b"\n")
        summary.updates += len(updates)

    seq = 0
    for batch, rejects, n_lines in decoded_chunks(decoder, paths, chunk_lines, drill, parallel):
        summary.read += n_lines
        if len(batch):
            seq = int(batch.seq[-1]) + 1
        dead_letter.write(rejects)
        if metrics is not None:
            metrics.observe_decoded(batch, rejects, drill=drill)
        for r in rejects:
            summary.rejected[r.reason] += 1
        span = 200.0 * speed if speed else 0.0
        for part in _slices(batch, speed, span):
            if len(part):
                pacer.wait_for(int(part.ts[0]))
            run(part)
        if progress is not None:
            progress(summary.read)

    # the end of input acts as a tick at the largest ts (or --until) in each world
    ticks = []
    for part, is_drill in ((state.real, False), (state.drill, True)):
        if part.started or (until_ms is not None and is_drill == drill):
            end = max(part.clock, until_ms) if until_ms is not None else part.clock
            ticks.append({"kind": ev.TICK, "ts": end, "drill": is_drill, "seq": seq})
    if ticks:
        run(ev.EventBatch.from_rows(ticks))
    if metrics is not None:
        from stream.metrics import count_persons

        metrics.set_persons(*count_persons(engine, state))
        if state.drill.started:
            metrics.set_persons(*count_persons(engine, state, drill=True), drill=True)

    stats = engine.stats
    summary.accepted = stats["accepted"] + stats["drill_accepted"]
    summary.duplicate = stats["duplicate"] + stats["drill_duplicate"]
    summary.out_of_order = stats["out_of_order"] + stats["drill_out_of_order"]
    summary.seconds = time.perf_counter() - started
    return summary


def write_summary(summary: ReplaySummary) -> None:
    sys.stderr.write(summary.render())
