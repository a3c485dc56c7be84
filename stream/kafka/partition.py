"""One event partition's engine state, as a Kafka worker keeps it for each assigned partition.

The state is an `EngineState` over the whole bundle's person table, but only the partition's own
persons receive events there. It is kept in two keyed stores, co-partitioned with the events:

* persons: "b{bucket}" -> `{"p", "b", "ids", "real", "drill"}`: the state of every person of
  the partition in that bucket (a fixed hash of person_id), column by column, with the pending
  counts, extras (same-second signatures, buffered tracks) and incidents of those who have
  any; `drill` is null until a drill starts
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
from itertools import groupby

import numpy as np
import orjson
from kafka.partitioner.default import murmur2

from alerts import engine as engine_mod
from alerts import state as state_mod
from alerts.engine import Engine
from alerts.records import AlertUpdate
from alerts.state import NEVER, NO_TIME, PartState
from stream import events as ev
from stream.deadletter import rejected
from stream.decode import Decoder

log = logging.getLogger("lookout.worker")
EVENT, ACTION = "event", "action"
# The per-person columns a batch may change. They are the engine's own list, so a column added
# there is persisted here without anyone remembering to.
_COLUMNS = tuple(state_mod._COLUMNS)


# A checkpoint rewrites the buckets holding a changed person, whole: one record per bucket
# instead of one per person (a produce call and a JSON object each cost more than a column
# slice), small enough that a few changed persons do not rewrite a whole partition.
BUCKETS = 64


def _key_hash(person_id: str) -> int:
    return murmur2(person_id.encode()) & 0x7FFFFFFF


def home_partition(person_id: str, n_partitions: int) -> int:
    """Where Kafka's default partitioner (Java, kafka-python, aiokafka) puts this key."""
    return _key_hash(person_id) % n_partitions


