"""`lookout worker`: the engine as a faust-streaming app on Kafka (SPEC §6).

One agent reads `{prefix}.events` and `{prefix}.actions` (co-partitioned, both keyed by
person_id) in batches (`take_events`). Each assigned partition has its own engine state
(partition.py); a batch is cut by partition and each slice runs through `Engine.process` and
`Engine.act`, exactly as `lookout replay` runs a feed.

The order that makes a SIGKILL harmless, per batch:

1. run the slices: alert updates and dead letters, in memory;
2. produce them and wait until the broker has acknowledged every one;
3. write the changed persons to the `persons` table, wait, then each partition's clock record
   (with the next input offsets) to the `clocks` table, wait;
4. only then hand the batch back to faust, which acks its messages and commits their offsets
   after flushing the producer.

A crash before 2 ends repeats the batch, which produces the same updates again (the engine is
deterministic; consumers keep the first of each (alert_id, version)). A crash inside 3 leaves
some persons ahead of the clock, which the engine treats as events already seen. After 3 the
clock record's offsets skip what the state already holds, even if faust never committed.

The tables are written through their store and their changelog topic with the partition given
explicitly. `table[key] = value` inside `take_events` cannot work: faust finds the changelog
partition from the current event, and a batch has none (faust-streaming issue #497).

The state, not faust's offset book, says what has been applied. Around rebalances faust 0.15
drops fetched messages without acking them, and its commit then steps over a one-message gap
(a lost event) or stalls behind a longer one (measured here in about a third of failovers;
cf. faust-streaming #216, #221). `_fill_holes` reads any skipped offsets back from Kafka.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import orjson
from faust.types import TP

from alerts.engine import Engine
from config.model import Bundle
from stream.decode import Decoder
from stream.kafka.partition import ACTION, EVENT, Message, PartitionRunner
from stream.kafka.topics import Topics
from stream.metrics import LookoutMetrics

log = logging.getLogger("lookout.worker")
EXIT_CRASHED = 70  # EX_SOFTWARE: a supervisor restarts the worker; its state is consistent


@dataclass
class WorkerConfig:
    bootstrap: str
    topics: Topics
    partitions: int
    replication_factor: int = 1
    batch: int = 2000
    within_s: float = 0.05
    session_timeout_s: float = 10.0
    heartbeat_s: float = 1.0
    commit_interval_s: float = 0.5
    datadir: str | None = None
    loglevel: str = "warning"
    stats_every_s: float = 30.0
    metrics_port: int | None = None  # serve /metrics for Prometheus on this port


class LookoutWorker:
    """The engine side of the app: batches in, updates out, state persisted in order."""

    def __init__(self, app, bundle: Bundle, conf: WorkerConfig, persons, clocks):
        self.app, self.conf, self.topics = app, conf, conf.topics
        self.engine = Engine(bundle)
        self.decoder = Decoder(self.engine.person_index, bundle.settings)
        self.persons, self.clocks = persons, clocks
        self.runners: dict[int, PartitionRunner] = {}
        # (topic, partition) -> the last offset faust handed over since the partition came
        self.delivered: dict[tuple[str, int], int] = {}
        self.counts: Counter = Counter()
        self.metrics = LookoutMetrics()
        if conf.metrics_port:
            self.metrics.serve(conf.metrics_port, addr="127.0.0.1")
        self.lock = asyncio.Lock()  # the agent and the drill pulse share the states
        self._last_stats = time.monotonic()

    # -- partitions ---------------------------------------------------------------------------
    def forget(self, revoked) -> None:
        """After a rebalance a partition is rebuilt from the tables, which faust re-reads."""
        for tp in revoked:
            self.delivered.pop((tp.topic, tp.partition), None)
            self.metrics.forget_partition(tp.topic, tp.partition)  # no stale lag for it
            if tp.topic == self.topics.events:
                run = self.runners.pop(tp.partition, None)
                if run is not None:
                    self.counts.update(run.stats)

    def runner(self, p: int) -> PartitionRunner:
        run = self.runners.get(p)
        if run is None:
            store = self.persons.data
            persons = ((k.decode(), v) for k, v in list(store.items()))
            clock = self.clocks.data.get(str(p).encode())
            run = PartitionRunner.restore(self.engine, self.decoder, p, self.conf.partitions,
                                          persons, clock)
            log.info("partition %d: restored %d persons, next offsets %s", p,
                     run.stats["restored_persons"], run.next_offset or "none")
            self.runners[p] = run
        return run

    def _assigned(self) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment()
                if tp.topic == self.topics.events}

    # -- batches ------------------------------------------------------------------------------
    async def handle(self, events) -> None:
        # No filtering by the current assignment: during a rebalance it reads empty, yet faust
        # acks (and may later commit) whatever a batch hands back. A partition's new owner
        # cannot start before this batch is done (faust waits for it before rejoining).
        slices: dict[int, list[Message]] = {}
        for e in events:
            m = e.message
            kind = EVENT if m.topic == self.topics.events else ACTION
            slices.setdefault(m.partition, []).append(Message(kind, m.topic, m.offset, m.value))
        async with self.lock:
            for p, msgs in slices.items():
                slices[p] = await self._fill_holes(p, msgs)
            await self._run(slices)
        self._observe_lag(events)
        self._maybe_log_stats()

    def _observe_lag(self, events) -> None:
        """Consumer lag per partition: what the broker holds beyond the last offset handled."""
        newest: dict[tuple[str, int], int] = {}
        for e in events:
            m = e.message
            key = (m.topic, m.partition)
            newest[key] = max(newest.get(key, -1), m.offset)
        for (topic, p), offset in newest.items():
            try:
                highwater = self.app.consumer.highwater(TP(topic, p))
            except Exception:  # noqa: BLE001 - a metric must never stop the engine
                continue
            if highwater is not None:
                self.metrics.observe_lag(topic, p, int(highwater) - offset - 1)

    async def _fill_holes(self, p: int, msgs: list[Message]) -> list[Message]:
        """The slice with every message faust skipped put back in place.

        Around a rebalance faust can drop fetched messages without acking them (its prefetch
        and its seek to the committed offsets race). Its commit then either steps over a
        one-message gap after the committed offset, losing it, or stalls behind a gap
        further on. So every jump in what faust hands over (from the committed offset on)
        is closed here: offsets the state already holds are only marked done in faust's
        offset book; the others are read from Kafka directly and run in their place. A
        range Kafka no longer has (retention, compaction, transaction markers) stays a gap.
        """
        expected = dict(self.runner(p).next_offset)
        out: list[Message] = []
        for m in msgs:
            key = (m.topic, p)
            if key not in self.delivered:
                self.delivered.update(await self._committed(m.topic))
            prev = self.delivered.get(key)
            if prev is not None and m.offset > prev + 1:
                self._mark_done(m.topic, p, range(prev + 1, m.offset))
                self.counts["skipped_by_faust"] += m.offset - prev - 1
            e = expected.get(m.topic)
            if e is not None and m.offset > e:  # the state has not seen [e, m.offset)
                found = await self._read_range(m.topic, p, e, m.offset)
                log.warning("partition %d: %s jumped from offset %d to %d; read %d back",
                            p, m.topic, e, m.offset, len(found))
                self.counts["read_back"] += len(found)
                out += found
            expected[m.topic] = max(e or 0, m.offset + 1)
            if prev is None or m.offset > prev:
                self.delivered[key] = m.offset
            out.append(m)
        return out

    async def _committed(self, topic: str) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the offset before the group's next one (-1 at the start)."""
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        def fetch():
            admin = KafkaAdminClient(bootstrap_servers=self.conf.bootstrap)
            consumer = KafkaConsumer(bootstrap_servers=self.conf.bootstrap)
            try:
                done = admin.list_group_offsets(self.topics.app_id).get(self.topics.app_id, {})
                tps = [TopicPartition(topic, q) for q in range(self.conf.partitions)]
                first = consumer.beginning_offsets(tps)
                return {(topic, tp.partition): (done[tp].offset if tp in done and
                                                done[tp].offset >= 0 else first[tp]) - 1
                        for tp in tps}
            finally:
                consumer.close()
                admin.close()

        return await asyncio.to_thread(fetch)

    def _mark_done(self, topic: str, p: int, offsets) -> None:
        """Records faust never handed over: mark them acked, or its commits stop there."""
        from faust.types import TP
        from faust.types import Message as FaustMessage

        for off in offsets:
            self.app.consumer.ack(FaustMessage(topic, p, off, time.time(), 0, None, None, None,
                                               None, tp=TP(topic, p)))

    async def _read_range(self, topic: str, p: int, start: int, stop: int) -> list[Message]:
        if start >= stop:
            return []
        from aiokafka import AIOKafkaConsumer, TopicPartition

        kind = EVENT if topic == self.topics.events else ACTION
        tp = TopicPartition(topic, p)
        reader = AIOKafkaConsumer(bootstrap_servers=self.conf.bootstrap, enable_auto_commit=False)
        await reader.start()
        found: list[Message] = []
        try:
            reader.assign([tp])
            reader.seek(tp, start)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                end = (await reader.end_offsets([tp]))[tp]
                if await reader.position(tp) >= min(stop, end):
                    break
                for rec in (await reader.getmany(tp, timeout_ms=500)).get(tp, []):
                    if rec.offset < stop:
                        found.append(Message(kind, topic, rec.offset, rec.value))
        finally:
            await reader.stop()
        return found

    async def pulse(self) -> None:
        """Runs empty slices where a drill escalation is due: it counts wall-clock seconds."""
        now = int(time.time() * 1000)
        due = [p for p, run in self.runners.items()
               if run.state.drill.esc_due.size and int(run.state.drill.esc_due.min()) <= now]
        if due:
            async with self.lock:
                assigned = self._assigned()
                await self._run({p: [] for p in due if p in assigned})

    async def _run(self, slices: dict[int, list[Message]]) -> None:
        if not slices:
            return
        now_ms = int(time.time() * 1000)
        t0 = time.perf_counter()  # ms_* counters: where a batch's time goes, in the stats line
        updates: list[dict] = []
        dead = []
        for p in sorted(slices):
            ups, letters = self.runner(p).run(slices[p], now_ms)
            updates += ups
            dead += letters
        engine_s = time.perf_counter() - t0
        self.counts["ms_engine"] += int(engine_s * 1000)
        n_in = sum(len(m) for m in slices.values())
        self.metrics.observe_batch(n_in, engine_s)
        self.metrics.observe_decode(n_in - len(dead), Counter(d.reason for d in dead))
        self.metrics.sync_engine_stats(self.engine.stats)
        self.metrics.observe_updates(updates, now_ms)
        producer = self.app.producer
        acks = []
        for u in updates:
            acks.append(await producer.send(self.topics.alerts, u["alert_id"].encode(),
                                            orjson.dumps(u), None, None, None))
        for d in dead:
            acks.append(await producer.send(self.topics.dead_letter, None,
                                            _dead_letter_json(d), None, None, None))
        t_a = time.perf_counter()
        try:
            await asyncio.gather(*acks)
        except Exception:
            self.metrics.observe_produce_error(self.topics.alerts)
            raise
        t_b = time.perf_counter()
        await self._persist(sorted(slices))
        t_c = time.perf_counter()
        self.counts["ms_alert_acks"] += int((t_b - t_a) * 1000)
        self.counts["ms_persist"] += int((t_c - t_b) * 1000)
        self.counts["batches"] += 1
        self.counts["alert_updates"] += len(updates)
        self.counts["alerts_opened"] += sum(1 for u in updates if u["version"] == 1)
        self.counts.update(f"dead_letter.{d.reason}" for d in dead)

    async def _persist(self, parts: list[int]) -> None:
        producer = self.app.producer
        for table, records in (
            (self.persons, [(p, self.runners[p].person_records()) for p in parts]),
            (self.clocks, [(p, [self.runners[p].clock_record()]) for p in parts]),
        ):
            topic = table.changelog_topic.get_topic_name()
            acks = []
            for p, recs in records:
                for key, value in recs:
                    k = key.encode()
                    table.data[k] = value
                    acks.append(await producer.send(topic, k, value, p, None, None))
            t1 = time.perf_counter()
            await asyncio.gather(*acks)
            self.counts["ms_persist_wait"] += int((time.perf_counter() - t1) * 1000)

    def _maybe_log_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_stats >= self.conf.stats_every_s:
            self._last_stats = now
            stats = dict(self.engine.stats) | dict(self.counts)
            for run in self.runners.values():
                for k, v in run.stats.items():
                    stats[k] = stats.get(k, 0) + v
            log.warning("lookout worker: %s", orjson.dumps(stats).decode())


