"""`lookout run --kafka`: the officers' service in front of Kafka workers instead of an
in-process engine. The same API, page, stream and summary as the embedded service
(alerts/feed codes against this class exactly as against stream/live.py's LiveRuntime).

* Alerts: `{prefix}.alerts` is read into the service's own SQLite store (alerts_reader.py),
  and each version new to the store goes to the page's stream, metrics and notifications.
* Officers' actions: checked here against the alert's latest record with the engine's own
  rules (alerts.actions.check_action), so a bad one is refused at once with the reason, then
  sent to `{prefix}.actions` keyed by person_id, to the person's home partition (the one their
  events are on: the worker holding their state). `submit_action` waits a few seconds for the
  version that shows the action took effect to come back on the alerts topic and returns it;
  a refusal by the worker (a dead letter carrying this action) raises ActionError; neither in
  time raises ActionPending (the API answers 202 `pending`, the version arrives on the stream).
  Every action is in the store's action log: `sent`, then `applied` or the refusal's reason.
* Gateways' events (POST /v1/events) go to `{prefix}.events` keyed by person_id (ticks to
  every partition), acknowledged by the broker before the 202; the workers decode and judge
  them. A line that is not a JSON object with a person_id is rejected here and dead-lettered.
* Reference data is the workers' bundle: changing it through the admin API is refused (the
  workers are redeployed with the new bundle, and this service restarted with it), so no
  person is released while it runs: `former_persons` is empty. `person_status` is refused: a
  person's live state is in the workers. Both refusals are `NotInThisMode`, in 中文 and English.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import orjson

from alerts import coverage
from alerts.actions import ActionError, ActionPending, AlertFacts, check_action
from alerts.admin import bundle_files
from alerts.admin.edits import EditRefused
from alerts.records import read_records
from alerts.service import NotInThisMode, OfficerService
from alerts.store import Store
from alerts.timefmt import wall_ms
from config.loader import load_bundle
from config.model import Bundle, PersonSpec
from stream import events as ev
from stream.deadletter import DeadLetterCap, letter_json, rejected
from stream.decode import PERSON_ID_MAX, raw_text
from stream.kafka.alerts_reader import AlertsReader, Expectation
from stream.kafka.partition import home_partition
from stream.kafka.topics import Topics
from stream.metrics import LookoutMetrics
from stream.officer import actions
from stream.officer.announce import Announcer
from stream.officer.faults import StoreFaults
from stream.officer.lines import nonblank
from stream.officer.persons import PersonDirectory
from stream.officer.purge import Purger
from stream.subscriptions import Subscription

log = logging.getLogger("lookout.officer")

ACTION_WAIT_S = 5.0  # how long an officer's request waits for the worker's answer
WATCH_S = 600.0  # how long the answer is still recorded in the action log after that
SEND_TIMEOUT_S = 10.0


class BundleIsTheWorkers(NotInThisMode, EditRefused):
    """A bundle change refused in Kafka mode: `NotInThisMode`, and an `EditRefused` (409) for
    the admin API's refused-edit answer."""

    def __init__(self) -> None:
        NotInThisMode.__init__(
            self,
            "in Kafka mode the bundle belongs to the workers (lookout worker) and cannot be "
            "changed here: change the bundle, redeploy the workers with it, and restart this "
            "service with the same bundle",
            "Kafka 模式下部署包由处理进程（lookout worker）使用，不能在此修改：请修改部署包，用它重新部署"
            "处理进程，并以同一部署包重启本服务", code="kafka_mode")
        self.status = 409


def state_is_in_the_workers() -> NotInThisMode:
    return NotInThisMode(
        "in Kafka mode a person's live state (last seen, last fix, silence due) is held by the "
        "workers (lookout worker), not by this service",
        "Kafka 模式下对象的实时状态（最后联系、最后定位、失联计时）由处理进程（lookout worker）保存，本服务无法读取",
        code="kafka_mode")


class KafkaSetupError(RuntimeError):
    """Kafka cannot serve the officers yet: unreachable, or the topics are missing."""


