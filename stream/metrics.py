"""Prometheus metrics for every Lookout runtime: `lookout replay`, `lookout run`, Kafka workers.

    metrics = LookoutMetrics()
    metrics.observe_decoded(batch, rejects, drill=args.drill)         # after each decode
    t = time.perf_counter()
    updates = engine.process(state, batch, now_ms)
    metrics.observe_process(batch, updates, time.perf_counter() - t, now_ms, engine.stats)
    body, content_type = metrics.exposition()                         # GET /metrics

Each instance owns its CollectorRegistry, never the global one, so tests and several runtimes
in one process don't collide. Labels are bounded by construction: alert type, severity,
reject reason and drill come from fixed lists (anything else becomes "other"), and no person
or alert id is ever a label. Traffic and alert metrics carry drill="true"|"false" (SPEC §3):
a drill must never make a dashboard or an operator alert look healthy.

Alert transitions (opened, cleared, reopened, escalated, acknowledged) come from the shared
alerts.transitions tracker, which keeps the last version of each alert in a bounded LRU. The
open/unacknowledged gauges are sums over that LRU, so they stay consistent with it: an alert
pushed out of it leaves the gauges too, and is counted in lookout_metrics_alerts_forgotten_total.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
    make_asgi_app,
    start_http_server,
    write_to_textfile,
)
from prometheus_client import Counter as PromCounter
from prometheus_client.exposition import choose_encoder

from alerts.actions import DISPOSITIONS
from alerts.kinds import ALERT_TYPES, FEED_DOWN, SEVERITIES
from alerts.records import AlertUpdate, RouteStep, read_records
from alerts.state import NO_TIME
from alerts.transitions import Seen, Transition, TransitionTracker
from stream.events import REJECT_REASONS, TICK

__all__ = ["LookoutMetrics", "count_persons"]

DRILL_VALUES = ("false", "true")
IGNORE_REASONS = ("duplicate", "out_of_order")
OTHER = "other"

BATCH_SIZE_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000)
ENGINE_SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Event-to-alert latency includes the device's and gateway's own delays: seconds to an hour.
LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# escalate_after_s defaults run from 5 min (critical) to 1 h (low).
ACK_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)


def _drill(value) -> str:
    return "true" if value is True or value == "true" else "false"


def _bounded(value, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER


def _labels(a: Seen) -> tuple[str, str, str]:
    """An alert's bounded labels: type, severity, drill."""
    return _bounded(a.type, ALERT_TYPES), _bounded(a.severity, SEVERITIES), _drill(a.drill)


ROUTE_STAGES = ("first", "escalation")
COVERAGE_NEEDS = ("alert", "escalation")


class LookoutMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, max_alerts: int = 100_000,
                 alert_latency: bool = True):
        """`alert_latency=False` for a replay of a recorded feed: its event times are history,
        and wall clock minus history measures nothing."""
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.max_alerts = max_alerts
        self.alert_latency = alert_latency
        # remembers each alert's last version: what the next one changed, and its gauges' share
        self._tracker = TransitionTracker(max_alerts, on_forget=self._forgotten)
        self._engine_stats: Counter = Counter()
        # the service may apply officers' actions on a web thread while the engine runs on another
        self._lock = threading.Lock()
        r = self.registry

        def counter(name, doc, labels=()):
            return PromCounter(name, doc, labels, registry=r)

        def gauge(name, doc, labels=()):
            return Gauge(name, doc, labels, registry=r)

        def histogram(name, doc, labels, buckets):
            return Histogram(name, doc, labels, buckets=buckets, registry=r)

        # traffic: received = rejected + accepted + ignored + ticks (the engine counts no ticks)
        self.received = counter(
            "lookout_events_received", "Input records received, valid or not.", ["drill"]
        )
        self.rejected = counter(
            "lookout_events_rejected",
            "Input records rejected to the dead-letter output, by reason (SPEC §1). A record too "
            "broken to read its drill flag counts under the runtime's mode.",
            ["reason", "drill"],
        )
        self.accepted = counter(
            "lookout_events_accepted", "Events applied to engine state.", ["drill"]
        )
        self.ignored = counter(
            "lookout_events_ignored",
            "Valid events counted and ignored for state: duplicate or out_of_order.",
            ["reason", "drill"],
        )
        self.last_event = gauge(
            "lookout_last_event_received_timestamp_seconds",
            "Wall clock when the last valid person event (not a tick) was received; starts at "
            "the process start for drill=\"false\", so a feed that never arrives is noticed.",
            ["drill"],
        )
        self.batch_size = histogram(
            "lookout_batch_size_events", "Events per engine batch.", ["drill"], BATCH_SIZE_BUCKETS
        )
        self.batch_seconds = histogram(
            "lookout_engine_batch_duration_seconds",
            "Wall-clock seconds the engine spent on one batch.",
            ["drill"],
            ENGINE_SECONDS_BUCKETS,
        )
        self.feed_down = gauge(
            "lookout_feed_down", "1 while the engine's feed_down alert is active."
        )

        # alerts
        alert_labels = ["type", "severity", "drill"]
        self.opened = counter("lookout_alerts_opened", "New alerts (version 1).", alert_labels)
        self.cleared = counter(
            "lookout_alerts_cleared", "Alerts whose condition cleared.", alert_labels
        )
        self.reopened = counter(
            "lookout_alerts_reopened",
            "Cleared alerts reopened within reopen_window_s.",
            alert_labels,
        )
        self.escalated = counter(
            "lookout_alerts_escalated", "Alerts escalated to the supervisor.", alert_labels
        )
        self.acknowledged = counter(
            "lookout_alerts_acknowledged", "Alerts acknowledged by an officer.", alert_labels
        )
        self.resolved = counter(
            "lookout_alerts_resolved", "Alerts resolved by an officer.", alert_labels
        )
        self.dispositions = counter(
            "lookout_alert_dispositions",
            "Alerts resolved, by the officer's disposition (false_alarm, device_fault, ...): the "
            "false-alarm share of a type is its false_alarm rate over all of its rate. Per type "
            "only: zones, persons and officers are in the shift summary, not in labels.",
            ["type", "disposition", "drill"],
        )
        self.open = gauge(
            "lookout_alerts_open",
            "Alerts whose condition is active and not resolved.",
            alert_labels,
        )
        self.unacknowledged = gauge(
            "lookout_alerts_unacknowledged",
            "Active alerts nobody has acknowledged or resolved yet.",
            [*alert_labels, "escalated"],
        )
        self.latency = histogram(
            "lookout_alert_latency_seconds",
            "Wall clock at detection minus the event time of the event or timer that raised "
            "the alert (version 1 only, clamped at 0).",
            ["type", "drill"],
            LATENCY_BUCKETS,
        )
        self.time_to_ack = histogram(
            "lookout_alert_acknowledge_seconds",
            "Wall-clock seconds from detection to the first acknowledgement or resolution.",
            ["severity", "drill"],
            ACK_BUCKETS,
        )
        self.unstaffed = counter(
            "lookout_alerts_unstaffed",
            "Routing decisions (a new alert, or an escalation) that found nobody on shift "
            "anywhere up the office chain, so went to someone off shift (reason unstaffed).",
            ["stage", "severity", "drill"],
        )
        self.coverage_gap = gauge(
            "lookout_coverage_gap_hours",
            "Hours a week when nobody up an office's chain is on shift to receive its alerts "
            "(need=alert) or a supervisor for its escalations (need=escalation), from the "
            "bundle's shifts. One series per office with persons (a short list: the bundle's "
            "offices, by id and name).",
            ["office", "office_name", "need"],
        )
        self.forgotten = counter(
            "lookout_metrics_alerts_forgotten",
            "Alerts pushed out of the metrics' bounded memory; they no longer count in the gauges.",
        )

        # persons
        self.persons_tracked = gauge(
            "lookout_persons_tracked", "Persons the engine is watching.", ["drill"]
        )
        self.persons_silent = gauge(
            "lookout_persons_silent",
            "Tracked persons not heard from within their silence timeout.",
            ["drill"],
        )

        # workers and storage
        self.lag = gauge(
            "lookout_kafka_consumer_lag_messages",
            "Messages behind the end of the partition.",
            ["topic", "partition"],
        )
        self.produce_errors = counter(
            "lookout_kafka_produce_errors", "Failed Kafka produce calls.", ["topic"]
        )
        self.store_errors = counter(
            "lookout_store_errors", "Failed reads or writes of the alert store.", ["operation"]
        )
        self.bundle_invalid = gauge(
            "lookout_bundle_invalid",
            "1 while the bundle on disk is refused and the service runs on the last good one.",
        )

        # Zero series from the start, so rate() and the alerting rules see every combination.
        for d in DRILL_VALUES:
            self.received.labels(d)
            self.accepted.labels(d)
            for reason in REJECT_REASONS:
                self.rejected.labels(reason, d)
            for reason in IGNORE_REASONS:
                self.ignored.labels(reason, d)
            for stage in ROUTE_STAGES:
                for sev in SEVERITIES:
                    self.unstaffed.labels(stage, sev, d)
        for alert_type in ALERT_TYPES:
            for disposition in DISPOSITIONS:
                self.dispositions.labels(alert_type, disposition, "false")
        self.last_event.labels("false").set(time.time())
        self.feed_down.set(0)

    # -- traffic ---------------------------------------------------------------------------------
    def observe_decode(
        self,
        accepted: int,
        rejected_by_reason: Mapping[str, int] | None = None,
        drill: bool = False,
        now_s: float | None = None,
        person_events: int | None = None,
    ) -> None:
        """`accepted` records passed decoding, `rejected_by_reason` went to dead letters.
        `person_events` (default: all accepted) are the ones that are not ticks: only they
        prove that people's devices are reporting."""
        d = _drill(drill)
        rejected = 0
        for reason, n in (rejected_by_reason or {}).items():
            if n:
                self.rejected.labels(_bounded(reason, REJECT_REASONS), d).inc(n)
                rejected += n
        if accepted + rejected:
            self.received.labels(d).inc(accepted + rejected)
        if (accepted if person_events is None else person_events) > 0:
            self.last_event.labels(d).set(time.time() if now_s is None else now_s)

    def observe_decoded(self, batch, rejects: Iterable, drill: bool = False,
                        now_s: float | None = None) -> None:
        """What `Decoder.decode` returned: an EventBatch and its DeadLetters. Valid events count
        under their own drill flag; rejects under `drill` (the runtime's mode)."""
        self.observe_decode(0, Counter(r.reason for r in rejects), drill, now_s)
        if len(batch) == 0:
            return
        flags = np.asarray(batch.drill, dtype=bool)
        not_tick = np.asarray(batch.kind) != TICK
        for is_drill in (False, True):
            rows = flags == is_drill
            n = int(np.count_nonzero(rows))
            if n:
                self.observe_decode(n, None, is_drill, now_s,
                                    person_events=int(np.count_nonzero(rows & not_tick)))

    def observe_batch(self, n_events: int, seconds: float, drill: bool = False) -> None:
        d = _drill(drill)
        self.batch_size.labels(d).observe(n_events)
        self.batch_seconds.labels(d).observe(max(0.0, seconds))

    def observe_engine_stats(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        """Counts from `Engine.stats` between two snapshots (accepted, duplicate, out_of_order;
        drill_ prefixed for the drill world)."""
        for d, prefix in (("false", ""), ("true", "drill_")):
            n = after.get(prefix + "accepted", 0) - before.get(prefix + "accepted", 0)
            if n > 0:
                self.accepted.labels(d).inc(n)
            for reason in IGNORE_REASONS:
                n = after.get(prefix + reason, 0) - before.get(prefix + reason, 0)
                if n > 0:
                    self.ignored.labels(reason, d).inc(n)

    def sync_engine_stats(self, stats: Mapping[str, int]) -> None:
        """observe_engine_stats against the snapshot this object saw last time."""
        now = Counter(stats)
        # a new Engine starts its stats at zero again: take its counts as they are
        with self._lock:
            before = self._engine_stats
            if any(now[k] < v for k, v in before.items()):
                before = Counter()
            self._engine_stats = now
        self.observe_engine_stats(before, now)

    def observe_process(self, batch, updates: list[AlertUpdate], seconds: float, now_ms: int,
                        stats: Mapping[str, int] | None = None) -> None:
        """Everything one `engine.process` call tells: batch, engine stats, alert updates.
        The batch histograms file a batch mixing real and drill events under drill="false"."""
        if len(batch):
            flags = np.asarray(batch.drill, dtype=bool)
            self.observe_batch(len(batch), seconds, drill=bool(flags.all()))
        if stats is not None:
            self.sync_engine_stats(stats)
        self.observe_updates(updates, now_ms)

    def set_feed_down(self, down: bool) -> None:
        self.feed_down.set(1 if down else 0)

    # -- alerts ----------------------------------------------------------------------------------
    def observe_updates(self, updates: Iterable[AlertUpdate], now_ms: int | None = None) -> None:
        """Alert updates in emission order. A version already seen (a redelivery) is skipped;
        an alert first seen at version > 1 (after a restart) joins the gauges without counting
        a transition nobody saw."""
        now_s = time.time() if now_ms is None else now_ms / 1000.0
        with self._lock:
            for u in updates:
                self._update(u, now_s, count=True)

    def seed_alerts(self, records: Iterable[dict]) -> None:
        """The latest version of alerts that existed before this process (the store's SPEC §4
        records): fills the gauges, counts nothing."""
        updates = read_records(records)
        with self._lock:
            for u in updates:
                self._update(u, 0.0, count=False)

    def _update(self, u: AlertUpdate, now_s: float, count: bool) -> None:
        t = self._tracker.observe(u)
        if t is None:
            return
        if u.type == FEED_DOWN and not u.drill:
            self.set_feed_down(u.active)
        if count:
            self._count_transitions(t, now_s)
        if t.before is not None:
            self._gauges(t.before, -1)
        self._gauges(t.after, +1)

    def _forgotten(self, old: Seen) -> None:
        if self._gauges(old, -1):
            self.forgotten.inc()

    def _count_transitions(self, t: Transition, now_s: float) -> None:
        u = t.update
        labels = _labels(t.after)
        if t.opened:
            self._count_opened(u, labels, now_s)
        if t.unseen:
            return
        self._count_unstaffed(t.new_route_steps, labels)
        if t.cleared:
            self.cleared.labels(*labels).inc()
        if t.reopened:
            self.reopened.labels(*labels).inc(t.reopened)
        if t.escalated:
            self.escalated.labels(*labels).inc()
        if t.handled:
            if t.acknowledged:
                self.acknowledged.labels(*labels).inc()
            if u.detected_at_ms is not None:
                waited = max(0.0, now_s - u.detected_at_ms / 1000)
                self.time_to_ack.labels(labels[1], labels[2]).observe(waited)
        if t.resolved:
            self.resolved.labels(*labels).inc()
            found = u.resolution.disposition if u.resolution is not None else None
            self.dispositions.labels(labels[0], _bounded(found, DISPOSITIONS), labels[2]).inc()

    def _count_opened(self, u: AlertUpdate, labels: tuple[str, str, str], now_s: float) -> None:
        self.opened.labels(*labels).inc()
        if self.alert_latency:
            end_s = u.detected_at_ms / 1000 if u.detected_at_ms is not None else now_s
            latency = end_s - u.last_event_at_ms / 1000
            self.latency.labels(labels[0], labels[2]).observe(max(0.0, latency))

    def _count_unstaffed(self, new_steps: tuple[RouteStep, ...], labels: tuple[str, str, str]) -> None:
        """One count per routing decision: the steps this version added to the route."""
        if any(step.reason == "unstaffed" for step in new_steps):
            stage = "escalation" if new_steps[0].role == "supervisor" else "first"
            self.unstaffed.labels(stage, labels[1], labels[2]).inc()

    def set_coverage(self, gaps: Iterable, offices: Mapping[str, str]) -> None:
        """The bundle's coverage gaps (alerts.coverage.Gap); `offices`: id -> name of every
        office with persons, each of which gets a series (0: covered)."""
        with self._lock:
            self.coverage_gap.clear()
            for office, name in offices.items():
                for need in COVERAGE_NEEDS:
                    self.coverage_gap.labels(office, name, need).set(0)
            for g in gaps:
                self.coverage_gap.labels(g.office_id, g.office_name, g.need).set(g.hours)

    def _gauges(self, a: Seen, sign: int) -> bool:
        """Add (+1) or remove (-1) one alert's share of the gauges; True if it had any."""
        if not a.active or a.handling == "resolved":
            return False
        labels = _labels(a)
        self.open.labels(*labels).inc(sign)
        if a.handling == "new":
            self.unacknowledged.labels(*labels, "true" if a.escalated else "false").inc(sign)
        return True

    # -- persons, workers, storage ---------------------------------------------------------------
    def set_persons(self, tracked: int, silent: int, drill: bool = False) -> None:
        d = _drill(drill)
        self.persons_tracked.labels(d).set(tracked)
        self.persons_silent.labels(d).set(silent)

    def observe_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(topic, str(int(partition))).set(max(0, lag))

    def forget_partition(self, topic: str, partition: int) -> None:
        """On a rebalance: a partition this worker no longer owns must not report a stale lag."""
        try:
            self.lag.remove(topic, str(int(partition)))
        except KeyError:
            pass

    def observe_produce_error(self, topic: str, n: int = 1) -> None:
        self.produce_errors.labels(topic).inc(n)

    def observe_store_error(self, operation: str = "write", n: int = 1) -> None:
        self.store_errors.labels(operation).inc(n)

    def set_bundle_invalid(self, invalid: bool) -> None:
        self.bundle_invalid.set(1 if invalid else 0)

    # -- exposition ------------------------------------------------------------------------------
    def render(self) -> bytes:
        """The Prometheus text exposition format (0.0.4)."""
        return generate_latest(self.registry)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type) for a GET /metrics, honouring an OpenMetrics Accept header."""
        if not accept:
            return self.render(), CONTENT_TYPE_LATEST
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def starlette_endpoint(self):
        """A Starlette/FastAPI route: `app.add_route("/metrics", m.starlette_endpoint(),
        include_in_schema=False)`."""
        from starlette.responses import Response  # only the web runtimes need Starlette

        async def metrics_endpoint(request) -> Response:
            body, content_type = self.exposition(request.headers.get("accept"))
            return Response(body, media_type=content_type)

        return metrics_endpoint

    def asgi_app(self):
        """A bare ASGI app for `app.mount("/metrics", ...)` (which redirects /metrics to
        /metrics/; Prometheus follows it)."""
        return make_asgi_app(registry=self.registry)

    def serve(self, port: int, addr: str = "0.0.0.0"):
        """A background HTTP server thread for processes without a web app (Kafka workers);
        returns prometheus_client's (server, thread)."""
        return start_http_server(port, addr=addr, registry=self.registry)

    def write_textfile(self, path: str) -> None:
        """Written to a temporary file and renamed, so a reader never sees half a file."""
        write_to_textfile(str(path), self.registry)


def count_persons(engine, state, drill: bool = False) -> tuple[int, int]:
    """(tracked, silent) for set_persons: persons whose clock has started, and those among
    them not heard from within their silence timeout at the engine's clock."""
    part = state.part(drill)
    if not part.started:
        return 0, 0
    # a drill tracks only the persons it has sent: they have a latest_ts but no tracked_since
    last = np.maximum(part.latest_ts, part.tracked_since)
    tracked = last != NO_TIME
    silent = tracked & (last + engine.caseload.timeout_ms <= part.clock)
    return int(np.count_nonzero(tracked)), int(np.count_nonzero(silent))
