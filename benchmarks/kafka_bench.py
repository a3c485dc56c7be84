"""The Kafka worker on the real broker (`make kafka-up`), against a bare aiokafka loop.

* throughput: a caseload's feed (benchmarks/out/, shared with `make bench`; ~2,000,000
  fixes for 200,000 persons) put on `{prefix}.events`, then run by 1 or 2 `lookout worker`
  processes; events/s from the first batch a worker has in hand until every partition's state
  holds the last event (its alert updates acknowledged, its final checkpoint included).
  Two workers started together rarely join as one group here: the test broker does not wait
  for more members (`group.initial.rebalance.delay.ms=0`; Kafka's default is 3 s), so the one
  that starts first takes every partition and gives half back when the other joins. Their
  pace is reported twice: `whole` from the first batch either had, that hand-over included,
  and `formed` from the first batch after it (the events after the offsets the final
  assignment resumed from). `--repeat` rounds of one worker and two, in alternating order; the
  ratios reported are the medians of the rounds' ratios, since the machine is a shared
  virtual one (each run reports the CPU seconds its host stole, `steal_s`). For the first
  size, right after each one-worker run, on the same topic and with the worker's fetch sizes:
  a bare aiokafka consumer that only decodes each message (orjson.loads), timed likewise from
  its first batch to its last.
* latency: 5,000 events/s for `--seconds`, every event stamped with the wall clock as it is
  sent, and a `tamper` status for a fresh person every 50 ms; latency = when its alert is read
  back from `{prefix}.alerts` minus when the status was sent (p50/p99 over those alerts).

For each caseload size (`--persons`, default 20,000 and 200,000): the throughput of one and
two workers (the bare loop for the first size only), the latency with one and two
workers, the workers' peak RSS, the persons each owns (its partitions' persons: a worker keeps
state only for them) and how long each assignment took from partitions handed over to state
restored; with two sizes, what one more owned person costs a worker, alone and as one of two
(`bytes_per_person`, the difference of the peak RSS over the difference of the persons owned).
The latency clock starts once every worker holds its share: a worker joining late moves
partitions, and that rebalance is reported as `worker_restore_s`, not folded into p99.

Prints one JSON object, with the load average before and after. Everything shares the
machine's cores with the broker, so absolute numbers are indicative; ratios are measured in
one run.

    python -m benchmarks.kafka_bench [--persons 20000,200000] [--seconds 20] [--partitions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import orjson

BOOTSTRAP = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"


def start_worker(bundle: Path, prefix: str, partitions: int, tmp: Path, i: int):
    log = tmp / f"worker-{prefix}-{i}.log"
    cmd = [sys.executable, "-m", "stream.cli", "worker", "--bundle", str(bundle), "--kafka",
           BOOTSTRAP, "--prefix", prefix, "--partitions", str(partitions),
           "--session-timeout", "6", "--log-level", "info"]
    fh = open(log, "wb")  # closed with the process
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, log


def wait_assigned(workers, n_partitions: int, timeout: float = 90.0) -> list[list[int]]:
    """Until every worker holds partitions of its own (restored and running), together all of
    them: not while a late worker's join is still to move partitions (a rebalance inside the
    measurement would time the rebalance). Returns each worker's partitions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = [_partitions(log) for _, log in workers]
        flat = sorted(p for parts in held for p in parts)
        if flat == list(range(n_partitions)) and all(held[:n_partitions]):
            return held
        time.sleep(0.1)
    raise SystemExit("workers got no partitions in time:\n" + workers[0][1].read_text()[-2000:])


def _partitions(log: Path) -> list[int]:
    """The partitions a worker's log last said it runs."""
    lines = re.findall(r"lookout worker: partitions \[([0-9, ]*)\]", log.read_text(errors="replace"))
    return [int(x) for x in lines[-1].split(",")] if lines and lines[-1].strip() else []


