"""Partitioned engine state without a broker: what the workers do, checked against replay."""

from __future__ import annotations

import random
import time

import numpy as np
import orjson
import pytest
from kafkakit import DEMO, demo_feed, final_states, identities, in_process, outside_fix, tiny_bundle

from alerts.state import COLUMNS
from config.loader import load_bundle
from stream.kafka import partition as partition_mod
from stream.kafka.caseloads import Partitioned
from stream.kafka.partition import (
    ACTION,
    EVENT,
    Message,
    PartitionRunner,
    home_partition,
    murmur2_many,
    unpack_bucket,
)
from stream.kafka.replay import FeedPlan


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    return demo_feed(tmp_path_factory.mktemp("feed") / "feed.jsonl")


def partitioned(bundle_dir, n):
    """The bundle and its n partitions' caseloads, as a worker builds them."""
    bundle = load_bundle(bundle_dir)
    return bundle, Partitioned(bundle, n)


def run_partitioned(bundle_dir, lines, n, drill=False, seed=0, restart_p=0.3, sliced=False,  # noqa: C901 - the worker loop as one story
                    layouts=(partition_mod.PERSONS_PER_BUCKET,)):
    """Every partition in random batches, checkpointed now and then as the worker does, and
    rebuilt from its stored records at random moments: the input after the last checkpoint runs
    again, as a restarted worker reads it again from Kafka. Some checkpoints are torn (persons
    stored, the clock record not), as a crash between the two writes leaves them. `sliced`: a
    checkpoint's buckets go out a few at a time between later batches, then its clock record,
    as the worker writes them while events wait. Each restart picks a bucket size from
    `layouts`, as a grown bundle changes the layout; the store keeps the newest record per key
    and hands them back oldest first, as the worker's restore does."""
    _, parts = partitioned(bundle_dir, n)
    plan = FeedPlan(n, drill=drill)
    per = {p: [] for p in range(n)}
    for m in [*plan.messages(lines), *plan.end()]:
        per[m.partition].append(Message(EVENT, "events", len(per[m.partition]), m.value))
    rng = random.Random(seed)
    updates, restarts, torn = [], 0, 0

    def store(records):
        for key, value in records:
            persons.pop(key, None)
            persons[key] = value

    for p in range(n):
        run = PartitionRunner(parts[p])
        persons, clock, i, writing = {}, None, 0, None
        while i < len(per[p]):
            k = rng.randint(1, 400)
            ups, _ = run.run(per[p][i:i + k], int(time.time() * 1000))
            updates += [u.to_wire() for u in ups]
            i += k
            if writing is not None:  # the next slice of a checkpoint in progress
                store(run.person_records(writing.buckets[:1]))
                del writing.buckets[:1]
                if not writing.buckets:
                    clock, writing = writing.clock[1], run.saved(writing)
            elif rng.random() < 0.5:  # a checkpoint
                if sliced:
                    writing = run.begin_checkpoint()
                    continue
                store(run.person_records())
                if rng.random() < 0.2:
                    torn += 1
                else:
                    clock = run.clock_record()[1]
                    run.saved()
            if rng.random() < restart_p:
                partition_mod.PERSONS_PER_BUCKET = rng.choice(layouts)
                torn += writing is not None
                run = PartitionRunner.restore(parts[p], persons.items(), clock)
                i = orjson.loads(clock)["offsets"]["events"] if clock else 0
                restarts, writing = restarts + 1, None
    assert restarts > 0
    return updates, torn


@pytest.mark.parametrize("drill", [False, True])
def test_partitions_raise_what_one_process_raises(feed, drill):
    expected = in_process(DEMO, feed, drill=drill)
    got, torn = run_partitioned(DEMO, feed.read_bytes().splitlines(), 3, drill=drill)
    assert torn > 0
    assert identities(got) == identities(expected)


@pytest.mark.parametrize("drill", [False, True])
def test_checkpoints_written_in_slices_across_layout_changes_raise_what_one_process_raises(
        feed, drill, monkeypatch):
    """Buckets written a few at a time between later batches hold newer state than the clock
    record that follows them; restarts in between, with the bucket size changing, must still
    raise exactly what one process raises."""
    monkeypatch.setattr(partition_mod, "PERSONS_PER_BUCKET", 1)
    expected = in_process(DEMO, feed, drill=drill)
    got, torn = run_partitioned(DEMO, feed.read_bytes().splitlines(), 3, drill=drill, seed=1,
                                sliced=True, layouts=(1, 2, 16))
    assert torn > 0  # some restarts cut a checkpoint halfway
    assert identities(got) == identities(expected)
    assert final_states(got) == final_states(expected)
    assert {"zone_exit", "zone_enter", "signal_lost"} <= {u["type"] for u in expected}


