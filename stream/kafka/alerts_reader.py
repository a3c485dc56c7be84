"""`{prefix}.alerts` into the officers' service's SQLite store, read in a thread of its own.

Every officer service reads every partition (assigned by hand, no consumer group, no offsets
committed to Kafka), so several services can run side by side, each with its own store.

Offsets: each batch's alert versions and, per partition, the next offset to read are written in
one SQLite transaction (`Store.append_consumed`), and a restart seeks to those offsets. So the
store and its offsets never disagree, whenever the process dies, and a restart reads only what
came after. (Re-reading the topic from the beginning would also be correct, the store keeps
one copy of each (alert_id, version), but it costs a read of up to 90 days of alerts at every
start and announces nothing new anyway.) A stored offset Kafka no longer holds (retention, a
re-created topic) is out of range, and the consumer then starts from the earliest it has.

Versions repeat after a worker crash (the same (alert_id, version) with the same content); the
store keeps the first, and only versions new to the store go on to `on_new` (the page's
stream, metrics, notifications) and to whoever waits for an action's result.

`{prefix}.dead-letter` is read from its end at start: a worker that refuses an officer's action
dead-letters it with the engine's reason, and `expect` hands that refusal back to the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from alerts.store import Store
from config.loader import parse_ts_ms
from stream.kafka.topics import Topics

log = logging.getLogger("lookout.officer")

# What the store needs of an alert update (SPEC §4) to file it; anything less is skipped.
_REQUIRED = ("alert_id", "version", "person_id", "officer_id", "type", "severity", "condition",
             "handling", "drill", "escalated", "opened_at", "last_event_at")


@dataclass(eq=False)
class Expectation:
    """Someone waiting for an alert to reach a state: a version after `after_version` for
    which `done(record)` holds, or the dead letter whose `raw` is the action sent."""

    alert_id: str
    after_version: int
    done: Callable[[dict], bool]
    raw: str
    expires: float  # monotonic: the reader stops watching then
    on_settle: Callable[[Expectation], None] | None = None
    result: dict | None = None
    refusal: dict | None = None
    _event: threading.Event = field(default_factory=threading.Event)

    @property
    def settled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def _settle(self, result: dict | None = None, refusal: dict | None = None) -> None:
        self.result, self.refusal = result, refusal
        if self.on_settle is not None:  # before the waiter wakes: it may read what this wrote
            try:
                self.on_settle(self)
            except Exception:  # a bookkeeping failure must not stop the reader
                log.exception("recording the outcome of an action on %s failed", self.alert_id)
        self._event.set()


def readable(u) -> bool:
    """An update the store can file: the fields it indexes, of the types it reads."""
    if not isinstance(u, dict) or any(k not in u for k in _REQUIRED):
        return False
    if not isinstance(u["alert_id"], str) or not u["alert_id"]:
        return False
    if not isinstance(u["version"], int) or isinstance(u["version"], bool):
        return False
    try:
        for k in ("opened_at", "last_event_at", "cleared_at"):
            if u.get(k) is not None:
                parse_ts_ms(u[k])
    except (TypeError, ValueError):
        return False
    return True


class AlertsReader:
    def __init__(self, bootstrap: str, topics: Topics, store: Store,
                 office_of: Callable[[str | None], str | None],
                 on_new: Callable[[list[dict]], None], *, metrics=None, poll_ms: int = 200,
                 client_id: str = "lookout-officer"):
        self.bootstrap, self.topics, self.store = bootstrap, topics, store
        self.office_of, self.on_new, self.metrics = office_of, on_new, metrics
        self.poll_ms, self.client_id = poll_ms, client_id
        self.counts: Counter = Counter()
        self.error: BaseException | None = None
        self._lock = threading.Lock()  # a batch is stored and its waiters settled under it
        self._expecting: list[Expectation] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer = None
        self._next: dict[int, int] = {}
        self._start_end: dict[int, int] = {}
        self._caught_up = threading.Event()

    # -- start and stop --------------------------------------------------------------------
    def start(self) -> AlertsReader:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 client_id=self.client_id, max_poll_records=2000)
        try:
            alerts = [TopicPartition(self.topics.alerts, p) for p in
                      sorted(consumer.partitions_for_topic(self.topics.alerts) or ())]
            letters = [TopicPartition(self.topics.dead_letter, p) for p in
                       sorted(consumer.partitions_for_topic(self.topics.dead_letter) or ())]
            if not alerts:
                raise RuntimeError(f"no topic {self.topics.alerts} / 告警主题不存在")
            consumer.assign(alerts + letters)
            stored = self.store.consumed.consumed_offsets(self.topics.alerts)
            for tp in alerts:
                if tp.partition in stored:
                    consumer.seek(tp, stored[tp.partition])
                else:
                    consumer.seek_to_beginning(tp)
            if letters:
                consumer.seek_to_end(*letters)
            # positions resolved now: a refusal of an action sent after start() is never missed
            for tp in alerts + letters:
                consumer.position(tp)
            self._next = {tp.partition: consumer.position(tp) for tp in alerts}
            self._start_end = {tp.partition: end for tp, end in
                               consumer.end_offsets(alerts).items()}
        except BaseException:
            consumer.close()
            raise
        self._consumer = consumer
        self._check_caught_up()
        self._thread = threading.Thread(target=self._loop, args=(consumer,),
                                        name="lookout-alerts-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.error is None

    def wait_caught_up(self, timeout: float) -> bool:
        """Whether what the alerts topic held when the reader started is in the store."""
        return self._caught_up.wait(timeout)

    def positions(self) -> dict[int, int]:
        """partition -> the next offset to read."""
        with self._lock:
            return dict(self._next)

    # -- waiting for an alert --------------------------------------------------------------
    def expect(self, alert_id: str, after_version: int, done: Callable[[dict], bool], raw: str,
               watch_s: float, on_settle: Callable[[Expectation], None] | None = None
               ) -> Expectation:
        """Watch for `alert_id` to reach a version after `after_version` with `done(record)`,
        or for a dead letter whose raw text is `raw`; for `watch_s` seconds at most. Call it
        before sending the action: a version that arrives in between is not missed."""
        exp = Expectation(alert_id, after_version, done, raw, time.monotonic() + watch_s,
                          on_settle)
        with self._lock:
            latest = self.store.alerts.latest(alert_id)
            if latest is not None and latest["version"] > after_version and done(latest):
                exp._settle(result=latest)
            else:
                self._expecting.append(exp)
        return exp

    def forget(self, exp: Expectation) -> None:
        with self._lock:
            if exp in self._expecting:
                self._expecting.remove(exp)

    # -- the thread ------------------------------------------------------------------------
    def _loop(self, consumer) -> None:
        from kafka.errors import KafkaError

        try:
            while not self._stop.is_set():
                try:
                    batch = consumer.poll(timeout_ms=self.poll_ms)
                except KafkaError as exc:  # the broker is away: keep trying, say so
                    self.counts["poll_errors"] += 1
                    log.warning("reading %s: %r; retrying", self.topics.alerts, exc)
                    self._stop.wait(1.0)
                    continue
                self._apply(batch)
                self._observe_lag()
        except BaseException as exc:
            self.error = exc
            log.exception("the alerts reader failed; a restart resumes from the store")

    def _apply(self, batch: dict) -> None:
        updates: list[dict] = []
        letters: list[dict] = []
        offsets: dict[int, int] = {}
        for tp, records in batch.items():
            if tp.topic == self.topics.alerts:
                for r in records:
                    offsets[tp.partition] = r.offset + 1
                    u = _loads(r.value)
                    if readable(u):
                        updates.append(u)
                    elif r.value is not None:  # None: a tombstone, nothing to file
                        self.counts["unreadable"] += 1
                        log.warning("%s[%d]@%d: not an alert update, skipped", tp.topic,
                                    tp.partition, r.offset)
            else:
                letters += [d for d in map(_loads, (r.value for r in records))
                            if isinstance(d, dict)]
        with self._lock:
            new = []
            if offsets:
                new = self.store.consumed.append_consumed(updates, self.office_of, self.topics.alerts,
                                                 offsets)
                self._next.update(offsets)
                self.counts["read"] += sum(len(rs) for tp, rs in batch.items()
                                           if tp.topic == self.topics.alerts)
                self.counts["new"] += len(new)
            if new:
                self.on_new(new)
            self._settle(new, letters)
        self._check_caught_up()

    def _settle(self, new: list[dict], letters: list[dict]) -> None:
        if not self._expecting:
            return
        by_alert: dict[str, list[dict]] = {}
        for u in new:
            by_alert.setdefault(u["alert_id"], []).append(u)
        refused = {d.get("raw"): d for d in letters}
        now = time.monotonic()
        keep = []
        for exp in self._expecting:
            done = [u for u in by_alert.get(exp.alert_id, ())
                    if u["version"] > exp.after_version and exp.done(u)]
            if done:
                exp._settle(result=max(done, key=lambda u: u["version"]))
            elif exp.raw in refused:
                exp._settle(refusal=refused[exp.raw])
            elif now < exp.expires:
                keep.append(exp)
        self._expecting = keep

    def _check_caught_up(self) -> None:
        if not self._caught_up.is_set() and all(
                self._next.get(p, 0) >= end for p, end in self._start_end.items()):
            self._caught_up.set()

    def _observe_lag(self) -> None:
        if self.metrics is None or self._consumer is None:
            return
        from kafka import TopicPartition

        for p, pos in self.positions().items():
            high = self._consumer.highwater(TopicPartition(self.topics.alerts, p))
            if high is not None:
                self.metrics.observe_lag(self.topics.alerts, p, high - pos)


def _loads(value: bytes | None):
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
