"""Which alert updates deserve a push. An alert gets a new version for every repeat fix, every
acknowledgement and every clear; pushing each would train officers to ignore their phones. Two
moments matter: the alert is new (version 1), and nobody answered so it went up to the
supervisor (escalated turned true)."""

from __future__ import annotations

import threading

from alerts.records import AlertUpdate
from alerts.transitions import Transition, TransitionTracker

NEW = "new"
ESCALATED = "escalated"


class Policy:
    """Decides from the transition each version makes (alerts.transitions)."""

    def __init__(self, capacity: int = 200_000):
        self._tracker = TransitionTracker(capacity)
        self._lock = threading.Lock()

    def decide(self, update: AlertUpdate) -> str | None:
        with self._lock:
            t = self._observe(update)
        if t is None:
            return None  # a version announced again (a re-run, a second listener)
        if t.opened:
            return NEW
        if t.escalated:
            return ESCALATED
        if t.unseen and update.escalated and update.handling == "new" and update.active:
            # Never seen before (the notifier started after the alert opened): whether this
            # version is the escalation cannot be told. An escalated alert still open and
            # unacknowledged is what the supervisor must hear about; at worst they hear it once
            # more after a restart.
            return ESCALATED
        return None

    def prime(self, update: AlertUpdate) -> None:
        """Learn an alert's state without pushing (the store's latest versions, at start-up)."""
        with self._lock:
            self._observe(update)

    def __len__(self) -> int:
        return len(self._tracker)

    def _observe(self, update: AlertUpdate) -> Transition | None:
        t = self._tracker.observe(update)
        if t is not None and update.handling == "resolved":
            # a resolved alert never reopens nor escalates: nothing more to decide about it
            self._tracker.forget(update.alert_id)
        return t