def peak_rss_bytes(pid: int) -> int | None:
    """The process's peak resident set (VmHWM), while it still runs."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _broker_pid() -> int | None:
    """The local broker's process (kafka.sh's pid file, in its KAFKA_RUN folder), to count
    its CPU seconds too."""
    port = BOOTSTRAP.rsplit(":", 1)[1]
    run = os.environ.get("KAFKA_RUN") or (Path(__file__).resolve().parents[1] / ".cache"
                                          / "kafka" / f"run-{port}")
    pidfile = Path(run) / "kafka.pid"
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def steal_seconds() -> float:
    """Seconds of all CPUs the hypervisor gave to other guests (/proc/stat's steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def cpu_seconds(pid: int) -> float | None:
    """CPU time the process has used (user + system), while it still runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(workers, cpu: list | None = None) -> list[int | None]:
    """Stops the workers; their peak RSS just before (and their CPU seconds into `cpu`)."""
    peaks = [peak_rss_bytes(proc.pid) for proc, _ in workers]
    if cpu is not None:
        cpu += [cpu_seconds(proc.pid) for proc, _ in workers]
    for proc, _ in workers:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc, _ in workers:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
    return peaks


def plan_feed(feed: Path, partitions: int) -> list:
    from stream.kafka.replay import FeedPlan

    plan = FeedPlan(partitions)
    lines = feed.read_bytes().splitlines()
    return [*plan.messages(lines), *plan.end()]


def throughput(bundle: Path, msgs: list, n_workers: int, partitions: int, tmp: Path) -> dict:
    """The feed is on the topic before the workers start, as for the bare loop: from the
    first batch a worker fetched (its log line) to the last clock record (its write time): the
    workers' pace, not the producer's (with two, the second one's join included; `formed`
    leaves it out)."""
    from stream.kafka.replay import wait_processed
    from stream.kafka.topics import Topics, create_topics

    topics = Topics(f"b{uuid.uuid4().hex[:10]}")
    create_topics(BOOTSTRAP, topics, partitions)
    t0 = time.perf_counter()
    asyncio.run(_produce(topics.events, msgs))
    produced = time.perf_counter() - t0
    workers = [start_worker(bundle, topics.prefix, partitions, tmp, i) for i in range(n_workers)]
    cpu: list = []
    load = os.getloadavg()[0]
    broker = _broker_pid()
    broker_cpu = cpu_seconds(broker) if broker else None
    stolen = steal_seconds()
    try:
        wait_assigned(workers, partitions)
        if not wait_processed(BOOTSTRAP, topics, timeout_s=600):
            raise SystemExit("the workers did not finish")
    finally:
        stop(workers, cpu)
    if broker_cpu is not None:
        after = cpu_seconds(broker)
        broker_cpu = None if after is None else after - broker_cpu
    firsts = [t for t in (_first_records_at(log) for _, log in workers) if t is not None]
    if not firsts:
        raise SystemExit(f"no worker logged its first records: {[str(log) for _, log in workers]}")
    started = min(firsts)
    ended = _last_write_at(topics.changelog("clocks"))
    seconds = ended - started
    out = {"workers": n_workers, "events": len(msgs), "seconds": round(seconds, 2),
           "events_per_s": round(len(msgs) / seconds),
           "producer_events_per_s": round(len(msgs) / produced), "topic": topics.events,
           # start-up included; on 2 cores shared with the broker, what two workers can use
           "worker_cpu_s": [None if c is None else round(c, 1) for c in cpu],
           "broker_cpu_s": None if broker_cpu is None else round(broker_cpu, 1),
           # CPU the virtual machine's host gave to others while the run waited for it
           "steal_s": round(steal_seconds() - stolen, 1),
           "load_average_at_start": round(load, 2)}
    if n_workers > 1:
        out["formed"] = _formed_group(workers, len(msgs), started, ended)
    return out


def _formed_group(workers, n_events: int, started: float, ended: float) -> dict:
    """The workers' pace once the group holds all of them: from the first batch any worker had
    in hand after its last assignment, the events after the offsets those assignments resumed
    from. A worker joining late makes the first one give partitions up (Kafka's default group
    delay, 3 s, lets members that start together join as one; the test broker's is 0): that
    join is the first seconds of the whole run above, once per group, not its pace."""
    resumed, firsts = 0, []
    for _, log in workers:
        first, offsets = _last_assignment(log)
        if first is None:
            return {"error": f"a worker had no records after its last assignment: {log}"}
        firsts.append(first)
        resumed += offsets
    formed = min(firsts)
    seconds = ended - formed
    return {"events": n_events - resumed, "seconds": round(seconds, 2),
            "events_per_s": round((n_events - resumed) / seconds),
            "formed_after_s": round(formed - started, 2)}


def _last_assignment(log: Path) -> tuple[float | None, int]:
    """A worker's last assignment: when it had its first batch in hand after it (epoch
    seconds, None if never), and the events-topic offsets its partitions resumed from (their
    sum: the events someone ran before)."""
    offsets: dict[int, int] = {}
    block: dict[int, int] = {}
    first: float | None = None
    for line in log.read_text(errors="replace").splitlines():
        if m := re.search(r"partition (\d+): (?:restored \d+ persons|kept from before the "
                          r"rebalance), next offsets (.*)$", line):
            found = re.search(r"\.events': (\d+)", m[2])
            block[int(m[1])] = int(found[1]) if found else 0
        elif "restored partitions" in line:
            offsets, block, first = block, {}, None
        elif "first records since the assignment" in line and first is None:
            first = _stamp(line)
    return first, sum(offsets.values())


def _stamp(line: str) -> float:
    """Epoch seconds of a worker log line (logging's local asctime)."""
    from datetime import datetime

    stamp = line[line.index("[") + 1:line.index("]")]
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


async def _produce(topic: str, msgs: list) -> None:
    """The feed onto the topic in whole batches per partition: a message at a time, a
    Python client took ~40 s for the 200,000-person feed, longer than the runs it feeds."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1,
                                max_batch_size=1 << 20, linger_ms=0)
    await producer.start()
    try:
        batches: dict[int, object] = {}
        sent = []
        for m in msgs:
            batch = batches.get(m.partition)
            if batch is None:
                batch = batches[m.partition] = producer.create_batch()
            if batch.append(key=m.key, value=m.value, timestamp=None) is None:
                sent.append(await producer.send_batch(batch, topic, partition=m.partition))
                batch = batches[m.partition] = producer.create_batch()
                batch.append(key=m.key, value=m.value, timestamp=None)
        for p, batch in batches.items():
            if batch.record_count():
                sent.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _first_records_at(log: Path) -> float | None:
    """Epoch seconds of a worker's first "first records" line (logging's local asctime): the
    moment its first batch is in hand, as the bare loop's clock starts at its first batch.
    None if it never had any (a second worker may join after the first has read them all)."""
    for line in log.read_text(errors="replace").splitlines():
        if "first records since the assignment" in line:
            return _stamp(line)
    return None


def _last_write_at(topic: str) -> float:
    """Epoch seconds of the newest record on `topic` (its producer's timestamp)."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end, newest = c.end_offsets(tps), 0
        while any(c.position(tp) < end[tp] for tp in tps):
            for records in c.poll(timeout_ms=200).values():
                newest = max([newest, *(r.timestamp for r in records)])
        return newest / 1000
    finally:
        c.close()


async def _bare_loop(topic: str, n: int) -> float:
    from aiokafka import AIOKafkaConsumer

    from stream.kafka.worker import FETCH_MAX_BYTES, MAX_PARTITION_FETCH_BYTES

    # the worker's fetch sizes: the same number of round trips for the same feed
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=f"bare-{uuid.uuid4().hex}",
                                max_partition_fetch_bytes=MAX_PARTITION_FETCH_BYTES,
                                fetch_max_bytes=FETCH_MAX_BYTES)
    await consumer.start()
    try:
        seen, t0 = 0, None
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if t0 is None and batches:
                t0 = time.perf_counter()
            for records in batches.values():
                for r in records:
                    orjson.loads(r.value)
                seen += sum(len(r) for r in batches.values())
        return n / (time.perf_counter() - t0)
    finally:
        await consumer.stop()


def latency(bundle: Path, rate: int, seconds: float, n_workers: int, partitions: int,
            tmp: Path) -> dict:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from config.loader import load_bundle
    from stream.kafka.partition import home_partition, placement
    from stream.kafka.topics import Topics, create_topics

    persons = list(load_bundle(bundle).persons.ids)
    feed_lines = (Path(__file__).resolve().parent / "out").glob(f"feed-{len(persons)}-*.jsonl")
    fixes = [orjson.loads(x) for x in next(iter(feed_lines)).read_bytes().splitlines()[:200_000]]
    fixes = [f for f in fixes if f.get("type") == "fix"]
    topics = Topics(f"l{uuid.uuid4().hex[:10]}")
    create_topics(BOOTSTRAP, topics, partitions)
    workers = [start_worker(bundle, topics.prefix, partitions, tmp, i) for i in range(n_workers)]
    received: dict[str, float] = {}
    stop_reading, reading = threading.Event(), threading.Event()

    def read_alerts():
        c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
        tps = [TopicPartition(topics.alerts, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        while not stop_reading.is_set():
            polled = c.poll(timeout_ms=100)
            reading.set()
            for records in polled.values():
                now = time.time()
                for r in records:
                    u = orjson.loads(r.value)
                    if u["type"] == "tamper" and u["version"] == 1:
                        received.setdefault(u["person_id"], now)
        c.close()

    reader = threading.Thread(target=read_alerts, daemon=True)
    peaks: list[int | None] = []
    try:
        held = wait_assigned(workers, partitions)
        reader.start()
        # the reader's own start-up (metadata, offsets) must not count as the first alerts' delay
        if not reading.wait(30):
            raise SystemExit("the alert reader did not start")
        producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1, linger_ms=2)
        sent: dict[str, float] = {}
        tamper_every = 0.05
        t0 = time.time()
        next_tamper, i, k = t0, 0, 0
        while (now := time.time()) < t0 + seconds:
            due = int((now - t0) * rate)
            while i < due:
                f = fixes[i % len(fixes)]
                f["ts"] = int(time.time() * 1000)
                pid = f["person_id"]
                producer.send(topics.events, value=orjson.dumps(f), key=pid.encode(),
                              partition=home_partition(pid, partitions))
                i += 1
            if now >= next_tamper and k < len(persons):
                pid = persons[-1 - k]
                k += 1
                # a ms later than any fix sent so far: an equal ts would count as a duplicate
                ev = {"type": "status", "person_id": pid, "ts": int(time.time() * 1000) + 1,
                      "event": "tamper"}
                producer.send(topics.events, value=orjson.dumps(ev), key=pid.encode(),
                              partition=home_partition(pid, partitions))
                producer.flush()
                sent[pid] = time.time()
                next_tamper += tamper_every
            time.sleep(0.002)
        producer.flush()
        sent_rate = i / (time.time() - t0)
        deadline = time.time() + 30
        while len(received) < len(sent) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        stop_reading.set()
        peaks = stop(workers)
    lat = sorted(received[p] - sent[p] for p in sent if p in received)
    if not lat:
        return {"workers": n_workers, "error": "no alerts came back"}

    def pct(q):
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1)

    homes, _ = placement(persons, partitions)
    owned = np.bincount(homes, minlength=partitions)
    return {"workers": n_workers, "target_events_per_s": rate,
            "sent_events_per_s": round(sent_rate), "alerts_timed": len(lat),
            "alerts_missing": len(sent) - len(lat), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1000, 1), "worker_peak_rss": peaks,
            "worker_partitions": held,
            "worker_persons": [int(owned[parts].sum()) for parts in held],
            "worker_restore_s": [_restore_seconds(log) for _, log in workers]}


