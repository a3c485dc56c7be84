"""One event partition's engine state, as a Kafka worker keeps it for each assigned partition.

The state is an `EngineState` over the partition's own persons only (caseloads.py: an engine
per partition over the persons whose key hashes there). It is kept in two keyed stores,
co-partitioned with the events:

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

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import TYPE_CHECKING

import numpy as np
import orjson
from kafka.partitioner.default import murmur2

from alerts import state as state_mod
from alerts.engine import ActionError
from alerts.records import AlertUpdate
from alerts.state import PartState
from stream import events as ev
from stream.deadletter import rejected

if TYPE_CHECKING:
    from stream.kafka.caseloads import PartitionCaseload

log = logging.getLogger("lookout.worker")
EVENT, ACTION = "event", "action"
# A bucket record: MAGIC, a 4-byte length, a JSON head (partition, bucket, person ids, the
# column layout, and per world the pending counts, extras and incidents of the few persons who
# have any), then per world present ("real", then "drill" once a drill started) the bucket's
# rows of every per-person column, packed (numpy, little-endian, the layout the head names).
# The columns are the engine's own list, so a column added there is persisted without anyone
# remembering to, and a record written before it keeps that column's default.
MAGIC = b"LKB2"
_PACKED = np.dtype([(name, np.dtype(dtype).newbyteorder("<"))
                    for name, (dtype, _) in state_mod.COLUMNS.items()])
_COLUMN_TYPES_JSON = orjson.dumps([[name, _PACKED[name].str] for name in _PACKED.names or ()])


def pack_columns(part: PartState, rows: np.ndarray) -> np.ndarray:
    table = np.empty(rows.size, dtype=_PACKED)
    for name in _PACKED.names or ():
        table[name] = getattr(part, name)[rows]
    return table


def unpack_bucket(value: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(head, world -> packed columns) of a bucket record."""
    if not value.startswith(MAGIC):
        raise ValueError("a persons changelog record in another format than this worker's "
                         f"({value[:8]!r}...): start on fresh topics (another --prefix)")
    n = int.from_bytes(value[4:8], "big")
    head = orjson.loads(value[8:8 + n])
    layout = _layout(tuple(map(tuple, head["cols"])))
    tables, offset = {}, 8 + n
    for name in ("real", "drill"):
        if head.get(name) is not None:
            tables[name] = np.frombuffer(value, dtype=layout, count=len(head["ids"]),
                                         offset=offset)
            offset += layout.itemsize * len(head["ids"])
    return head, tables


