"""`lookout worker`: the engine on Kafka (SPEC §6), one consumer-group member per process.

The worker reads `{prefix}.events` and `{prefix}.actions` (co-partitioned, both keyed by
person_id) with aiokafka, faust-streaming's own client, in the group `{prefix}-worker`. Each
assigned partition has its own engine state (partition.py); a fetched batch is cut by partition
and each slice runs through `Engine.process` and `Engine.act`, exactly as `lookout replay`.

Not a faust agent: faust's per-message path (Message and Event objects, a queue per channel,
an ack per message) measured about 30 µs a message here, ten times a bare aiokafka loop, and
its fetcher drops messages around rebalances (faust-streaming #216, #221). The worker keeps
what faust's tables gave, with less: per-person state in compacted changelog topics
co-partitioned with the events, restored when a partition is assigned.

The order that makes a SIGKILL harmless:

1. run a batch: alert updates and dead letters, in memory;
2. produce them (the next batch runs while the broker acknowledges them);
3. now and then (`checkpoint_s`, when idle, before giving partitions up, on stop) wait until
   every update sent is acknowledged, then write a checkpoint: the persons changed since the
   last one, wait, then each partition's clock record with the next input offsets, wait; then
   commit those offsets for the group's lag.

A crash repeats what came after the last checkpoint, which produces the same updates again
(the engine is deterministic; consumers keep the first of each (alert_id, version)). A crash
inside 3 leaves some persons ahead of the clock, which the engine treats as events already
seen. The clock record, not the group's committed offsets, says where a partition resumes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby

import orjson
from aiokafka import ConsumerRebalanceListener

from alerts import coverage
from alerts.records import AlertUpdate
from alerts.timefmt import wall_ms
from config.model import Bundle
from stream.deadletter import letter_json
from stream.kafka.caseloads import Partitioned
from stream.kafka.partition import ACTION, EVENT, CheckpointPlan, PartitionRunner
from stream.kafka.topics import Topics
from stream.metrics import LookoutMetrics

log = logging.getLogger("lookout.worker")
EXIT_CRASHED = 70  # EX_SOFTWARE: a supervisor restarts the worker; its state is consistent
RESTORE_TIMEOUT_S = 120.0
RESTORE_FETCH_WAIT_MS = 10
STATE_BATCH_BYTES = 512 * 1024  # under the broker's default 1 MiB message limit
MAX_IN_FLIGHT = 10_000  # alert updates sent and not yet acknowledged, at most
# A checkpoint goes out in slices of buckets (~16 persons each) for about this long per turn of
# the loop, busy or idle (a steady trickle is idle between events): a province's checkpoint
# written at once stalled the loop for hundreds of ms (p99 0.5 s at 200,000 persons).
SLICE_S = 0.01
SLICE_BUCKETS = 64
# Per partition and fetch. Each fetch round trip that finds the buffer empty stalls the loop;
# bigger fetches make fewer of them (16 MiB is ~80,000 events of ~200 bytes).
MAX_PARTITION_FETCH_BYTES = 16 << 20
FETCH_MAX_BYTES = 64 << 20


@dataclass
class WorkerConfig:
    bootstrap: str
    topics: Topics
    partitions: int
    batch: int = 20000
    within_s: float = 0.05
    session_timeout_s: float = 10.0
    heartbeat_s: float = 2.0
    checkpoint_s: float = 5.0
    loglevel: str = "warning"
    stats_every_s: float = 30.0
    metrics_port: int | None = None  # serve /metrics for Prometheus on this port


class LookoutWorker:
    """Batches in, updates out, state checkpointed in order."""

    def __init__(self, bundle: Bundle, conf: WorkerConfig):
        self.conf, self.topics = conf, conf.topics
        # every partition's engine over its own persons (~0.3 s each at 200,000 persons over
        # 4): built now, before joining the group, while the partitions' owners still watch
        # them, not when a rebalance hands them over and nobody does until they are ready
        self.caseloads = Partitioned(bundle, conf.partitions)
        for p in range(conf.partitions):
            self.caseloads[p]
        self.runners: dict[int, PartitionRunner] = {}
        self.parked: dict[int, _Parked] = {}  # given up at the last rebalance, state saved
        self.unsaved: set[int] = set()  # partitions that ran since their last checkpoint
        self.writing: _Checkpoint | None = None  # a checkpoint being written, in slices
        self.restoring: set = set()  # assigned topic-partitions, paused until restored
        self.in_flight: list = []  # futures of alert updates and dead letters not yet acked
        self.counts: Counter = Counter()
        self.metrics = LookoutMetrics()
        coverage.report(bundle, self.metrics)
        if conf.metrics_port:
            self.metrics.serve(conf.metrics_port, addr="127.0.0.1")
        # the fetch loop and the rebalance callbacks (another task) share the runners
        self.lock = asyncio.Lock()
        self.consumer = self.producer = None
        self._last_checkpoint = self._last_pulse = self._last_stats = time.monotonic()
        self._waiting_for_records = False
        self._backlog = False  # assigned partitions not yet read to their end once

    # -- life ---------------------------------------------------------------------------------
    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        c = self.conf
        self.producer = AIOKafkaProducer(bootstrap_servers=c.bootstrap, acks="all",
                                         max_batch_size=STATE_BATCH_BYTES, linger_ms=0)
        await self.producer.start()
        # Range assignment gives a member the same partition numbers of every topic it
        # subscribes to: a person's actions reach the worker holding their events' state.
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=c.bootstrap, group_id=self.topics.app_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=int(c.session_timeout_s * 1000),
            heartbeat_interval_ms=int(c.heartbeat_s * 1000),
            rebalance_timeout_ms=max(int(c.session_timeout_s * 1000), 30_000),
            max_partition_fetch_bytes=MAX_PARTITION_FETCH_BYTES, fetch_max_bytes=FETCH_MAX_BYTES,
            partition_assignment_strategy=(RangePartitionAssignor,))
        self.consumer.subscribe([self.topics.events, self.topics.actions],
                                listener=_Rebalance(self))
        await self.consumer.start()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                if self.restoring:
                    async with self.lock:
                        await self._restore_assigned()
                t0 = time.perf_counter()
                # with a checkpoint to write, whatever is buffered and no wait: an idle loop
                # wrote its slices a poll's wait apart (a province's took seconds, at 17% CPU)
                wait_ms = 0 if self.writing is not None else int(self.conf.within_s * 1000)
                fetched = await self.consumer.getmany(timeout_ms=wait_ms,
                                                      max_records=self.conf.batch)
                if fetched:
                    self.counts["ms_fetch"] += int((time.perf_counter() - t0) * 1000)
                    if self._waiting_for_records:  # benchmarks time a run from this line
                        self._waiting_for_records = False
                        log.info("first records since the assignment: %d",
                                 sum(len(records) for records in fetched.values()))
                async with self.lock:
                    if fetched:
                        await self._handle(fetched)
                    await self._maybe_pulse()
                    # a checkpoint goes out a slice per turn of the loop
                    if self.writing is None and self.unsaved and self._checkpoint_due(
                            bool(fetched)):
                        await self._begin_checkpoint(sorted(self.unsaved))
                    await self._write_checkpoint(SLICE_S)
                self._maybe_log_stats()
            async with self.lock:
                await self._checkpoint(sorted(self.unsaved))
        finally:
            await self.consumer.stop()  # leaves the group: the partitions move on at once
            await self.producer.stop()

    def _checkpoint_due(self, fetched: bool) -> bool:
        """Every `checkpoint_s` while busy; and at once when there is nothing more to read:
        after a poll that came back empty, or once the backlog found at an assignment is read
        (not waiting for that empty poll). A poll can come back empty with more to read, while
        the next fetch is on its way: that is no pause (a province's backlog checkpointed at
        every fetch round trip). A steady trickle, caught up after every batch, checkpoints
        when a poll finds nothing, or every `checkpoint_s`."""
        if time.monotonic() - self._last_checkpoint >= self.conf.checkpoint_s:
            return True
        if (not fetched or self._backlog) and self._caught_up():
            self._backlog = False
            return True
        return False

    def _caught_up(self) -> bool:
        """Whether every assigned partition has been read up to the high watermark its last
        fetch reported: nothing more is there to read yet."""
        for tp in self.consumer.assignment():
            run = self.runners.get(tp.partition)
            highwater = self.consumer.highwater(tp)
            if run is None or highwater is None or run.next_offset.get(tp.topic, 0) < highwater:
                return False
        return True

    # -- partitions ---------------------------------------------------------------------------
    async def assigned(self, tps) -> None:
        """Pauses what needs restoring: the restore runs in the fetch loop, since heartbeats
        stop while this callback runs and a long restore would cost the membership.

        Every assigned partition is restored from its changelog, even one this worker ran
        before: the group revokes all before it assigns, so whoever owned it meanwhile (maybe
        nobody, maybe another worker) wrote the last checkpoint."""
        tps = set(tps)
        async with self.lock:
            self._forget_parked({tp.partition for tp in tps})
            self._drop(sorted({tp.partition for tp in tps} & self.runners.keys()))
            self.restoring |= tps
            self.consumer.pause(*tps)
        if not tps:
            log.warning("lookout worker: partitions %s", sorted(self.runners))

    async def _restore_assigned(self) -> None:
        tps = {tp for tp in self.restoring if tp in self.consumer.assignment()}
        self.restoring.clear()
        parts = sorted({tp.partition for tp in tps})
        if not parts:
            return
        t0 = time.perf_counter()
        self.runners.update(await self._restore(parts))
        for tp in tps:
            self._seek(tp)
        self.consumer.resume(*tps)
        self._waiting_for_records = self._backlog = True
        log.info("restored partitions %s in %.2f s", parts, time.perf_counter() - t0)
        log.warning("lookout worker: partitions %s", sorted(self.runners))

    async def revoked(self, tps) -> None:
        """Checkpoint what is given up; its next owner restores from there."""
        self.restoring -= set(tps)
        parts = sorted({tp.partition for tp in tps} & self.runners.keys())
        async with self.lock:
            await self._checkpoint([p for p in parts if p in self.unsaved])
            await self._park(parts)
            self._drop(parts)

    def _drop(self, parts: list[int]) -> None:
        for p in parts:
            self.unsaved.discard(p)
            if self.writing is not None:
                self.writing.plans.pop(p, None)
            run = self.runners.pop(p, None)
            if run is not None and p not in self.parked:  # a parked one counts when forgotten
                self.counts.update(run.stats)
            for topic in (self.topics.events, self.topics.actions):
                self.metrics.forget_partition(topic, p)  # no stale lag for it

    async def _still_member(self, parts: list[int]) -> bool:
        """Whether the group still counts this worker in (a dropped one must not write).
        The broker's answer to a commit is the check; a member dropped in the instant after
        it can still write once (only Kafka transactions fence that)."""
        from aiokafka.errors import CommitFailedError, IllegalStateError

        # aiokafka resets the generation and member id when the coordinator says it forgot
        # this member (it has no public accessor for them). A reset while the commit waits
        # would send it as a group-less commit, which the broker may take: so compare after.
        member = self._member()
        if member[0] < 0 or not member[1]:
            return False
        offsets = self._offsets(parts, saved=True)
        if offsets:  # the broker refuses a commit from a member it dropped
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError):
                return False
        return self._member() == member

    def _seek(self, tp) -> None:
        """Where the state ends, not where the group committed (the state is written first).
        Nothing read yet: offset 0, which the consumer's auto_offset_reset="earliest" moves to
        the first offset retention kept; not seek_to_beginning, whose offset request waited
        behind the fetch in flight (up to fetch_max_wait_ms, 0.5 s) at every assignment."""
        self.consumer.seek(tp, self.runners[tp.partition].next_offset.get(tp.topic, 0))

    async def _restore(self, parts: list[int]) -> dict[int, PartitionRunner]:
        """Runners rebuilt from the changelogs' latest record per key; or the runner this
        worker gave up, when nobody has written the partition's changelogs since."""
        if not parts:
            return {}
        reader = self._changelog_reader()
        await reader.start()
        try:
            ends = await reader.end_offsets(self._changelog_tps(parts))
            out = self._unpark(parts, ends)
            latest = await self._read_changelogs(reader, [p for p in parts if p not in out],
                                                 ends)
        finally:
            await reader.stop()
        persons_t, clocks_t = self.topics.changelog("persons"), self.topics.changelog("clocks")
        for p in parts:
            if p in out:
                continue
            persons = ((k.decode(), v) for k, v in latest.get((persons_t, p), {}).items()
                       if v is not None)
            clock = latest.get((clocks_t, p), {}).get(str(p).encode())
            run = PartitionRunner.restore(self.caseloads[p], persons, clock)
            log.info("partition %d: restored %d persons, next offsets %s", p,
                     run.stats["restored_persons"], run.next_offset or "none")
            out[p] = run
            await asyncio.sleep(0)  # heartbeats between partitions: a province's take seconds
        return out

    def _changelog_reader(self):
        from aiokafka import AIOKafkaConsumer

        # A fetch that finds nothing waits up to fetch_max_wait_ms at the broker, and the
        # offset requests of the seek and of end_offsets queue behind it on the connection:
        # at the default 500 ms every assignment took half a second more, empty or not.
        return AIOKafkaConsumer(bootstrap_servers=self.conf.bootstrap,
                                enable_auto_commit=False, max_partition_fetch_bytes=8 << 20,
                                fetch_max_wait_ms=RESTORE_FETCH_WAIT_MS)

    def _changelog_tps(self, parts: list[int]) -> list:
        from aiokafka import TopicPartition

        return [TopicPartition(self.topics.changelog(t), p) for t in ("persons", "clocks")
                for p in parts]

    async def _read_changelogs(self, reader, parts: list[int], ends: dict) -> dict:
        """(topic, partition) -> key -> the latest value, for every record up to `ends`."""
        tps = self._changelog_tps(parts)
        if not tps:
            return {}
        latest: dict = {(tp.topic, tp.partition): {} for tp in tps}
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        deadline = time.monotonic() + RESTORE_TIMEOUT_S
        while [tp for tp in tps if await reader.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"restoring partitions {parts} took over "
                                   f"{RESTORE_TIMEOUT_S:.0f} s")
            for tp, records in (await reader.getmany(*tps, timeout_ms=500)).items():
                held = latest[tp.topic, tp.partition]
                for r in records:
                    # newest last: a person's state is the latest record holding them, also
                    # when a bucket layout changed and an older key still holds them
                    held.pop(r.key, None)
                    held[r.key] = r.value
        return latest

    async def _park(self, parts: list[int]) -> None:
        """Keeps the runners of partitions given up with their state saved, beside the
        changelogs' end offsets: if the next assignment hands a partition back and nobody
        wrote its changelogs meanwhile, its runner is what a restore would rebuild (a worker
        keeping its partitions through another's join skips reading them back)."""
        parts = [p for p in parts if p in self.runners and p not in self.unsaved]
        if not parts or self.writing is not None:
            return
        reader = self._changelog_reader()
        await reader.start()
        try:
            ends = await reader.end_offsets(self._changelog_tps(parts))
        finally:
            await reader.stop()
        for p in parts:
            self.parked[p] = _Parked(self.runners[p], _ends_of(ends, p))

    def _unpark(self, parts: list[int], ends: dict) -> dict[int, PartitionRunner]:
        out = {}
        for p in parts:
            parked = self.parked.pop(p, None)
            if parked is None:
                continue
            if parked.ends == _ends_of(ends, p):
                log.info("partition %d: kept from before the rebalance, next offsets %s", p,
                         parked.runner.next_offset or "none")
                self.counts["partitions_kept"] += 1
                out[p] = parked.runner
            else:  # another owner wrote since: its checkpoint is the state
                self.counts.update(parked.runner.stats)
        return out

    def _forget_parked(self, keep: set[int]) -> None:
        for p in sorted(self.parked.keys() - keep):
            self.counts.update(self.parked.pop(p).runner.stats)

    # -- batches ------------------------------------------------------------------------------
    async def _handle(self, fetched: dict) -> None:
        by_partition: dict[int, list] = {}
        for tp, records in fetched.items():
            if tp.partition not in self.runners:  # given up since the fetch: its owner reruns it
                self.counts["dropped_after_revoke"] += len(records)
                continue
            by_partition.setdefault(tp.partition, []).append(records)
        await self._run({p: self._segments(lists) for p, lists in by_partition.items()})
        self._observe_lag(fetched)

    def _segments(self, lists: list[list]) -> list[tuple[str, list]]:
        """One partition's events and actions as runs of one kind, in the order they were
        written (record time) when both came."""
        events = self.topics.events
        if len(lists) == 1:
            records = lists[0]
            return [(EVENT if records[0].topic == events else ACTION, records)]
        merged = sorted((r for records in lists for r in records), key=lambda r: r.timestamp)
        return [(kind, list(group)) for kind, group in
                groupby(merged, key=lambda r: EVENT if r.topic == events else ACTION)]

    def _observe_lag(self, fetched: dict) -> None:
        """Consumer lag per partition: what the broker holds beyond the last offset handled."""
        for tp, records in fetched.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None and records:
                self.metrics.observe_lag(tp.topic, tp.partition,
                                         int(highwater) - records[-1].offset - 1)

    async def _maybe_pulse(self) -> None:
        """Runs empty slices where a drill escalation is due: it counts wall-clock seconds."""
        if time.monotonic() - self._last_pulse < 1.0:
            return
        self._last_pulse = time.monotonic()
        now = wall_ms()
        due = [p for p, run in self.runners.items() if run.state.drill.esc_due_before(now + 1).size]
        if due:
            await self._run({p: [] for p in due})

    async def _run(self, slices: dict[int, list[tuple[str, list]]]) -> None:
        if not slices:
            return
        now_ms = wall_ms()
        t0 = time.perf_counter()  # ms_* counters: where a batch's time goes, in the stats line
        updates: list[AlertUpdate] = []
        dead = []
        for p in sorted(slices):
            ups, letters = self.runners[p].run_segments(slices[p], now_ms)
            updates += ups
            dead += letters
            self.unsaved.add(p)
        engine_s = time.perf_counter() - t0
        self.counts["ms_engine"] += int(engine_s * 1000)
        n_in = sum(len(records) for segments in slices.values() for _, records in segments)
        self.metrics.observe_batch(n_in, engine_s)
        self.metrics.observe_decode(n_in - len(dead), Counter(d.reason for d in dead))
        self.metrics.sync_engine_stats(self._engine_stats())
        self.metrics.observe_updates(updates, now_ms)
        # Sent now, acknowledged by the next checkpoint at the latest: the checkpoint that
        # covers these inputs must not be written before them, the next batch may.
        self.in_flight += [await self.producer.send(self.topics.alerts, orjson.dumps(u.to_wire()),
                                                    key=u.alert_id.encode()) for u in updates]
        self.in_flight += [await self.producer.send(self.topics.dead_letter,
                                                    letter_json(d)) for d in dead]
        if len(self.in_flight) > MAX_IN_FLIGHT:
            await self._acknowledged()
        self.counts["batches"] += 1
        self.counts["alert_updates"] += len(updates)
        self.counts["alerts_opened"] += sum(1 for u in updates if u.version == 1)
        self.counts.update(f"dead_letter.{d.reason}" for d in dead)

    # -- checkpoints --------------------------------------------------------------------------
    async def _acknowledged(self) -> None:
        """Until the broker has every alert update and dead letter sent so far."""
        t0 = time.perf_counter()
        in_flight, self.in_flight = self.in_flight, []
        try:
            await asyncio.gather(*in_flight)
        except Exception:
            self.metrics.observe_produce_error(self.topics.alerts)
            raise
        self.counts["ms_alert_acks"] += int((time.perf_counter() - t0) * 1000)

    async def _checkpoint(self, parts: list[int]) -> None:
        """A whole checkpoint now (the one in progress first, if any)."""
        await self._write_checkpoint(None)
        await self._begin_checkpoint(parts)
        await self._write_checkpoint(None)

    async def _begin_checkpoint(self, parts: list[int]) -> None:
        """What the partitions hold now is what the checkpoint will cover."""
        parts = [p for p in parts if p in self.runners]
        if not parts:
            return
        await self._acknowledged()
        if not await self._still_member(parts):
            # The group moved these partitions on while this worker was away (stopped, cut
            # off): their new owner may be ahead, and our records would put it back in time.
            # Forget them. The refusal makes aiokafka rejoin, and what the group then assigns
            # is restored afresh (not before: the owner may not have written its last
            # checkpoint yet).
            self._refused(parts)
            return
        self.writing = _Checkpoint({p: self.runners[p].begin_checkpoint() for p in parts},
                                   self._member(), time.perf_counter())
        self.unsaved.difference_update(parts)

    async def _write_checkpoint(self, budget_s: float | None) -> None:
        """Changed buckets for about `budget_s` (None: all of them); once none is left, the
        clock records, acknowledged; then the group's offsets."""
        cp = self.writing
        if cp is None:
            return
        if self._member() != cp.member:  # dropped by the group since the checkpoint began
            self.writing = None
            self._refused(sorted(cp.plans))
            return
        # the buckets hold the effects of every batch run so far: their updates go first
        await self._acknowledged()
        t0 = time.perf_counter()
        persons_t = self.topics.changelog("persons")
        for p, plan in cp.plans.items():
            while plan.buckets and (budget_s is None or time.perf_counter() - t0 < budget_s):
                take = plan.buckets[:SLICE_BUCKETS]
                recs = self.runners[p].person_records(take)
                del plan.buckets[:len(take)]
                self.counts["buckets_saved"] += len(recs)
                cp.acks += await self._send_records(persons_t, p, recs)
        self.counts["ms_checkpoint_export"] += int((time.perf_counter() - t0) * 1000)
        if any(plan.buckets for plan in cp.plans.values()):
            return  # the rest at the next turn
        self.writing = None
        await asyncio.gather(*cp.acks)
        # The membership was checked when the checkpoint began; its slices may have run on
        # for a while since (a stopped process resumes mid-checkpoint), and the clock record
        # is what says where the partition resumes: a dropped member's would put it back.
        if self._member() != cp.member or not await self._still_member(sorted(cp.plans)):
            self._refused(sorted(cp.plans))
            return
        acks = []
        for p, plan in cp.plans.items():
            acks += await self._send_records(self.topics.changelog("clocks"), p, [plan.clock])
        await asyncio.gather(*acks)
        for p, plan in cp.plans.items():
            self.runners[p].saved(plan)
        self._last_checkpoint = time.monotonic()
        self.counts["checkpoints"] += 1
        self.counts["ms_checkpoint"] += int((time.perf_counter() - cp.began) * 1000)
        try:
            await self.consumer.commit(self._offsets(sorted(cp.plans), saved=True))
        except Exception as err:  # the clock records already hold the offsets
            log.info("offset commit for partitions %s failed: %s", sorted(cp.plans), err)

    def _refused(self, parts: list[int]) -> None:
        log.warning("no longer in the group: dropping partitions %s unsaved", parts)
        self.counts["checkpoints_refused"] += 1
        self._drop(parts)

    def _member(self) -> tuple[int, str]:
        # aiokafka has no public accessor for the generation and member id
        coordinator = self.consumer._coordinator
        return coordinator.generation, coordinator.member_id

    async def _send_records(self, topic: str, p: int, records) -> list:
        """Records in as few produce batches as fit: one future per batch, not per record."""
        futures, batch = [], self.producer.create_batch()
        for key, value in records:
            k = key.encode()
            if batch.append(key=k, value=value, timestamp=None) is None:
                futures.append(await self.producer.send_batch(batch, topic, partition=p))
                batch = self.producer.create_batch()
                batch.append(key=k, value=value, timestamp=None)
        if batch.record_count():
            futures.append(await self.producer.send_batch(batch, topic, partition=p))
        return futures

    def _offsets(self, parts: list[int], saved: bool = False) -> dict:
        from aiokafka import TopicPartition

        assigned = self.consumer.assignment()
        out = {}
        for p in parts:
            offsets = self.runners[p].next_offset
            if saved:  # the offsets of the last clock record written
                offsets = self.runners[p].saved_offset
            for topic, offset in offsets.items():
                tp = TopicPartition(topic, p)
                if tp in assigned:
                    out[tp] = offset
        return out

    def _engine_stats(self) -> Counter:
        """Every partition engine's counts: each counts from its first assignment on."""
        return sum((part.engine.stats for part in self.caseloads.built()), Counter())

    def _maybe_log_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_stats >= self.conf.stats_every_s:
            self._last_stats = now
            stats = dict(self._engine_stats()) | dict(self.counts)
            for run in self.runners.values():
                for k, v in run.stats.items():
                    stats[k] = stats.get(k, 0) + v
            log.warning("lookout worker: %s", orjson.dumps(stats).decode())