def _persons_state(st):
    cols = {c: getattr(st, c).copy() for c in COLUMNS}
    counts = {pid: {z: tuple(v) for z, v in d.items()} for pid, d in st.counters.items()}
    return cols, counts, _incidents(st)


def _incidents(st) -> dict[str, list]:
    return {pid: [orjson.dumps(st.book.by_key[k].to_state()) for k in sorted(keys)]
            for pid, keys in st.book.keys_by_person.items()}


def _rows_that_differ(st, before) -> set[int]:
    """The reference for the rows the engine notes as written: every column, pending count and
    incident compared."""
    cols, counts, incidents = before
    now_incidents = _incidents(st)
    rows = {st.person_ids.index(pid) for pid in incidents.keys() | now_incidents.keys()
            if pid in st.person_ids and incidents.get(pid) != now_incidents.get(pid)}
    for c, old in cols.items():
        new = getattr(st, c)
        diff = new != old
        if new.dtype.kind == "f":
            diff &= ~(np.isnan(new) & np.isnan(old))
        rows |= set(np.flatnonzero(diff).tolist())
    for pid in counts.keys() | st.counters.keys():
        now = {z: tuple(v) for z, v in st.counters.get(pid, {}).items()}
        if counts.get(pid, {}) != now:
            rows.add(st.person_ids.index(pid))
    return rows


@pytest.mark.parametrize("drill", [False, True])
def test_the_buckets_marked_unsaved_hold_every_person_whose_state_changed(feed, drill):
    """The runner stores the rows the engine says it wrote; a full diff of every column and
    pending count around each batch (what the runner did before) must find nothing else."""
    _, parts = partitioned(DEMO, 2)
    plan = FeedPlan(2, drill=drill)
    msgs = [m for m in [*plan.messages(feed.read_bytes().splitlines()), *plan.end()]
            if m.partition == 0]
    run = PartitionRunner(parts[0])
    rng = random.Random(7)
    i, acted, checked = 0, 0, 0
    now = int(time.time() * 1000)
    while i < len(msgs):
        k = rng.randint(1, 300)
        batch = [Message(EVENT, "events", i + j, m.value) for j, m in enumerate(msgs[i:i + k])]
        open_alerts = [inc for part in (run.state.real, run.state.drill)
                       for inc in part.book.by_key.values() if inc.handling == "new"]
        if open_alerts and rng.random() < 0.3:  # an officer acknowledges one
            inc = open_alerts[0]
            act = Message(ACTION, "actions", acted, orjson.dumps(
                {"type": "action", "person_id": inc.person_id, "ts": now,
                 "alert_id": inc.alert_id, "action": "acknowledge", "by": "w1"}))
            acted += 1
            if acted % 2:  # mid-batch, where the person likely has events too
                batch.insert(len(batch) // 2, act)
            else:  # alone: only the action's own effect can mark the person's bucket
                batch, k = [act], 0
        i += k
        before = [_persons_state(part) for part in (run.state.real, run.state.drill)]
        run.unsaved.clear()
        run.run(batch, now)
        changed = set()
        for part, old in zip((run.state.real, run.state.drill), before, strict=True):
            changed |= _rows_that_differ(part, old)
        assert {int(run.bucket_of[r]) for r in changed} <= run.unsaved
        checked += len(changed)
    assert checked > 100 and acted > 0


def test_a_person_never_heard_from_is_missed_once_not_once_per_partition(tmp_path):
    b = tiny_bundle(tmp_path)
    t0 = int(time.time() * 1000) - 7_200_000
    lines = [orjson.dumps({"type": "fix", "person_id": "P1", "ts": t0 + i * 600_000,
                           "lat": 30.0, "lon": 120.0}) for i in range(6)]
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(lines))
    expected = in_process(b, feed)
    assert {(u["person_id"], u["type"]) for u in expected} == {("P2", "signal_lost")}
    got, _ = run_partitioned(b, lines, 4, restart_p=0.5)
    assert identities(got) == identities(expected)


