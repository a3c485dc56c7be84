"""One event partition's engine state, as a Kafka worker keeps it for each assigned partition.

The state is an `EngineState` over the whole bundle's person table, but only the partition's own
persons receive events there. It is kept in two keyed stores, co-partitioned with the events:

* persons: person_id -> `{"p", "real", "drill"}`, `PartState.export_person` of both worlds
* clocks:  str(partition) -> `{"p", "real", "drill", "offsets"}`: each world's clock, and for
  every input topic the next offset whose message the state does not contain yet

The worker writes a checkpoint now and then, after the alert updates of everything in it are
acknowledged: the persons changed since the last one first, the clock record last. Whatever a
crash cuts, a restart never has a state missing an update that was not sent, and the clock is
never ahead of any person. Input the clock record already contains is skipped; the rest runs
again and, the engine being deterministic, repeats exactly the updates sent before (consumers
keep the first of each (alert_id, version)).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import orjson
from kafka.partitioner.default import murmur2

from alerts import engine as engine_mod
from alerts import state as state_mod
from alerts.engine import Engine
from alerts.state import NEVER, NO_TIME, PartState
from stream import events as ev
from stream.decode import Decoder, raw_text, rfc3339_utc

log = logging.getLogger("lookout.worker")
EVENT, ACTION = "event", "action"
# The per-person columns a batch may change. They are the engine's own list, so a column added
# there is persisted here without anyone remembering to.
_COLUMNS = tuple(state_mod._COLUMNS)


def home_partition(person_id: str, n_partitions: int) -> int:
    """Where Kafka's default partitioner (Java, kafka-python, aiokafka) puts this key."""
    return (murmur2(person_id.encode()) & 0x7FFFFFFF) % n_partitions


@lru_cache(maxsize=4)
def _homes(person_ids: tuple[str, ...], n_partitions: int) -> np.ndarray:
    """Every person's home partition (pure-Python murmur2: computed once per person table)."""
    return np.array([home_partition(pid, n_partitions) for pid in person_ids], dtype=np.int32)


@dataclass(slots=True)
class Message:
    kind: str  # EVENT or ACTION
    topic: str
    offset: int
    value: bytes | None


class _IndexedIds(list):
    """A person table whose index() is a dict look-up.

    export_person/import_person find a person with `person_ids.index`, a linear scan: a restore
    of a province's partition would be quadratic. The list is never changed in place (a reload
    replaces it), so the dict stays right.
    """

    def __init__(self, ids):
        super().__init__(ids)
        self._at = {pid: i for i, pid in enumerate(ids)}

    def index(self, value, *args):  # noqa: D102 - list.index with the same contract
        try:
            return self._at[value]
        except KeyError:
            raise ValueError(f"{value!r} is not in the person table") from None


