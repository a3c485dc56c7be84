"""`lookout replay --kafka`: a recorded feed onto `{prefix}.events`, and its alerts back.

Events go keyed by person_id to the partition Kafka's default partitioner gives that key;
ticks go to every partition (SPEC §1). So that every partition runs the clock the in-process
replay runs, each world (real, drill) starts with a tick at its first event's time, sent to
every partition just before that event, and the feed ends with a tick at each world's largest
time: the end of input that `lookout replay` treats as a tick.

Which records count for the clocks is what the worker will accept: with `--bundle` the same
decoder decides, without it a record counts when its ts parses.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from alerts.timefmt import wall_ms
from config.loader import parse_ts_ms
from stream.decode import Decoder
from stream.kafka.partition import home_partition
from stream.kafka.topics import Topics


@dataclass(slots=True)
class Outgoing:
    partition: int
    key: bytes | None
    value: bytes
    ts: int | None  # event time after rebasing, for pacing


@dataclass
class FeedPlan:
    """Turns feed lines into Kafka messages. Pure: the tests run it without a broker."""

    n_partitions: int
    drill: bool = False
    rebase: bool = False
    decoder: Decoder | None = None
    now_ms: int = field(default_factory=wall_ms)
    delta_ms: int | None = None  # what --rebase-time added to every ts
    read: int = 0
    last_ts: dict[bool, int] = field(default_factory=dict)  # world -> largest ts

    def messages(self, lines: list[bytes]) -> Iterator[Outgoing]:
        lines = [ln for ln in lines if ln.strip()]  # not records, as in lookout replay
        self.read += len(lines)
        valid = self._valid_rows(lines)
        for i, raw in enumerate(lines):
            yield from self._one(raw, None if valid is None else i in valid)

    def end(self) -> list[Outgoing]:
        """The end of input: a tick at each started world's largest time, everywhere."""
        return [m for world, t in sorted(self.last_ts.items()) for m in self._ticks(world, t)]

    def _valid_rows(self, lines: list[bytes]) -> set[int] | None:
        if self.decoder is None:
            return None
        batch, _ = self.decoder.decode(lines, received_at_ms=wall_ms(),
                                       drill=self.drill)
        return set(batch.seq.tolist())

    def _one(self, raw: bytes, decoder_ok: bool | None) -> Iterator[Outgoing]:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):  # the worker dead-letters it; any partition will do
            yield Outgoing(0, None, raw, None)
            return
        ts = _loose_ts(obj.get("ts"))
        is_tick = obj.get("type") == "tick"
        pid = obj.get("person_id")
        world = True if self.drill else obj.get("drill") is True
        ts = self._rebased(obj, ts)
        value = orjson.dumps(obj) if (self.drill or self.rebase) else raw
        counts = decoder_ok if self.decoder is not None else (
            ts is not None and (is_tick or isinstance(pid, str)))
        if counts and ts is not None:
            if world not in self.last_ts:
                yield from self._ticks(world, ts)
                self.last_ts[world] = ts
            self.last_ts[world] = max(self.last_ts[world], ts)
        yield from self._routed(is_tick, pid, value, ts)

    def _rebased(self, obj: dict, ts: int | None) -> int | None:
        """Moves the record to now (--rebase-time) and marks it a drill (--drill), in place."""
        if ts is not None and self.rebase:
            if self.delta_ms is None:
                self.delta_ms = self.now_ms - ts
            ts += self.delta_ms
            obj["ts"] = ts
        if self.drill:
            obj["drill"] = True
        return ts

    def _routed(self, is_tick: bool, pid, value: bytes, ts: int | None) -> Iterator[Outgoing]:
        """A tick goes to every partition, a person's record to the person's own."""
        if is_tick:
            for p in range(self.n_partitions):
                yield Outgoing(p, None, value, ts)
        elif isinstance(pid, str):
            yield Outgoing(home_partition(pid, self.n_partitions), pid.encode(), value, ts)
        else:
            yield Outgoing(0, None, value, ts)

    def _ticks(self, world: bool, ts: int) -> list[Outgoing]:
        value = orjson.dumps({"type": "tick", "ts": ts, "drill": world})
        return [Outgoing(p, None, value, ts) for p in range(self.n_partitions)]