def one_partition_runner():
    """A runner holding the demo bundle's only partition, and a tamper status maker for one of
    its persons (the i-th a millisecond after the (i-1)-th, a minute ago)."""
    bundle, parts = partitioned(DEMO, 1)
    run = PartitionRunner(parts[0])
    pid = bundle.persons[0].person_id
    now = int(time.time() * 1000)

    def tamper(i: int) -> bytes:
        return orjson.dumps({"type": "status", "person_id": pid, "ts": now - 60_000 + i,
                             "event": "tamper"})

    return run, tamper, now


def test_a_replayed_tail_is_skipped_by_offset():
    run, tamper, now = one_partition_runner()
    msgs = [Message(EVENT, "events", i, tamper(i)) for i in range(3)]
    first, _ = run.run(msgs[:2], now)
    again, _ = run.run(msgs, now)  # a consumer that re-reads from an older commit
    assert [u.type for u in first] == ["tamper", "tamper"]
    assert [u.version for u in again] == [3]
    assert run.stats["already_applied"] == 2


def test_empty_messages_are_dead_lettered_and_a_gap_is_counted():
    run, tamper, now = one_partition_runner()
    values = [tamper(0), b"", None, tamper(1), b" \n ", tamper(2)]
    offsets = [0, 1, 2, 3, 5, 6]  # 4 is gone (compaction, a transaction marker)
    ups, dead = run.run([Message(EVENT, "events", o, v) for o, v in zip(offsets, values, strict=True)], now)
    assert [u.version for u in ups] == [1, 2, 3]
    assert [(d.reason, d.detail) for d in dead] == [("malformed_json", "empty message")] * 3
    assert run.stats["offset_gaps"] == 1 and run.next_offset == {"events": 7}
    # the contiguous case moves the offset too, and what it held is skipped when read again
    ups, _ = run.run([Message(EVENT, "events", o, tamper(o)) for o in (5, 6, 7, 8)], now)
    assert [u.version for u in ups] == [4, 5] and run.next_offset == {"events": 9}
    assert run.stats["already_applied"] == 2


def test_a_checkpoint_writes_the_changed_buckets_and_restores_without_released_persons(tmp_path):
    b = tiny_bundle(tmp_path)
    _, parts = partitioned(b, 1)
    run = PartitionRunner(parts[0])
    t0 = int(time.time() * 1000) - 3_600_000
    lines = [outside_fix("P1", t0), outside_fix("P1", t0 + 30_000),
             outside_fix("P1", t0 + 60_000),
             orjson.dumps({"type": "fix", "person_id": "P2", "ts": t0, "lat": 30.0, "lon": 120.0})]
    ups, _ = run.run([Message(EVENT, "events", i, v) for i, v in enumerate(lines)], t0)
    assert [u.type for u in ups] == ["zone_exit"]
    records = dict(run.person_records())
    # a bucket per record, named by its number, holding only its own persons
    heads = {k: unpack_bucket(v)[0] for k, v in records.items()}
    assert all(k == f"b{head['b']}/{run.buckets}" for k, head in heads.items())
    assert sorted(pid for head in heads.values() for pid in head["ids"]) == ["P1", "P2"]
    run.saved()
    assert run.person_records() == []  # nothing changed since

    # P2 released from the bundle: P1's state and open alert come back, P2 is left out
    (b / "persons.jsonl").write_text((b / "persons.jsonl").read_text().splitlines()[0] + "\n")
    _, smaller = partitioned(b, 1)
    back = PartitionRunner.restore(smaller[0], records.items(), run.clock_record()[1])
    assert back.stats["restored_persons"] == 1 and back.stats["restore_unknown_person"] == 1
    i = smaller[0].engine.person_index["P1"]
    assert back.state.real.latest_ts[i] == t0 + 60_000
    assert list(back.state.real.book.keys_by_person) == ["P1"]
    assert back.next_offset == {"events": 4}