class PartitionRunner:
    """Runs one partition's messages through the engine and says what to persist."""

    def __init__(self, engine: Engine, decoder: Decoder, partition: int, n_partitions: int):
        self.engine, self.decoder = engine, decoder
        self.partition = partition
        self.state = engine.new_state()
        for part in (self.state.real, self.state.drill):
            part.person_ids = _IndexedIds(part.person_ids)
        # 漏管: a registered person never heard from raises signal_lost in one partition only,
        # the one their events would go to.
        self.owned = _homes(tuple(engine.caseload.person_ids), n_partitions) == partition
        self.next_offset: dict[str, int] = {}
        self.saved_offset: dict[str, int] = {}  # next_offset as the last clock record stored it
        self.stats: Counter = Counter()
        self.changed: set[str] = set()  # by the last run
        self.unsaved: set[str] = set()  # since the last checkpoint
        # persons with any state in each world (real, drill); the others are stored as None,
        # which keeps the drill half of a record free for everyone a drill never touched
        self.touched: tuple[set[str], set[str]] = (set(), set())
        self._seq = 0

    # -- restore -----------------------------------------------------------------------------
    @classmethod
    def restore(cls, engine: Engine, decoder: Decoder, partition: int, n_partitions: int,
                persons: Iterable[tuple[str, bytes]], clock: bytes | None) -> PartitionRunner:
        """A runner from the stored records; records of other partitions are passed over."""
        run = cls(engine, decoder, partition, n_partitions)
        if clock is not None:
            rec = orjson.loads(clock)
            run.state.real.load_clock_state(rec["real"])
            run.state.drill.load_clock_state(rec["drill"])
            run.next_offset = dict(rec["offsets"])
            run.saved_offset = dict(rec["offsets"])
        for pid, raw in persons:
            rec = orjson.loads(raw)
            if rec.get("p") != partition:
                continue
            try:
                for world, part in enumerate((run.state.real, run.state.drill)):
                    half = rec["drill" if world else "real"]
                    if half is not None:
                        part.import_person(pid, half)
                        run.touched[world].add(pid)
            except (KeyError, ValueError):  # released from the bundle since: nothing to watch
                run.stats["restore_unknown_person"] += 1
                continue
            run.stats["restored_persons"] += 1
        return run

    # -- running -----------------------------------------------------------------------------
    def run(self, messages: list[Message], now_ms: int) -> tuple[list[dict], list[ev.DeadLetter]]:
        """Alert updates and dead letters for this partition's slice of a batch, in order."""
        # a world that has not started and gets no events of its own cannot change: skip its
        # snapshot (a copy of every person's columns) in the common case of no drill at all
        worlds = {world for world, part in enumerate((self.state.real, self.state.drill))
                  if part.started} | ({0, 1} if messages else set())
        if messages and not self.state.drill.started and not any(
                b'"drill"' in (m.value or b"") for m in messages):
            worlds.discard(1)
        before = {w: _snapshot(self.state.part(bool(w))) for w in worlds}
        updates: list[dict] = []
        dead: list[ev.DeadLetter] = []
        touched: set[str] = set()
        lines: list[bytes] = []
        for m in messages:
            expected = self.next_offset.get(m.topic)
            if expected is not None and m.offset != expected:
                if m.offset < expected:
                    self.stats["already_applied"] += 1  # before a crash, after the last commit
                    continue
                # compaction, transaction markers or retention; anything else would be a bug
                self.stats["offset_gaps"] += 1
                log.warning("partition %d: %s jumps from offset %d to %d", self.partition,
                            m.topic, expected, m.offset)
            self.next_offset[m.topic] = m.offset + 1
            if m.kind == EVENT:
                if m.value is None or not m.value.strip():
                    dead.append(_letter(now_ms, ev.MALFORMED_JSON, "empty message", m.value))
                else:
                    lines.append(m.value)
                continue
            updates += self._events(lines, now_ms, dead)
            lines = []
            updates += self._action(m.value, now_ms, dead, touched)
        updates += self._events(lines, now_ms, dead)
        real = _changed(self.state.real, before[0]) if 0 in before else set()
        drill = _changed(self.state.drill, before[1]) if 1 in before else set()
        for u in updates:
            (drill if u["drill"] else real).add(u["person_id"])
        self.touched[0].update(real)
        self.touched[1].update(drill)
        # an action names a person but not a world: store both halves as they are
        self.changed = real | drill | touched
        self.unsaved |= self.changed
        return updates, dead

    def _events(self, lines: list[bytes], now_ms: int, dead: list) -> list[dict]:
        if not lines:
            return []
        batch, rejects = self.decoder.decode(lines, received_at_ms=now_ms, first_seq=self._seq)
        self._seq += len(lines)
        dead += rejects
        self.stats["events"] += len(lines)
        if len(batch) == 0:
            return []
        out: list[dict] = []
        real = ~batch.drill
        if not self.state.real.started and real.any():
            # Start the real clock on its own (a tick at the first real ts, as the engine would
            # start it), then stop watching other partitions' persons before any timer can fire.
            t0 = int(batch.ts[int(np.argmax(real))])
            tick = ev.EventBatch.from_rows([{"kind": ev.TICK, "ts": t0, "drill": False,
                                             "seq": int(batch.seq[0])}])
            out += self.engine.process(self.state, tick, now_ms)
            st = self.state.real
            st.tracked_since[~self.owned] = NO_TIME
            st.silence_due[~self.owned] = NEVER
        out += self.engine.process(self.state, batch, now_ms)
        return out

    def _action(self, raw: bytes | None, now_ms: int, dead: list, touched: set) -> list[dict]:
        self.stats["actions"] += 1
        try:
            action = orjson.loads(raw or b"")
        except orjson.JSONDecodeError as err:
            dead.append(_letter(now_ms, ev.MALFORMED_JSON, f"action: {err}", raw))
            return []
        if not isinstance(action, dict):
            dead.append(_letter(now_ms, ev.INVALID_FIELD, "action: not a JSON object", raw))
            return []
        act = getattr(self.engine, "act", None)
        if act is None:
            dead.append(_letter(now_ms, ev.INVALID_FIELD, "action: this engine takes none", raw))
            return []
        action_error = getattr(engine_mod, "ActionError", ValueError)
        try:
            updates = act(self.state, action, now_ms)
        except action_error as err:
            reason = getattr(err, "reason", ev.INVALID_FIELD)
            dead.append(_letter(now_ms, reason, f"action: {err}", raw))
            return []
        if isinstance(action.get("person_id"), str):
            touched.add(action["person_id"])
        return list(updates)

    # -- what to persist ---------------------------------------------------------------------
    def person_records(self) -> list[tuple[str, bytes]]:
        """(person_id, record) for each person changed since the last `saved()`."""
        known = self.state.real.person_ids._at
        # an action naming nobody we know changed nothing of theirs
        pids = sorted(pid for pid in self.unsaved if pid in known)
        halves = []
        for world, part in enumerate((self.state.real, self.state.drill)):
            mine = [pid for pid in pids if pid in self.touched[world]]
            exported = dict(zip(mine, part.export_persons(mine), strict=True))
            halves.append(exported)
        return [(pid, orjson.dumps({"p": self.partition, "real": halves[0].get(pid),
                                    "drill": halves[1].get(pid)})) for pid in pids]

    def saved(self) -> None:
        """The records last asked for are stored (clock record included)."""
        self.unsaved.clear()
        self.saved_offset = dict(self.next_offset)

    def clock_record(self) -> tuple[str, bytes]:
        rec = {"p": self.partition, "real": self.state.real.clock_state(),
               "drill": self.state.drill.clock_state(), "offsets": self.next_offset}
        return str(self.partition), orjson.dumps(rec)


def _letter(now_ms: int, reason: str, detail: str, raw: bytes | None) -> ev.DeadLetter:
    return ev.DeadLetter(received_at=rfc3339_utc(now_ms), reason=reason, detail=detail,
                         raw=raw_text(raw or b""))


def _snapshot(st: PartState):
    cols = [getattr(st, c).copy() for c in _COLUMNS]
    counters = {pid: {z: tuple(v) for z, v in d.items()} for pid, d in st.counters.items()}
    return cols, counters


def _changed(st: PartState, snap) -> set[str]:
    """Persons whose columns or pending counts differ from the snapshot."""
    cols, counters = snap
    rows = []
    for name, old in zip(_COLUMNS, cols, strict=True):
        new = getattr(st, name)
        diff = new != old
        if new.dtype.kind == "f":
            diff &= ~(np.isnan(new) & np.isnan(old))
        rows.append(np.flatnonzero(diff))
    ids = st.person_ids
    out = {ids[i] for i in np.unique(np.concatenate(rows)).tolist()}
    for pid in counters.keys() | st.counters.keys():
        now = {z: tuple(v) for z, v in st.counters.get(pid, {}).items()}
        if counters.get(pid, {}) != now:
            out.add(pid)
    return out