def _loose_ts(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return parse_ts_ms(value)
    except (ValueError, OverflowError):
        return None


# -- sending ----------------------------------------------------------------------------------

def send_feed(bootstrap: str, topics: Topics, chunks: Iterable[list[bytes]], plan: FeedPlan,
              speed: float | None = None, progress=None) -> int:
    """Sends every planned message and waits until all are acknowledged; returns the count."""
    from kafka import KafkaProducer

    from stream.replay import _Pacer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             batch_size=256 * 1024, max_in_flight_requests_per_connection=1)
    pacer = _Pacer(speed)
    sent = 0
    try:
        for lines in chunks:
            for m in plan.messages(lines):
                if speed is not None and m.ts is not None:
                    pacer.wait_for(m.ts)
                producer.send(topics.events, value=m.value, key=m.key, partition=m.partition)
                sent += 1
            if progress is not None:
                progress(plan.read)
        for m in plan.end():
            producer.send(topics.events, value=m.value, key=m.key, partition=m.partition)
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


# -- collecting -------------------------------------------------------------------------------

def wait_processed(bootstrap: str, topics: Topics, timeout_s: float) -> bool:
    """Waits until the workers' state holds every message now on the events topic.

    Each partition's clock record (its `clocks` changelog) names the next offset its state
    needs, and it is written only after the updates from everything before are acknowledged.
    So once every partition's record reaches the end of the events topic, every alert the
    feed raises is on the alerts topic. (The group's committed offsets may lag behind that:
    the workers commit after the state, and only for the lag they report.)

    One consumer follows the clock records as they come: a fresh one per look cost the broker
    ~50 ms of CPU each time, taken from the workers it waits for.
    """
    from kafka import KafkaConsumer, TopicPartition

    clocks = topics.changelog("clocks")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(topics.events, p)
               for p in sorted(consumer.partitions_for_topic(topics.events) or ())]
        end = consumer.end_offsets(tps)
        done: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        next_report = time.monotonic() + 10
        while True:
            if not consumer.assignment():  # the workers create the changelog if nobody did
                parts = consumer.partitions_for_topic(clocks) or ()
                consumer.assign([TopicPartition(clocks, p) for p in sorted(parts)])
            if consumer.assignment():
                for records in consumer.poll(timeout_ms=300).values():
                    for r in records:
                        done[int(r.key)] = orjson.loads(r.value)["offsets"].get(topics.events,
                                                                                0)
            else:
                time.sleep(0.3)
            behind = {tp.partition: end[tp] - done.get(tp.partition, 0) for tp in tps}
            if all(n <= 0 for n in behind.values()):
                return True
            if time.monotonic() > deadline:
                return False
            if time.monotonic() > next_report:
                print(f"lookout: waiting for the workers; messages behind by partition: "
                      f"{behind}", file=sys.stderr)
                next_report = time.monotonic() + 10
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[bytes]:
    """Every message value now on `topic`, partition by partition."""
    return [v for _, v in read_records(bootstrap, topic, timeout_s)]


def read_records(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[tuple]:
    """(key, value) of every message now on `topic`, partition by partition, in order."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[tuple] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took over {timeout_s} s")
            for records in consumer.poll(timeout_ms=200).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


def latest_versions(updates: Iterable[dict]) -> dict[str, dict]:
    """alert_id -> its newest update: an alert's state, whatever was repeated."""
    state: dict[str, dict] = {}
    for u in updates:
        old = state.get(u["alert_id"])
        if old is None or u["version"] >= old["version"]:
            state[u["alert_id"]] = u
    return state


def summary_line(plan: FeedPlan, sent: int, seconds: float) -> str:
    info = {"records_read": plan.read, "messages_sent": sent, "seconds": round(seconds, 3),
            "partitions": plan.n_partitions, "rebased_by_ms": plan.delta_ms}
    return orjson.dumps(info).decode()


def write_jsonl(path: str, values: list[bytes]) -> None:
    out = sys.stdout.buffer if path == "-" else open(path, "wb")
    try:
        for v in values:
            out.write(v + b"\n")
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()