def _last_of_each(rows: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each row >= 0."""
    _, first_from_end = np.unique(rows[::-1], return_index=True)
    last = rows.size - 1 - first_from_end
    return last[rows[last] >= 0]


@lru_cache(maxsize=8)
def _layout(cols: tuple) -> np.dtype:
    return np.dtype(list(cols))


def _sparse_half(part: PartState, mine: list[str]) -> bytes:
    """One world's pending counts, extras and incidents of the bucket's persons with any."""
    return orjson.dumps({
        "counters": {pid: part.counters[pid] for pid in mine if part.counters.get(pid)},
        "extras": {pid: part.extras[pid] for pid in mine if part.extras.get(pid)},
        "incidents": [part.book.by_key[k].to_state() for pid in mine
                      for k in sorted(part.book.keys_by_person.get(pid, ()))],
    })


_EMPTY_HALF = _sparse_half(PartState([], False, 0), [])


# A checkpoint rewrites the buckets holding a changed person, whole: one record per bucket
# instead of one per person (a produce call and a JSON object each cost more than a column
# slice). Buckets are sized by the partition's person count, not fixed in number: 64 fixed
# buckets held ~780 persons each at 200,000 persons, and a steady trickle of events touched
# all of them between two checkpoints (~24 MB rewritten each time, the loop waiting for it).
PERSONS_PER_BUCKET = 16


def _key_hash(person_id: str) -> int:
    return murmur2(person_id.encode()) & 0x7FFFFFFF


def home_partition(person_id: str, n_partitions: int) -> int:
    """Where Kafka's default partitioner (Java, kafka-python, aiokafka) puts this key."""
    return _key_hash(person_id) % n_partitions


def placement(person_ids, n_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """Every person's home partition, and the hash bits the partition does not use (which
    spread a partition's persons over its buckets). Not cached: a cache keyed by the ids
    would keep a string object for each of them alive."""
    h = murmur2_many([pid.encode() for pid in person_ids]).astype(np.int64) & 0x7FFFFFFF
    return (h % n_partitions).astype(np.int32), h // n_partitions


_M = np.uint32(0x5BD1E995)


def murmur2_many(keys: list[bytes]) -> np.ndarray:
    """Kafka's murmur2 of every key (kafka-python's `murmur2`, the Java client's), as uint32:
    keys of one length at a time, a column of 4 bytes per step. The pure-Python one took a
    second for a province's 200,000 person ids, at every worker start."""
    out = np.empty(len(keys), dtype=np.uint32)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    with np.errstate(over="ignore"):
        for n in np.unique(lengths).tolist():
            rows = np.flatnonzero(lengths == n)
            data = np.frombuffer(b"".join([keys[i] for i in rows.tolist()]), dtype=np.uint8)
            out[rows] = _murmur2_same_length(data.reshape(rows.size, n).astype(np.uint32), n)
    return out


def _murmur2_same_length(data: np.ndarray, n: int) -> np.ndarray:
    h = np.full(data.shape[0], 0x9747B28C ^ n, dtype=np.uint32)
    for i in range(0, n - n % 4, 4):
        k = data[:, i] | data[:, i + 1] << 8 | data[:, i + 2] << 16 | data[:, i + 3] << 24
        k *= _M
        k ^= k >> 24
        k *= _M
        h *= _M
        h ^= k
    tail = n & ~3
    for j in range(n % 4 - 1, -1, -1):  # the last few bytes, highest first
        h ^= data[:, tail + j] << (8 * j)
    if n % 4:
        h *= _M
    h ^= h >> 13
    h *= _M
    h ^= h >> 15
    return h


def bucket_count(n_owned: int) -> int:
    """A power of two: the layout (and the records' keys) changes only when the caseload
    doubles or halves, not with every person enrolled."""
    return 1 << max(0, -(-n_owned // PERSONS_PER_BUCKET) - 1).bit_length()


class BucketIds:
    """Each bucket's person ids as JSON, all in one buffer. A bytes object per bucket kept the
    ~4 KB output buffer orjson made it in: 64 MiB, ~330 bytes a person, at 200,000 persons."""

    __slots__ = ("_text", "_ends")

    def __init__(self, ids, bucket_rows: list[np.ndarray]) -> None:
        text = bytearray()
        ends = np.empty(len(bucket_rows), dtype=np.int64)
        for b, rows in enumerate(bucket_rows):
            text += orjson.dumps([ids[i] for i in rows.tolist()])
            ends[b] = len(text)
        self._text, self._ends = bytes(text), ends

    def __getitem__(self, b: int) -> bytes:
        start = int(self._ends[b - 1]) if b else 0
        return self._text[start:int(self._ends[b])]

    def __len__(self) -> int:
        return len(self._ends)


@dataclass(slots=True)
class CheckpointPlan:
    buckets: list[int]  # still to write
    clock: tuple[str, bytes]  # the clock record, written once every bucket is acknowledged
    offsets: dict[str, int]  # the input offsets that clock record holds


@dataclass(slots=True)
class Message:
    kind: str  # EVENT or ACTION
    topic: str
    offset: int
    value: bytes | None


class PartitionRunner:
    """Runs one partition's messages through the engine and says what to persist."""

    def __init__(self, caseload: PartitionCaseload):
        self.caseload = caseload
        self.engine, self.decoder = caseload.engine, caseload.decoder
        self.partition = caseload.partition
        self.state = self.engine.new_state()
        self.state.real.writes, self.state.drill.writes = [], []  # see person_records
        n_persons = len(self.engine.caseload.person_ids)
        self.buckets = bucket_count(n_persons)
        self.bucket_of = (caseload.spread % self.buckets).astype(np.int32)
        # the rows grouped by bucket: bucket b is rows[starts[b]:starts[b + 1]]
        by_bucket = np.argsort(self.bucket_of, kind="stable")
        starts = np.searchsorted(self.bucket_of[by_bucket], np.arange(self.buckets + 1))
        self.bucket_rows = np.split(by_bucket, starts[1:-1])
        # each bucket's ids as its records name them (a list of strings per bucket cost as
        # much memory, and a JSON encoding per bucket record a fifth of a checkpoint)
        self.bucket_ids = BucketIds(self.engine.caseload.person_ids, self.bucket_rows)
        self.next_offset: dict[str, int] = {}
        self.saved_offset: dict[str, int] = {}  # next_offset as the last clock record stored it
        self.stats: Counter = Counter()
        self.unsaved: set[int] = set()  # buckets changed since the last checkpoint
        self._seq = 0

    # -- restore -----------------------------------------------------------------------------
    @classmethod
    def restore(cls, caseload: PartitionCaseload, persons: Iterable[tuple[str, bytes]],
                clock: bytes | None) -> PartitionRunner:
        """A runner from the stored records; records of other partitions are passed over."""
        run = cls(caseload)
        if clock is not None:
            rec = orjson.loads(clock)
            run.state.real.load_clock_state(rec["real"])
            run.state.drill.load_clock_state(rec["drill"])
            run.next_offset = dict(rec["offsets"])
            run.saved_offset = dict(rec["offsets"])
            # Without a clock record no checkpoint was completed: everything runs again from
            # the start, and buckets written ahead of it would have the clock start over them
            # (silence re-armed from the first event for persons whose events count as seen).
            run._load_buckets(raw for _key, raw in persons)
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
        dead += [self._misrouted(d) if d.reason == ev.UNKNOWN_PERSON else d for d in rejects]
        if len(batch) + len(rejects) != len(lines):  # the decoder skips blank lines silently
            dead += [rejected(now_ms, ev.MALFORMED_JSON, "empty message", v)
                     for v in lines if v.isspace()]
        self.stats["events"] += len(lines)
        if len(batch) == 0:
            return []
        return self.engine.process(self.state, batch, now_ms)

    def _misrouted(self, letter: ev.DeadLetter) -> ev.DeadLetter:
        """An unknown person here may be a registered person of another partition: an event
        keyed by something other than person_id, or with another partitioner. Said as such,
        for the producer to fix, not as a person missing from the bundle."""
        try:
            pid = orjson.loads(letter.raw).get("person_id")
        except (orjson.JSONDecodeError, AttributeError):
            return letter
        home = self.caseload.homes.get(pid) if isinstance(pid, str) else None
        if home is None or home == self.partition:
            return letter
        self.stats["wrong_partition"] += 1
        detail = (f"person_id {orjson.dumps(pid).decode()} belongs to partition {home}, not "
                  f"{self.partition}: key events by person_id with Kafka's default "
                  f"partitioner (事件须以 person_id 为键)")
        return dataclasses.replace(letter, reason=ev.WRONG_PARTITION, detail=detail)

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
        try:
            return self.engine.act(self.state, action, now_ms)
        except ActionError as err:
            dead.append(rejected(now_ms, err.reason, f"action: {err}", raw))
            return []

    # -- what to persist ---------------------------------------------------------------------
    def begin_checkpoint(self) -> CheckpointPlan:
        """What a checkpoint taken now writes: the changed buckets, then this clock record.
        The buckets may be written later, a slice between batches: a bucket then holds state
        newer than the clock record, as a torn checkpoint leaves it (the engine takes the
        input it reads again as seen), and one changed after it was written is marked for the
        next checkpoint."""
        plan = CheckpointPlan(sorted(self.unsaved), self.clock_record(), dict(self.next_offset))
        self.unsaved = set()
        return plan

    def person_records(self, buckets: list[int] | None = None) -> list[tuple[str, bytes]]:
        """(key, record) for each bucket given, by default each holding a person changed since
        the last `saved()`."""
        if buckets is None:
            buckets = sorted(self.unsaved)
        if not buckets:
            return []
        worlds = [("real", self.state.real)]
        if self.state.drill.started:
            worlds.append(("drill", self.state.drill))
        # every changed bucket's rows gathered once per column, then cut per bucket
        rows = np.concatenate([self.bucket_rows[b] for b in buckets])
        ends = np.cumsum([self.bucket_rows[b].size for b in buckets]).tolist()
        tables = [pack_columns(part, rows) for _, part in worlds]
        sparse = [self._with_state(part) for _, part in worlds]
        out, lo = [], 0
        for b, hi in zip(buckets, ends, strict=True):
            # the head by hand: nearly every bucket's sparse halves are empty, and a JSON
            # object built per bucket cost most of a province's checkpoint
            halves = [_sparse_half(part, with_state[b]) if b in with_state else _EMPTY_HALF
                      for (_, part), with_state in zip(worlds, sparse, strict=True)]
            h = b"".join([b'{"p":%d,"b":%d,"cols":' % (self.partition, b), _COLUMN_TYPES_JSON,
                          b',"ids":', self.bucket_ids[b], b',"real":', halves[0],
                          b',"drill":', halves[1] if len(halves) > 1 else b"null", b"}"])
            out.append((self.bucket_key(b), b"".join([MAGIC, len(h).to_bytes(4, "big"), h,
                                           *(t[lo:hi].tobytes() for t in tables)])))
            lo = hi
        return out

    def bucket_key(self, b: int) -> str:
        """A record's key names its layout too: compaction keeps the newest record per key, and
        a bucket of another layout holds other persons (restore reads them oldest first)."""
        return f"b{b}/{self.buckets}"

    def _with_state(self, part: PartState) -> dict[int, list[str]]:
        """bucket -> this partition's persons with pending counts or incidents in `part`: far
        fewer than the bucket's persons, so a checkpoint does not walk them all."""
        out: dict[int, list[str]] = {}
        for pid in sorted(part.counters.keys() | part.book.keys_by_person.keys()
                          | part.extras.keys()):
            i = self.engine.person_index.get(pid)
            if i is not None:
                out.setdefault(int(self.bucket_of[i]), []).append(pid)
        return out

    def _load_buckets(self, values: Iterable[bytes]) -> None:
        """Bucket records into the state, oldest first: a person's newest record wins, also
        over a record of an older layout. Persons released from the bundle since are left
        out, and so are records of another partition. Column by column for all records at
        once: a province's partition has thousands of buckets, and a restore that blocks the
        loop for long costs the group membership."""
        heads, tables = [], []
        newest: dict[str, int] = {}  # person_id -> the last record holding them
        for value in values:
            head, packed = unpack_bucket(value)
            if head.get("p") != self.partition:
                continue
            newest.update(dict.fromkeys(head["ids"], len(heads)))
            heads.append(head)
            tables.append(packed)
        # every record's ids found in one column lookup (one at a time cost ~3 us an id)
        at_all = self.engine.person_index.rows([pid for h in heads for pid in h["ids"]])
        self.stats["restored_persons"] += int((at_all >= 0).sum())
        self.stats["restore_unknown_person"] += int((at_all < 0).sum())
        rows = np.split(at_all, np.cumsum([len(h["ids"]) for h in heads])[:-1]) if heads else []
        for name, part in (("real", self.state.real), ("drill", self.state.drill)):
            have = [i for i, packed in enumerate(tables) if name in packed]
            if not have:
                continue
            # by column layout (one, unless the records span versions), oldest group first
            groups: dict[np.dtype, list[int]] = {}
            for i in have:
                groups.setdefault(tables[i][name].dtype, []).append(i)
            for layout, members in groups.items():
                at = np.concatenate([rows[i] for i in members])
                packed = np.frombuffer(b"".join([tables[i][name].tobytes() for i in members]),
                                       dtype=layout)
                last = _last_of_each(at)
                part.own_columns()
                for c in layout.names or ():
                    if c in state_mod.COLUMNS:
                        getattr(part, c)[at[last]] = packed[c][last]
            for i in have:
                self._load_sparse(part, heads[i][name], lambda pid, i=i: newest.get(pid) == i)
            part.columns_loaded()

    @staticmethod
    def _load_sparse(part: PartState, half: dict, mine) -> None:
        """A record's pending counts, extras and incidents of the persons it is newest for."""
        for pid, counts in half["counters"].items():
            if mine(pid):
                part.counters[pid] = {z: list(v) for z, v in counts.items()}
        for pid, extras in half["extras"].items():
            if mine(pid):
                part.extras[pid] = extras
        for row in half["incidents"]:
            if mine(row.get("person_id")):
                part.book.add_state(row)

    def saved(self, plan: CheckpointPlan | None = None) -> None:
        """The records last asked for are stored (clock record included); or, when a checkpoint
        was written in slices, the records of `plan`."""
        if plan is None:
            self.unsaved.clear()
        self.saved_offset = dict(self.next_offset if plan is None else plan.offsets)

    def clock_record(self) -> tuple[str, bytes]:
        rec = {"p": self.partition, "real": self.state.real.clock_state(),
               "drill": self.state.drill.clock_state(), "offsets": self.next_offset}
        return str(self.partition), orjson.dumps(rec)

