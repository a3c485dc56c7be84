"""Delivery in the background: one lane (a thread and a bounded queue) per target, so that a
receiver that hangs or keeps failing delays only its own pushes, never another group's, and
never the engine that offered them."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.notify.config import Retry, Target
from alerts.notify.delivery import Outcome, backoff_s

log = logging.getLogger("lookout.notify")


@dataclass(slots=True)
class Job:
    alert_id: str
    version: int
    reason: str  # new | escalated
    payload: dict
    tries: int = 0
    last: str = ""  # the last failure, for the dead letter


class DeadLetters:
    """Notifications that could not be delivered: kept in memory (the newest `keep`), appended
    to a JSONL file when one is configured, and counted by reason."""

    def __init__(self, path: Path | None, clock: Callable[[], float], keep: int = 1000):
        self.path, self._clock = path, clock
        self.recent: deque[dict] = deque(maxlen=keep)
        self.by_reason: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, target: Target, job: Job, reason: str) -> None:
        entry = {
            "at": datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds"),
            "target": target.name,  # the name, never the URL: the URL holds the robot's key
            "format": target.format,
            "reason": reason,
            "detail": job.last,
            "attempts": job.tries,
            "alert_id": job.alert_id,
            "version": job.version,
            "notification": job.reason,
            "payload": job.payload,
        }
        log.warning("notification to %s dead-lettered: %s (%s) after %d attempt(s), alert %s",
                    target.name, reason, job.last or "-", job.tries, job.alert_id)
        with self._lock:
            self.recent.append(entry)
            self.by_reason[reason] += 1
            if self.path is None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            except OSError:
                log.exception("cannot write the notification dead-letter file %s", self.path)


@dataclass(slots=True)
class LaneStats:
    sent: int = 0
    retries: int = 0
    dead: int = 0


class Lane:
    def __init__(self, target: Target, *, send: Callable[[Target, Job], Outcome], retry: Retry,
                 maxsize: int, dead: DeadLetters, clock: Callable[[], float],
                 sleep: Callable[[float], object], rng: random.Random, abort: threading.Event):
        self.target = target
        self._send, self._retry, self._maxsize = send, retry, maxsize
        self._dead, self._clock, self._sleep, self._rng = dead, clock, sleep, rng
        self._abort = abort
        self._jobs: deque[Job] = deque()
        self._cv = threading.Condition()
        self._closing = False
        self._busy = False
        self._sent_at: deque[float] = deque()  # for pacing: send times within the last minute
        self.stats = LaneStats()
        self._stats_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"notify-{target.name}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, job: Job) -> bool:
        """Queue the job, or dead-letter it at once: offer() must never wait for a slow lane."""
        with self._cv:
            if self._closing:
                why, job.last = "closed", "offered after close()"
            elif len(self._jobs) >= self._maxsize:
                why, job.last = "queue_full", f"queue of {self._maxsize} full"
            else:
                self._jobs.append(job)
                self._cv.notify()
                return True
        self.give_up(job, why)
        return False

    @property
    def pending(self) -> int:
        with self._cv:
            return len(self._jobs) + (1 if self._busy else 0)

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()

    def join(self, timeout: float | None) -> bool:
        if self._thread.ident is None:  # never started: done only if nothing was queued
            with self._cv:
                return not self._jobs
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """Dead-letter whatever is still queued (close() ran out of time)."""
        with self._cv:
            jobs = list(self._jobs)
            self._jobs.clear()
        for job in jobs:
            job.last = job.last or "not sent before close() timed out"
            self.give_up(job, "shutdown")

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._closing:
                    self._cv.wait()
                if not self._jobs or self._abort.is_set():
                    return
                job = self._jobs.popleft()
                self._busy = True
            try:
                self._deliver(job)
            except Exception as e:  # a bug here must not silence the target for good
                log.exception("notification delivery to %s failed unexpectedly", self.target.name)
                job.last = repr(e)[:200]
                self.give_up(job, "error")
            finally:
                with self._cv:
                    self._busy = False

    def _deliver(self, job: Job) -> None:
        retry = self._retry
        while True:
            self._pace()
            if self._abort.is_set():
                return self.give_up(job, "shutdown")
            job.tries += 1
            out = self._send(self.target, job)
            if out.ok:
                self.stats.sent += 1
                return None
            job.last = out.detail
            if not out.retryable:
                return self.give_up(job, "rejected")
            if job.tries >= retry.attempts:
                return self.give_up(job, "exhausted")
            self.stats.retries += 1
            self._sleep(backoff_s(job.tries, retry, self._rng, out.retry_after_s))

    def _pace(self) -> None:
        rate = self.target.rate_per_minute
        if not rate:
            return
        now = self._clock()
        while self._sent_at and (self._sent_at[0] <= now - 60 or self._sent_at[0] > now):
            self._sent_at.popleft()  # out of the window (or the wall clock stepped back)
        if len(self._sent_at) >= rate:
            # one wait, then go: an injected sleep that does not move the clock cannot spin here
            self._sleep(self._sent_at[0] + 60 - now)
        self._sent_at.append(self._clock())

    def give_up(self, job: Job, reason: str) -> None:
        with self._stats_lock:
            self.stats.dead += 1
        self._dead.add(self.target, job, reason)
