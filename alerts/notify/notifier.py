"""The notifier: takes every alert update, pushes the new and the escalated ones to the
configured groups, and never blocks or raises into the engine that calls it."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable

from alerts.notify import payloads
from alerts.notify.config import SEVERITIES, NotifyConfig, Target, load_config
from alerts.notify.delivery import Outcome, dingtalk_signed, post
from alerts.notify.directory import Directory
from alerts.notify.lanes import DeadLetters, Job, Lane
from alerts.notify.policy import Policy
from alerts.records import AlertUpdate

log = logging.getLogger("lookout.notify")

_FORMATS = {"wecom": payloads.wecom, "dingtalk": payloads.dingtalk}


class Notifier:
    """`offer(update)` from any thread; `close(timeout)` at shutdown.

    clock (wall seconds), sleep and rng are injectable so tests run without waiting; the default
    sleep wakes early when close() gives up, so shutdown is not held by a backoff."""

    def __init__(self, config: NotifyConfig, *, directory: Directory | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], object] | None = None,
                 rng: random.Random | None = None,
                 opener: urllib.request.OpenerDirector | None = None,
                 start: bool = True):
        self.config = config
        self.directory = directory or Directory()
        self._clock = clock
        self._opener = opener or urllib.request.build_opener()
        self._policy = Policy()
        self._abort = threading.Event()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.dead = DeadLetters(config.dead_letter_path, clock)
        rng = rng or random.Random()
        self._lanes = [
            Lane(t, send=self._send, retry=config.retry, maxsize=config.queue_size,
                 dead=self.dead, clock=clock, sleep=sleep or self._abort.wait, rng=rng,
                 abort=self._abort)
            for t in config.targets
        ]
        if start:
            self.start()

    @classmethod
    def from_file(cls, path, bundle=None, **kw) -> Notifier:
        directory = Directory.from_bundle(bundle) if bundle is not None else None
        return cls(load_config(path), directory=directory, **kw)

    def start(self) -> None:
        for lane in self._lanes:
            lane.start()

    def set_bundle(self, bundle) -> None:
        """After a bundle reload: new persons, renamed zones, moved offices."""
        self.directory = Directory.from_bundle(bundle)

    def prime(self, records: Iterable[dict]) -> None:
        """Tell the notifier what already happened (the store's latest SPEC §4 record of each
        alert) so that, after a restart, an old escalation is not taken for a new one."""
        for record in records:
            try:
                self._policy.prime(AlertUpdate.from_wire(record))
            except (KeyError, TypeError, ValueError):
                self._count("malformed")

    def offer(self, update: AlertUpdate) -> int:
        """Queue pushes for this update if it deserves any; returns how many were queued."""
        try:
            return self._offer(update)
        except Exception:  # a notification bug must never take the engine down with it
            log.exception("notifier could not handle alert update %.200r", update)
            self._count("errors")
            return 0

    def _offer(self, update: AlertUpdate) -> int:
        self._count("offered")
        reason = self._policy.decide(update)
        if update.severity not in SEVERITIES:
            self._count("malformed")
            return 0
        if reason is None:
            return 0
        self._count(f"push_{reason}")
        directory = self.directory
        office = directory.office_of(update.person_id)
        lanes = [ln for ln in self._lanes
                 if ln.target.accepts(update.severity, office, update.drill)]
        if not lanes:
            return 0
        link = payloads.alert_link(self.config.link_template, self.config.base_url, update)
        summary = payloads.summarize(update, reason, directory, link)
        queued = 0
        for lane in lanes:
            build = _FORMATS.get(lane.target.format)
            job = Job(update.alert_id, update.version, reason,
                      build(summary) if build else update.to_wire())
            queued += lane.put(job)
        self._count("queued", queued)
        return queued

    def _send(self, target: Target, job: Job) -> Outcome:
        body = json.dumps(job.payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "lookout-notify/1",
                   "X-Lookout-Notification": job.reason}
        url = target.url
        if target.secret:
            url = dingtalk_signed(url, target.secret, self._clock())
        return post(self._opener, url, body, headers, self.config.timeout_s,
                    robot=target.format != "json")

    def close(self, timeout: float = 10.0) -> bool:
        """Deliver what is queued, for at most `timeout` seconds; what is left then is
        dead-lettered ("shutdown"). True when everything was delivered or dead-lettered."""
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            lane.close()
        done = all([lane.join(max(0.0, deadline - time.monotonic())) for lane in self._lanes])
        if not done:
            self._abort.set()  # backoffs end now; a request in flight ends at its timeout
            for lane in self._lanes:
                lane.abandon()
        return done

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def dead_letters(self) -> list[dict]:
        return list(self.dead.recent)

    def stats(self) -> dict:
        with self._lock:
            counts = dict(self._counts)
        return {
            **counts,
            "sent": sum(ln.stats.sent for ln in self._lanes),
            "retries": sum(ln.stats.retries for ln in self._lanes),
            "dead_lettered": sum(self.dead.by_reason.values()),
            "dead_by_reason": dict(self.dead.by_reason),
            "pending": sum(ln.pending for ln in self._lanes),
            "targets": {ln.target.name: {"sent": ln.stats.sent, "retries": ln.stats.retries,
                                         "dead_lettered": ln.stats.dead, "pending": ln.pending}
                        for ln in self._lanes},
        }

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n
