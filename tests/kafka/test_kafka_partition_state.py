"""A worker against the real broker, in this process: the state it holds per partition, a
misrouted event, and a restart that restores what it saved."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import orjson
from kafkakit import DEMO, read_all

from alerts.state import COLUMNS
from config.loader import load_bundle
from stream.kafka.partition import home_partition
from stream.kafka.topics import Topics, create_topics
from stream.kafka.worker import LookoutWorker, WorkerConfig

N = 2


def _status(pid: str, ts_ms: int, event: str = "tamper") -> bytes:
    return orjson.dumps({"type": "status", "person_id": pid, "ts": ts_ms, "event": event})


def _produce_to(bootstrap: str, topic: str, messages: list[tuple[int, str, bytes]]) -> None:
    """(partition, key, value) each, on the partition given, whatever the key hashes to."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for p, key, value in messages:
            producer.send(topic, key=key.encode(), value=value, partition=p)
        producer.flush()
    finally:
        producer.close()


async def _run_until(worker: LookoutWorker, done, timeout: float = 60.0) -> None:
    """Runs the worker until `done(worker)` holds, then stops it (its last checkpoint)."""
    stop = asyncio.Event()
    await worker.start()
    task = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + timeout
    while not done(worker):
        assert time.monotonic() < deadline, f"timed out: {dict(worker.counts)}"
        assert not task.done(), task.exception()
        await asyncio.sleep(0.1)
    stop.set()
    await task


def test_a_worker_keeps_only_its_persons_dead_letters_a_misrouted_event_and_restores(
        bootstrap, prefix):
    bundle = load_bundle(DEMO)
    topics = Topics(prefix)
    create_topics(bootstrap, topics, N)
    ids = list(bundle.persons.ids)
    homes = {pid: home_partition(pid, N) for pid in ids}
    assert set(homes.values()) == set(range(N))  # the demo's persons span both partitions
    mine = next(pid for pid in ids if homes[pid] == 0)
    now = int(time.time() * 1000)
    _produce_to(bootstrap, topics.events, [
        (0, mine, _status(mine, now - 60_000)),
        (1, mine, _status(mine, now - 50_000)),  # keyed to the wrong partition by hand
        (1, "P-nobody", _status("P-nobody", now - 40_000)),
    ])
    conf = WorkerConfig(bootstrap, topics, N, session_timeout_s=6.0, heartbeat_s=1.0)
    first, second = LookoutWorker(bundle, conf), LookoutWorker(bundle, conf)
    held: dict[str, dict[int, tuple]] = {"first": {}, "second": {}}

    def holding(name: str, events: int):
        def done(w: LookoutWorker) -> bool:
            if len(w.runners) < N or w.restoring or sum(
                    run.stats["events"] for run in w.runners.values()) < events:
                return False
            held[name] = {p: _snapshot(run) for p, run in w.runners.items()}
            return True
        return done

    asyncio.run(_run_until(first, holding("first", 3)))
    # each partition's engine and state cover its own persons, every person once
    for p, (persons, cols, _, _) in held["first"].items():
        assert persons == [pid for pid in ids if homes[pid] == p]
        assert all(col.size == len(persons) for col in cols.values())
    assert first.counts["dead_letter.wrong_partition"] == 1
    assert first.counts["dead_letter.unknown_person"] == 1
    assert first.counts["alerts_opened"] == 1  # the tamper on the right partition only
    letters = read_all(bootstrap, topics.dead_letter)
    assert sorted(d["reason"] for d in letters) == ["unknown_person", "wrong_partition"]
    wrong = next(d for d in letters if d["reason"] == "wrong_partition")
    assert f'"{mine}" belongs to partition 0, not 1' in wrong["detail"]
    row = held["first"][0][0].index(mine)
    assert held["first"][0][1]["latest_ts"][row] == now - 60_000

    # a restarted worker restores what the first one saved when it stopped, column by column
    asyncio.run(_run_until(second, holding("second", 0)))
    assert second.counts["dead_letter.wrong_partition"] == 0  # nothing ran again
    for p in range(N):
        persons, cols, offsets, incidents = held["second"][p]
        was_persons, was_cols, was_offsets, was_incidents = held["first"][p]
        assert (persons, offsets, incidents) == (was_persons, was_offsets, was_incidents)
        for c, col in cols.items():
            np.testing.assert_array_equal(col, was_cols[c])
    assert held["second"][1][2] == {topics.events: 2}


def _snapshot(run) -> tuple:
    """A partition's persons, real-world columns, next offsets and incidents."""
    st = run.state.real
    return (list(run.engine.caseload.person_ids), {c: getattr(st, c).copy() for c in COLUMNS},
            dict(run.next_offset), sorted(inc.alert_id for inc in st.book.by_key.values()))


def test_a_worker_keeps_the_partition_it_is_handed_back_and_restores_the_one_it_was_not(
        bootstrap, prefix):
    """A second worker joins: the first gives up both partitions, gets one back and keeps its
    runner as it was (nobody wrote that partition's changelogs meanwhile); the second restores
    the other from the changelogs. Both then hold exactly what one worker held."""
    bundle = load_bundle(DEMO)
    topics = Topics(prefix)
    create_topics(bootstrap, topics, N)
    ids = list(bundle.persons.ids)
    now = int(time.time() * 1000)
    _produce_to(bootstrap, topics.events, [
        (home_partition(pid, N), pid, _status(pid, now - 60_000 + i, "heartbeat"))
        for i, pid in enumerate(ids)])
    conf = WorkerConfig(bootstrap, topics, N, session_timeout_s=6.0, heartbeat_s=0.5)
    first, second = LookoutWorker(bundle, conf), LookoutWorker(bundle, conf)

    async def both() -> tuple[dict, dict]:
        stop = asyncio.Event()
        await first.start()
        task = asyncio.create_task(first.run(stop))
        await _until(lambda: len(first.runners) == N and not first.restoring
                     and sum(r.stats["events"] for r in first.runners.values()) == len(ids))
        alone = {p: _snapshot(run) for p, run in first.runners.items()}
        kept_runners = dict(first.runners)
        await second.start()
        task2 = asyncio.create_task(second.run(stop))
        await _until(lambda: len(first.runners) == 1 and len(second.runners) == 1
                     and not first.restoring and not second.restoring)
        (p_first,) = first.runners
        assert first.runners[p_first] is kept_runners[p_first]  # the same object, not reread
        together = {p: _snapshot(run) for w in (first, second) for p, run in w.runners.items()}
        stop.set()
        await asyncio.gather(task, task2)
        return alone, together

    alone, together = asyncio.run(both())
    assert first.counts["partitions_kept"] == 1
    assert second.counts["partitions_kept"] == 0
    assert sorted(together) == list(range(N))
    for p in range(N):
        persons, cols, offsets, incidents = together[p]
        assert (persons, offsets, incidents) == (alone[p][0], alone[p][2], alone[p][3])
        for c, col in cols.items():
            np.testing.assert_array_equal(col, alone[p][1][c])


async def _until(done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