def topic_partitions(bootstrap: str, topics: Topics, timeout_s: float = 10.0) -> dict[str, int]:
    """Partition counts of the topics this service uses; KafkaSetupError when one is missing
    (the workers or `lookout kafka create-topics` create them) or Kafka does not answer."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from stream.kafka.topics import partition_counts

    names = [topics.events, topics.actions, topics.alerts, topics.dead_letter]
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap,
                                 request_timeout_ms=int(timeout_s * 1000))
    except KafkaError as exc:
        raise KafkaSetupError(f"no Kafka answers at {bootstrap} / 无法连接 Kafka：{exc!r}") from None
    try:
        missing = sorted(set(names) - set(admin.list_topics()))
        if missing:
            raise KafkaSetupError(
                f"topics missing 主题不存在: {', '.join(missing)}: start `lookout worker` or run "
                f"`lookout kafka create-topics --kafka {bootstrap} --prefix {topics.prefix}` "
                "first / 请先启动处理进程或创建主题")
        counts = partition_counts(admin, names)
    finally:
        admin.close()
    if counts[topics.events] != counts[topics.actions]:
        raise KafkaSetupError(
            f"{topics.events} has {counts[topics.events]} partitions and {topics.actions} "
            f"{counts[topics.actions]}: actions must be co-partitioned with events / "
            "actions 与 events 主题分区数必须相同")
    return counts


def _took_effect(kind: str):
    if kind == "acknowledge":
        return lambda r: r.get("handling") in ("acknowledged", "resolved")
    return lambda r: r.get("handling") == "resolved"


class KafkaOfficerRuntime:
    def __init__(self, bundle_dir, db_path, bootstrap: str, prefix: str = "lookout", *,
                 gateway_tokens=(), notify_config=None, action_wait_s: float = ACTION_WAIT_S,
                 watch_s: float = WATCH_S, poll_ms: int = 200):
        self.bundle_dir = Path(bundle_dir)
        self.bundle = load_bundle(self.bundle_dir)  # BundleError: bad bundle, nothing opened
        self._files = bundle_files.read_texts(self.bundle_dir)
        self.bootstrap, self.topics = bootstrap, Topics(prefix)
        self.partitions = topic_partitions(bootstrap, self.topics)
        self.gateway_tokens = tuple(t for t in gateway_tokens if t)
        self.action_wait_s, self.watch_s = action_wait_s, watch_s
        # nobody is released here: the bundle cannot change while this service runs
        self.directory = PersonDirectory(self.bundle, released={})
        self.bundle_invalid: dict | None = None  # the bundle is loaded once, or start-up stops
        self.metrics = LookoutMetrics()
        coverage.report(self.bundle, self.metrics)
        self.counts: Counter = Counter()
        self.rejected_by_reason: Counter = Counter()
        self.faults = StoreFaults(self.metrics)
        self.store = Store(db_path, mode="kafka", on_write_error=self.faults.failed)
        self.purger = Purger(self.store, lambda: self.bundle.settings)
        self._producer = None
        self.reader = AlertsReader(bootstrap, self.topics, self.store, self.office_of,
                                   self._publish, metrics=self.metrics, poll_ms=poll_ms)
        try:
            self.announcer = Announcer(self.metrics, notify_config, self.bundle)
            self.announcer.seed(self.store.alerts.all_latest())
        except BaseException:
            self.store.close()
            raise
        self._started = self._closed = False

    # -- start and stop --------------------------------------------------------------------
    def start(self) -> KafkaOfficerRuntime:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                       linger_ms=2, client_id="lookout-officer")
        self.reader.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.reader.stop()
        if self._producer is not None:
            self._producer.close(timeout=SEND_TIMEOUT_S)
        self.announcer.close()
        self.store.close()

    def __enter__(self) -> KafkaOfficerRuntime:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._started and not self._closed and self.reader.alive

    def stats(self) -> dict:
        return {"mode": "kafka", "prefix": self.topics.prefix, "alive": self.alive,
                "alerts_read": self.reader.counts["read"], "updates": self.reader.counts["new"],
                "alerts_unreadable": self.reader.counts["unreadable"],
                "next_offsets": self.reader.positions(), "events_sent": self.counts["events"],
                "rejected": dict(self.rejected_by_reason),
                "actions": {k[7:]: v for k, v in self.counts.items()
                            if k.startswith("action.")},
                "error": repr(self.reader.error) if self.reader.error else None,
                "store_fault": dict(self.faults.current) if self.faults.current else None}

    # -- what the feed reads ---------------------------------------------------------------
    def office_of(self, person_id: str | None) -> str | None:
        return self.directory.office_of(person_id)

    @property
    def bundle_texts(self) -> bundle_files.Texts:
        return dict(self._files)

    @property
    def former_persons(self) -> dict[str, PersonSpec]:
        """Empty: persons are released by a bundle change, which Kafka mode refuses."""
        return self.directory.former

    def person_status(self, person_id: str) -> dict | None:
        raise state_is_in_the_workers()

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        """Every alert version new to the store from now on."""
        return self.announcer.subscribe(maxsize)

    def _publish(self, new: list[dict]) -> None:
        """The reader's hand-off, after the versions are committed to the store."""
        self.announcer.announce(read_records(new, self.bundle.settings.timezone), new, wall_ms())

    # -- officers' actions -----------------------------------------------------------------
    def submit_action(self, action: dict, timeout: float | None = None) -> list[dict]:
        """Acknowledge or resolve (SPEC §4) through the workers. Returns the version that shows
        it took effect ([] when it already had), raises ActionError when it is refused (here or
        by the worker) and ActionPending when the worker has not answered in `timeout` s."""
        now = wall_ms()
        action = actions.opened(action, now)
        if not self.alive:
            raise RuntimeError("the service is not running / 服务未运行")
        try:
            payload = actions.payload(action)
        except ActionError as exc:
            self._log_action(now, action, exc.reason, str(exc), b"{}")
            raise
        record, person_id, changes = self._checked(action, payload, now)
        if not changes:
            self._log_action(now, action, "no_change", None, payload)
            return []
        exp = self._sent(action, payload, now, record, person_id)
        exp.wait(self.action_wait_s if timeout is None else timeout)
        if exp.refusal is not None:
            raise ActionError(str(exp.refusal.get("reason") or "invalid_field"),
                              str(exp.refusal.get("detail") or "refused by the worker"))
        if exp.result is not None:
            return [exp.result]
        self.counts["action.pending"] += 1
        raise ActionPending(self.store.alerts.latest(record["alert_id"]) or record)

    def _checked(self, action: dict, payload: bytes, now: int) -> tuple[dict, str, bool]:
        """The engine's own checks, against the latest version known here: (that version,
        its person, whether the action would change it); refusals are logged and raised."""
        alert_id = action.get("alert_id")
        record = self.store.alerts.latest(alert_id) if isinstance(alert_id, str) else None
        try:
            # the expiry counts on the live clock (the wall clock), a drill's on its own
            # clock, unknown here
            changes = check_action(action, AlertFacts.of(record) if record else None,
                                   None if record is None or record.get("drill") else now)
            person_id = record.get("person_id") if record is not None else None
            if record is None or not isinstance(person_id, str) or not person_id:
                raise ActionError("invalid_field", "alert_id: the alert names no person, so no "
                                                   "worker holds it")
        except ActionError as exc:
            self._log_action(now, action, exc.reason, str(exc), payload)
            raise
        return record, person_id, changes

    def _sent(self, action: dict, payload: bytes, now: int, record: dict,
              person_id: str) -> Expectation:
        """Logged as sent, watched for on the alerts and dead-letter topics, then sent to the
        person's home partition."""
        seq = self._log_action(now, action, "sent", None, payload)
        exp = self.reader.expect(record["alert_id"], record["version"],
                                 _took_effect(action["action"]), raw_text(payload),
                                 self.watch_s, on_settle=lambda e: self._settled(seq, e))
        try:
            self._send(self.topics.actions, person_id.encode(), payload,
                       home_partition(person_id, self.partitions[self.topics.actions]))
        except RuntimeError as exc:
            self.reader.forget(exp)
            self.store.actions.set_action_outcome(seq, "error", str(exc))
            raise
        return exp

    def _log_action(self, now: int, action: dict, outcome: str, detail: str | None,
                    payload: bytes) -> int:
        self.counts[f"action.{outcome}"] += 1
        return self.store.actions.record_action(now, *actions.log_fields(action), outcome, detail,
                                        payload.decode())

    def _settled(self, seq: int, exp: Expectation) -> None:
        """The worker's answer, whenever it comes (the caller may have stopped waiting)."""
        if exp.result is not None:
            self.store.actions.set_action_outcome(seq, "applied")
            self.counts["action.applied"] += 1
        elif exp.refusal is not None:
            reason = str(exp.refusal.get("reason") or "refused")
            self.store.actions.set_action_outcome(seq, reason, exp.refusal.get("detail"))
            self.counts["action.refused"] += 1

    # -- gateways' events ------------------------------------------------------------------
    def submit_events(self, lines, received_at_ms: int | None = None) -> tuple[int, dict[str, int]]:
        """Send the events to `{prefix}.events` (keyed by person_id, ticks to every partition)
        and wait for the broker's acknowledgement; returns (sent, rejected here by reason).
        The workers decode and check them (unknown persons, bad fields, ...), as from any
        producer. Raises RuntimeError when Kafka does not take them."""
        if not self.alive:
            raise RuntimeError("the service is not running / 服务未运行")
        now = wall_ms() if received_at_ms is None else int(received_at_ms)
        n = self.partitions[self.topics.events]
        out: list[tuple[int, bytes | None, bytes]] = []
        dead: list[ev.DeadLetter] = []
        sent = 0
        for raw in (ln.strip() for ln in nonblank(lines)):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                dead.append(rejected(now, ev.MALFORMED_JSON, str(exc), raw))
                continue
            pid = obj.get("person_id") if isinstance(obj, dict) else None
            if isinstance(obj, dict) and obj.get("type") == "tick":
                out += [(p, None, raw) for p in range(n)]
                sent += 1
            elif not isinstance(obj, dict):
                dead.append(rejected(now, ev.INVALID_FIELD, "event: not a JSON object", raw))
            elif not isinstance(pid, str) or not 1 <= len(pid) <= PERSON_ID_MAX:
                dead.append(rejected(now, ev.INVALID_FIELD,
                                    f"person_id: required, a string of 1-{PERSON_ID_MAX} "
                                    "characters", raw))
            else:
                out.append((home_partition(pid, n), pid.encode(), raw))
                sent += 1
        cap = DeadLetterCap(self.bundle.settings.dead_letters_per_request)
        kept = cap.keep(dead)
        if (summary := cap.summary(now)) is not None:
            kept.append(summary)
        producer = self.producer
        futures = [producer.send(self.topics.events, key=k, value=v, partition=p)
                   for p, k, v in out]
        futures += [producer.send(self.topics.dead_letter, value=letter_json(d)) for d in kept]
        self._wait(futures)
        reasons = Counter(d.reason for d in dead)
        self.rejected_by_reason.update(reasons)
        self.counts["events"] += sent
        return sent, dict(reasons)

    @property
    def producer(self):
        if self._producer is None:
            raise RuntimeError("the service is not running / 服务未运行")
        return self._producer

    def _send(self, topic: str, key: bytes | None, value: bytes, partition: int) -> None:
        self._wait([self.producer.send(topic, key=key, value=value, partition=partition)])

    def _wait(self, futures) -> None:
        from kafka.errors import KafkaError

        deadline = time.monotonic() + SEND_TIMEOUT_S
        try:
            self.producer.flush(timeout=SEND_TIMEOUT_S)
            for f in futures:
                f.get(timeout=max(0.1, deadline - time.monotonic()))
        except KafkaError as exc:
            raise RuntimeError(f"Kafka did not take it / Kafka 未接收: {exc!r}") from exc

    # -- reference data: the workers' ------------------------------------------------------
    def change_bundle(self, texts: bundle_files.Texts, *, audit: tuple | None = None,
                      timeout: float = 0.0) -> Bundle:
        raise BundleIsTheWorkers()

    def reload(self, bundle_dir=None, timeout: float = 0.0) -> None:
        raise BundleIsTheWorkers()

    def purge_now(self, now_ms: int | None = None, who: str = "lookout") -> dict:
        """Purge what this store keeps past the retention setting (dead letters, should any
        be here; tracks are not kept in Kafka mode). Audited."""
        return self.purger.purge_now(now_ms, who)


_: type[OfficerService] = KafkaOfficerRuntime  # mypy holds the runtime to the declared service