def _restore_seconds(log: Path) -> list[float]:
    """Each assignment's time from the partitions handed over to their state restored and
    running (the worker's "restored partitions" lines)."""
    return [float(x) for x in re.findall(r"restored partitions \[[0-9, ]*\] in ([0-9.]+) s",
                                         log.read_text(errors="replace"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", default="20000,200000",
                    help="caseload sizes, comma-separated; the first one gets the bare loop")
    ap.add_argument("--venues", type=int, default=2000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3,
                    help="throughput rounds of one and two workers per size (default 3)")
    args = ap.parse_args()

    from stream.kafka.topics import broker_answers

    if not broker_answers(BOOTSTRAP):
        raise SystemExit(f"no Kafka at {BOOTSTRAP}: make kafka-up")
    sizes = [int(x) for x in args.persons.split(",")]
    # the worker freezes its start-up heap; so does the bare loop's process (the feed held in
    # `msgs` would otherwise slow its collections down, and flatter the ratio)
    gc.freeze()
    tmp = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
    result = {"partitions": args.partitions, "cpus": os.cpu_count(),
              "load_average_before": os.getloadavg()}
    for i, n in enumerate(sizes):
        result[str(n)] = one_size(args, n, tmp, bare=i == 0)
        print(orjson.dumps({str(n): result[str(n)]}).decode(), file=sys.stderr)  # if cut short
    result["load_average_after"] = os.getloadavg()
    if len(sizes) > 1:
        result["bytes_per_person"] = bytes_per_person(result, sizes)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


def one_size(args, n: int, tmp: Path, bare: bool) -> dict:
    """Throughput in `--repeat` rounds of one and of two workers (each round's ratio; the
    order alternates, so a drift of the shared machine's speed favours neither), the bare
    loop after each one-worker run if `bare`; then latency with one and two workers."""
    from benchmarks.replay_bench import ensure_data

    bundle, feed = ensure_data(n, args.venues)
    msgs = plan_feed(feed, args.partitions)
    out: dict = {"persons": n, "venues": args.venues, "events": len(msgs)}
    rounds = []
    for r in range(args.repeat):
        runs = {}
        for k in ((1, 2) if r % 2 == 0 else (2, 1)):
            run = throughput(bundle, msgs, k, args.partitions, tmp)
            topic = run.pop("topic")
            if k == 1 and bare:
                run["bare_events_per_s"] = round(asyncio.run(_bare_loop(topic, len(msgs))))
                run["ratio"] = round(run["events_per_s"] / run["bare_events_per_s"], 3)
            runs[k] = run
        one, two = runs[1], runs[2]
        formed = two["formed"].get("events_per_s")
        rounds.append({"one_worker": one, "two_workers": two,
                       "two_vs_one": round(two["events_per_s"] / one["events_per_s"], 2),
                       "two_vs_one_formed": formed and round(formed / one["events_per_s"], 2)})
    out["throughput"] = {
        "one_worker_events_per_s": _median(r["one_worker"]["events_per_s"] for r in rounds),
        "two_workers_events_per_s": _median(r["two_workers"]["events_per_s"] for r in rounds),
        # the group formed: the pace of two workers; whole: their first seconds included,
        # when the one that started first gave half its partitions up
        # None when the first worker had read the whole feed before the second joined
        "two_vs_one_formed": _median(r["two_vs_one_formed"] for r in rounds),
        "two_vs_one_whole": _median(r["two_vs_one"] for r in rounds),
        "rounds": rounds}
    if bare:
        out["throughput"]["one_worker_vs_bare"] = _median(r["one_worker"]["ratio"]
                                                          for r in rounds)
    del msgs
    out["latency"] = {"one_worker": latency(bundle, args.rate, args.seconds, 1, args.partitions,
                                            tmp),
                      "two_workers": latency(bundle, args.rate, args.seconds, 2,
                                             args.partitions, tmp)}
    return out


def _median(values) -> float | None:
    known = sorted(v for v in values if v is not None)
    return known[len(known) // 2] if known else None


def bytes_per_person(result: dict, sizes: list[int]) -> dict:
    """What one more person costs a worker: the difference of the latency runs' peak RSS
    between the smallest and the largest caseload, over the difference of the persons the
    worker owns (its partitions' persons; with two workers, their mean)."""
    lo, hi = str(min(sizes)), str(max(sizes))
    out = {}
    for name in ("one_worker", "two_workers"):
        runs = [result[n]["latency"][name] for n in (lo, hi)]
        peaks = [r.get("worker_peak_rss") or [None] for r in runs]
        if any(None in p for p in peaks):
            out[name] = {"error": "no peak RSS read"}
            continue
        mean_peak = [sum(p) / len(p) for p in peaks]
        mean_owned = [sum(r["worker_persons"]) / len(r["worker_persons"]) for r in runs]
        out[name] = {
            "per_owned_person": round((mean_peak[1] - mean_peak[0])
                                      / (mean_owned[1] - mean_owned[0])),
            "from": f"peak RSS {int(mean_peak[0]) >> 20} MiB owning {mean_owned[0]:.0f} persons "
                    f"at {lo}, {int(mean_peak[1]) >> 20} MiB owning {mean_owned[1]:.0f} at {hi}"}
    return out


if __name__ == "__main__":
    main()
