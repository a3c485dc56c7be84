"""Which alert updates deserve a push. An alert gets a new version for every repeat fix, every
acknowledgement and every clear; pushing each would train officers to ignore their phones. Two
moments matter: the alert is new (version 1), and nobody answered so it went up to the
supervisor (escalated turned true)."""

from __future__ import annotations

import threading
from collections import OrderedDict

NEW = "new"
ESCALATED = "escalated"


class Policy:
    """Remembers, per alert, the last version seen and whether it was escalated."""

    def __init__(self, capacity: int = 200_000):
        self._seen: OrderedDict[str, tuple[int, bool]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def decide(self, update: dict) -> str | None:
        aid, version = update["alert_id"], int(update["version"])
        escalated = bool(update.get("escalated"))
        with self._lock:
            prev = self._seen.get(aid)
            if prev is not None and version <= prev[0]:
                return None  # a version announced again (a re-run, a second listener)
            self._remember(aid, version, escalated, update)
        if version == 1:
            return NEW
        if not escalated:
            return None
        if prev is not None:
            return ESCALATED if not prev[1] else None
        # Never seen before (the notifier started after the alert opened): whether this version
        # is the escalation cannot be told. An escalated alert still open and unacknowledged is
        # what the supervisor must hear about; at worst they hear it once more after a restart.
        if update.get("handling") == "new" and update.get("condition") == "active":
            return ESCALATED
        return None

    def prime(self, update: dict) -> None:
        """Learn an alert's state without pushing (the store's latest versions, at start-up)."""
        with self._lock:
            prev = self._seen.get(update["alert_id"])
            if prev is None or int(update["version"]) > prev[0]:
                self._remember(update["alert_id"], int(update["version"]),
                               bool(update.get("escalated")), update)

    def __len__(self) -> int:
        return len(self._seen)

    def _remember(self, aid: str, version: int, escalated: bool, update: dict) -> None:
        if update.get("handling") == "resolved":
            # a resolved alert never reopens nor escalates: nothing more to decide about it
            self._seen.pop(aid, None)
            return
        self._seen[aid] = (version, escalated)
        self._seen.move_to_end(aid)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