def _dead_letter_json(letter) -> bytes:
    try:
        return orjson.dumps(letter.to_dict())
    except orjson.JSONEncodeError:  # a lone surrogate in raw: escape it rather than fail
        return json.dumps(letter.to_dict()).encode()


def build_app(bundle: Bundle, conf: WorkerConfig):
    """The faust app and its LookoutWorker; nothing runs until the app starts."""
    import faust

    t = conf.topics
    app = faust.App(
        t.app_id,
        broker=";".join(f"kafka://{h.strip()}" for h in conf.bootstrap.split(",")),
        store="memory://",
        web_enabled=False,  # several workers on one host; nothing here serves HTTP
        datadir=conf.datadir or tempfile.mkdtemp(prefix="lookout-worker-"),
        topic_partitions=conf.partitions,
        topic_replication_factor=conf.replication_factor,
        topic_allow_declare=True,
        table_standby_replicas=0,  # a rebalance re-reads the changelogs whole anyway
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=conf.session_timeout_s,
        broker_heartbeat_interval=conf.heartbeat_s,
        broker_commit_interval=conf.commit_interval_s,
        broker_commit_every=conf.batch,
        stream_buffer_maxsize=max(4096, 2 * conf.batch),
        key_serializer="raw",
        value_serializer="raw",
    )
    # keys and values stay bytes: the app's serializers are raw
    raw = {"key_type": bytes, "value_type": bytes, "partitions": conf.partitions}
    persons = app.Table("persons", help="person_id -> both worlds' state", **raw)
    clocks = app.Table("clocks", help="partition -> clocks and next offsets", **raw)
    worker = LookoutWorker(app, bundle, conf, persons, clocks)
    source = app.topic(t.events, t.actions, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")

    async def engine_agent(stream):
        # faust leaves aiokafka logging at DEBUG; formatting a record per message sent costs
        # about 5 % of the worker even though no handler prints it
        for name in ("aiokafka", "kafka"):
            logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
        async for events in stream.take_events(conf.batch, within=conf.within_s):
            try:
                await worker.handle(events)
            except Exception:  # a bug, not bad input: stop rather than skip a batch
                log.exception("batch failed; exiting so the batch is processed again")
                logging.shutdown()
                os._exit(EXIT_CRASHED)

    app.agent(source, name="lookout-engine")(engine_agent)

    async def drill_pulse():
        await worker.pulse()

    app.timer(1.0, name="lookout-drill-pulse")(drill_pulse)

    @app.on_partitions_revoked.connect
    async def _revoked(app, revoked, **kwargs):  # noqa: ARG001 - faust's signal signature
        worker.forget(revoked)

    @app.on_rebalance_complete.connect
    async def _rebalanced(app, **kwargs):  # noqa: ARG001
        log.warning("lookout worker: partitions %s", sorted(worker._assigned()))

    return app, worker


def run_worker(bundle: Bundle, conf: WorkerConfig) -> int:
    import faust

    app, worker = build_app(bundle, conf)
    runner = faust.Worker(app, loglevel=conf.loglevel, quiet=True, redirect_stdouts=False)
    try:
        runner.execute_from_commandline()
    except SystemExit as exc:
        worker._maybe_log_stats(force=True)
        return int(exc.code or 0)
    worker._maybe_log_stats(force=True)
    return 0