def test_feed_plan_routes_keys_and_sends_ticks_everywhere():
    plan = FeedPlan(3, drill=True, rebase=True, now_ms=10_000_000)
    lines = [b'{"type":"fix","person_id":"P1","ts":1000,"lat":30,"lon":120}',
             b'{"type":"tick","ts":5000}',
             b"{broken",
             b"",
             b'{"type":"status","person_id":"P2","ts":"1970-01-01T00:00:09Z","event":"heartbeat"}']
    msgs = [*plan.messages(lines), *plan.end()]
    values = [(m.partition, m.key, orjson.loads(m.value) if m.value != b"{broken" else None)
              for m in msgs]
    assert plan.delta_ms == 10_000_000 - 1000
    start = [v for v in values[:3]]
    assert start == [(p, None, {"type": "tick", "ts": 10_000_000, "drill": True})
                     for p in range(3)]
    p1 = values[3]
    assert p1[:2] == (home_partition("P1", 3), b"P1")
    assert p1[2]["ts"] == 10_000_000 and p1[2]["drill"] is True
    ticks = values[4:7]
    assert [t[0] for t in ticks] == [0, 1, 2] and ticks[0][2]["ts"] == 10_004_000
    assert values[7] == (0, None, None)  # broken JSON goes as it is, to be dead-lettered
    p2 = values[8]
    assert p2[:2] == (home_partition("P2", 3), b"P2") and p2[2]["ts"] == 10_008_000
    assert values[9:] == [(p, None, {"type": "tick", "ts": 10_008_000, "drill": True})
                          for p in range(3)]
    assert plan.read == 4  # the blank line is not a record


def test_records_of_an_older_bucket_layout_still_restore_the_persons_only_they_hold(
        feed, monkeypatch):
    """A grown caseload changes the bucket layout: the newer layout's records hold only the
    persons changed since, and the older layout's records must still give everyone else."""
    _, parts = partitioned(DEMO, 1)
    plan = FeedPlan(1)
    msgs = [Message(EVENT, "events", i, m.value) for i, m in
            enumerate([*plan.messages(feed.read_bytes().splitlines()), *plan.end()])]
    half, now = len(msgs) // 2, int(time.time() * 1000)
    monkeypatch.setattr(partition_mod, "PERSONS_PER_BUCKET", 16)
    run = PartitionRunner(parts[0])
    run.run(msgs[:half], now)
    store = dict(run.person_records())
    run = PartitionRunner.restore(parts[0], store.items(), run.clock_record()[1])
    monkeypatch.setattr(partition_mod, "PERSONS_PER_BUCKET", 8)  # 4 buckets instead of 2
    run = PartitionRunner.restore(parts[0], store.items(), run.clock_record()[1])
    # one person of the new layout's bucket 0 moves on: the old bucket 0 held more persons
    m = next(m for m in msgs[half:] if (pid := orjson.loads(m.value).get("person_id"))
             and run.bucket_of[run.engine.person_index[pid]] == 0)
    run.run([m], now)
    newer = run.person_records()
    assert [key for key, _ in newer] == [run.bucket_key(0)] and run.buckets == 4
    for key, value in newer:  # the store keeps the newest per key, oldest first
        store.pop(key, None)
        store[key] = value
    back = PartitionRunner.restore(parts[0], store.items(), run.clock_record()[1])
    for c in COLUMNS:
        np.testing.assert_array_equal(getattr(back.state.real, c), getattr(run.state.real, c))


def test_the_vectorised_murmur2_is_kafkas_for_keys_of_every_length():
    from kafka.partitioner.default import murmur2

    rng = random.Random(3)
    keys = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 23))) for _ in range(3000)]
    keys += [f"对象{i}".encode() for i in range(300)] + [b"", b"P1", b"\xff\xff\xff"]
    assert murmur2_many(keys).tolist() == [murmur2(k) for k in keys]
    ids = [f"P{i}" for i in range(2000)] + [f"对象{i}" for i in range(300)]
    homes, _ = partition_mod.placement(ids, 7)
    assert homes.tolist() == [home_partition(pid, 7) for pid in ids]


def test_each_buckets_ids_read_back_as_the_json_list_of_its_persons():
    ids = ["P1", 'quote"d', "对象", "x\\y", "P5"]
    buckets = [np.array([0, 2]), np.array([], dtype=np.int64), np.array([4, 1, 3])]
    table = partition_mod.BucketIds(ids, buckets)
    assert len(table) == 3
    assert [orjson.loads(table[b]) for b in range(3)] == [["P1", "对象"], [], ["P5", 'quote"d', "x\\y"]]