def placement(person_ids, n_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """Every person's home partition and bucket, computed once per person table."""
    return _placement(tuple(person_ids), n_partitions)


@lru_cache(maxsize=4)
def _placement(person_ids: tuple[str, ...], n_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """Every person's home partition and bucket (pure-Python murmur2: once per person table).
    The bucket uses the hash bits the partition does not, so a partition's persons spread
    over all its buckets."""
    h = np.array([_key_hash(pid) for pid in person_ids], dtype=np.int64)
    return (h % n_partitions).astype(np.int32), (h // n_partitions % BUCKETS).astype(np.int32)


@dataclass(slots=True)
class Message:
    kind: str  # EVENT or ACTION
    topic: str
    offset: int
    value: bytes | None


class PartitionRunner:
    """Runs one partition's messages through the engine and says what to persist."""

    def __init__(self, engine: Engine, decoder: Decoder, partition: int, n_partitions: int):
        self.engine, self.decoder = engine, decoder
        self.partition = partition
        self.state = engine.new_state()
        self.state.real.writes, self.state.drill.writes = [], []  # see person_records
        # 漏管: a registered person never heard from raises signal_lost in one partition only,
        # the one their events would go to.
        homes, self.bucket_of = placement(engine.caseload.person_ids, n_partitions)
        self.owned = homes == partition
        self.owned_rows = np.flatnonzero(self.owned)
        self.bucket_rows = {b: self.owned_rows[self.bucket_of[self.owned_rows] == b]
                            for b in range(BUCKETS)}
        ids = engine.caseload.person_ids
        self.bucket_ids = {b: [ids[i] for i in rows.tolist()] for b, rows in self.bucket_rows.items()}
        self.next_offset: dict[str, int] = {}
        self.saved_offset: dict[str, int] = {}  # next_offset as the last clock record stored it
        self.stats: Counter = Counter()
        self.unsaved: set[int] = set()  # buckets changed since the last checkpoint
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
        for _key, raw in persons:
            rec = orjson.loads(raw)
            if rec.get("p") == partition:
                run._load_bucket(rec)
        return run

    # -- running -----------------------------------------------------------------------------
    def run(self, messages: list[Message], now_ms: int) -> tuple[list[AlertUpdate], list[ev.DeadLetter]]:
        """Alert updates and dead letters for this partition's slice of a batch, in order."""
        return self.run_segments([(kind, list(group)) for kind, group in
                                  groupby(messages, key=lambda m: m.kind)], now_ms)

    def run_segments(self, segments: list[tuple[str, list]],
                     now_ms: int) -> tuple[list[AlertUpdate], list[ev.DeadLetter]]:
        """`run` for runs of one kind's records (anything with .topic, .offset and .value,
        such as aiokafka's records, all of one topic within a run): no object per message."""
        updates: list[AlertUpdate] = []
        dead: list[ev.DeadLetter] = []
        lines: list[bytes] = []
        for kind, records in segments:
            records = self._unseen(records)
            if kind == EVENT:
                values = [r.value for r in records]
                if not all(values):  # None (a tombstone) or b"": rare, so not filtered first
                    dead += [rejected(now_ms, ev.MALFORMED_JSON, "empty message", v)
                             for v in values if not v]
                    values = [v for v in values if v]
                lines += values
                continue
            for r in records:
                updates += self._events(lines, now_ms, dead)
                lines = []
                updates += self._action(r.value, now_ms, dead)
        updates += self._events(lines, now_ms, dead)
        # Every change to a person's columns, counts or incidents is a write the engine notes
        # (an alert update or an action's effect included): no diff of the partition's table.
        rows = np.concatenate([self.state.real.take_writes(), self.state.drill.take_writes()])
        rows = rows[self.owned[rows]]  # only this partition's persons are stored here
        self.unsaved.update(np.unique(self.bucket_of[rows]).tolist())
        return updates, dead

    def _unseen(self, records: list) -> list:
        """The records the state does not hold yet, moving the next offset past them."""
        if not records:
            return records
        topic = records[0].topic
        expected = self.next_offset.get(topic)
        first, last = records[0].offset, records[-1].offset
        # offsets only grow within a partition: no gap and nothing seen when these hold
        if (expected is None or first == expected) and last - first == len(records) - 1:
            self.next_offset[topic] = last + 1
            return records
        return list(self._unseen_one_by_one(records, topic, expected))

    def _unseen_one_by_one(self, records: list, topic: str, expected: int | None):
        for r in records:
            off = r.offset
            if expected is not None and off != expected:
                if off < expected:
                    self.stats["already_applied"] += 1  # before a crash, after the checkpoint
                    continue
                # compaction, transaction markers or retention; anything else would be a bug
                self.stats["offset_gaps"] += 1
                log.warning("partition %d: %s jumps from offset %d to %d", self.partition,
                            topic, expected, off)
            expected = self.next_offset[topic] = off + 1
            yield r

    def _events(self, lines: list[bytes], now_ms: int, dead: list) -> list[AlertUpdate]:
        if not lines:
            return []
        batch, rejects = self.decoder.decode(lines, received_at_ms=now_ms, first_seq=self._seq)
        self._seq += len(lines)
        dead += rejects
        if len(batch) + len(rejects) != len(lines):  # the decoder skips blank lines silently
            dead += [rejected(now_ms, ev.MALFORMED_JSON, "empty message", v)
                     for v in lines if v.isspace()]
        self.stats["events"] += len(lines)
        if len(batch) == 0:
            return []
        out: list[AlertUpdate] = []
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

    def _action(self, raw: bytes | None, now_ms: int, dead: list) -> list[AlertUpdate]:
        self.stats["actions"] += 1
        try:
            action = orjson.loads(raw or b"")
        except orjson.JSONDecodeError as err:
            dead.append(rejected(now_ms, ev.MALFORMED_JSON, f"action: {err}", raw))
            return []
        if not isinstance(action, dict):
            dead.append(rejected(now_ms, ev.INVALID_FIELD, "action: not a JSON object", raw))
            return []
        act = getattr(self.engine, "act", None)
        if act is None:
            dead.append(rejected(now_ms, ev.INVALID_FIELD, "action: this engine takes none", raw))
            return []
        action_error = getattr(engine_mod, "ActionError", ValueError)
        try:
            updates = act(self.state, action, now_ms)
        except action_error as err:
            reason = getattr(err, "reason", ev.INVALID_FIELD)
            dead.append(rejected(now_ms, reason, f"action: {err}", raw))
            return []
        return list(updates)

    # -- what to persist ---------------------------------------------------------------------
    def person_records(self) -> list[tuple[str, bytes]]:
        """(key, record) for each bucket holding a person changed since the last `saved()`."""
        worlds = [("real", self.state.real, self._with_state(self.state.real))]
        if self.state.drill.started:
            worlds.append(("drill", self.state.drill, self._with_state(self.state.drill)))
        return [(f"b{b}", self._bucket_record(b, worlds)) for b in sorted(self.unsaved)]

    def _with_state(self, part: PartState) -> dict[int, list[str]]:
        """bucket -> this partition's persons with pending counts or incidents in `part`: far
        fewer than the bucket's persons, so a checkpoint does not walk them all."""
        out: dict[int, list[str]] = {}
        for pid in sorted(part.counters.keys() | part.book.keys_by_person.keys()
                          | part.extras.keys()):
            i = self.engine.person_index.get(pid)
            if i is not None and self.owned[i]:
                out.setdefault(int(self.bucket_of[i]), []).append(pid)
        return out

    def _bucket_record(self, b: int, worlds) -> bytes:
        rows = self.bucket_rows[b]
        ids = self.bucket_ids[b]
        halves = {"drill": None}
        for name, part, with_state in worlds:
            mine = with_state.get(b, ())
            halves[name] = {
                "columns": {c: getattr(part, c)[rows] for c in _COLUMNS},
                "counters": {pid: part.counters[pid] for pid in mine if part.counters.get(pid)},
                "extras": {pid: part.extras[pid] for pid in mine if part.extras.get(pid)},
                "incidents": [part.book.by_key[k].to_state() for pid in mine
                              for k in sorted(part.book.keys_by_person.get(pid, ()))],
            }
        # numpy arrays serialise as JSON arrays (NaN as null, read back as NaN)
        return orjson.dumps({"p": self.partition, "b": b, "ids": ids, **halves},
                            option=orjson.OPT_SERIALIZE_NUMPY)

    def _load_bucket(self, rec: dict) -> None:
        """A bucket record into the state; persons released from the bundle since are left out."""
        index = self.engine.person_index
        known = np.array([pid in index for pid in rec["ids"]], dtype=bool)
        rows = np.array([index[pid] for pid in rec["ids"] if pid in index], dtype=np.int64)
        self.stats["restored_persons"] += len(rows)
        self.stats["restore_unknown_person"] += int((~known).sum())
        for name, part in (("real", self.state.real), ("drill", self.state.drill)):
            half = rec.get(name)
            if half is None:
                continue
            for c, values in half["columns"].items():
                col = getattr(part, c)
                col[rows] = np.array(values, dtype=col.dtype)[known]
            for pid, counts in half["counters"].items():
                if pid in index:
                    part.counters[pid] = {z: list(v) for z, v in counts.items()}
            for pid, extras in half.get("extras", {}).items():
                if pid in index:
                    part.extras[pid] = extras
            for row in half["incidents"]:
                if row.get("person_id") in index:
                    part.book.add_state(row)

    def saved(self) -> None:
        """The records last asked for are stored (clock record included)."""
        self.unsaved.clear()
        self.saved_offset = dict(self.next_offset)

    def clock_record(self) -> tuple[str, bytes]:
        rec = {"p": self.partition, "real": self.state.real.clock_state(),
               "drill": self.state.drill.clock_state(), "offsets": self.next_offset}
        return str(self.partition), orjson.dumps(rec)