@dataclass
class _Checkpoint:
    plans: dict[int, CheckpointPlan]  # partition -> what is left to write
    member: tuple[int, str]  # the group generation and member id it began in
    began: float  # perf_counter
    acks: list = field(default_factory=list)  # the bucket records sent


@dataclass(slots=True)
class _Parked:
    runner: PartitionRunner
    ends: dict  # the partition's changelogs' end offsets (topic -> offset) when given up


def _ends_of(ends: dict, p: int) -> dict[str, int]:
    return {tp.topic: offset for tp, offset in ends.items() if tp.partition == p}


class _Rebalance(ConsumerRebalanceListener):
    """aiokafka's rebalance listener; both callbacks are awaited before the group moves on."""

    def __init__(self, worker: LookoutWorker):
        self.worker = worker

    async def on_partitions_revoked(self, revoked) -> None:
        await _or_exit(self.worker.revoked(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        await _or_exit(self.worker.assigned(assigned))


async def _or_exit(step) -> None:
    # aiokafka logs and swallows a listener's exception; a partition restored halfway or
    # checkpointed halfway must not run on, so the process ends and restarts clean
    try:
        await step
    except Exception:
        log.exception("rebalance step failed; exiting")
        _exit(EXIT_CRASHED)


def _exit(code: int) -> None:
    import os

    logging.shutdown()
    os._exit(code)


async def _main(bundle: Bundle, conf: WorkerConfig) -> None:
    worker = LookoutWorker(bundle, conf)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    # The bundle, its compiled zones and the person table are built once and live as long as
    # the process: out of the collector's sight, its full collections stop walking them.
    gc.freeze()
    try:
        await worker.run(stop)
    except Exception:  # a bug, not bad input: stop rather than skip a batch
        log.exception("batch failed; exiting so the batch is processed again")
        worker._maybe_log_stats(force=True)
        _exit(EXIT_CRASHED)
    worker._maybe_log_stats(force=True)


def run_worker(bundle: Bundle, conf: WorkerConfig) -> int:
    logging.basicConfig(level=getattr(logging, conf.loglevel.upper()),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    # aiokafka at DEBUG formats a record per message sent even when nothing prints it
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    asyncio.run(_main(bundle, conf))
    return 0
