"""Retention: tracks and dead letters past `track_retention_days` are purged (and the purge
audited, alerts/admin/retention.py), on request and, where a thread is started, hourly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from alerts.admin import retention
from alerts.store import Store
from alerts.timefmt import wall_ms
from config.settings import Settings

log = logging.getLogger("lookout.purge")


class Purger:
    def __init__(self, store: Store, settings: Callable[[], Settings]):
        """`settings`: those of the bundle running now (a bundle change may change them)."""
        self.store, self.settings = store, settings
        self.last: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def purge_now(self, now_ms: int | None = None, who: str = "lookout") -> dict:
        """Purge what is past the retention setting now (audited)."""
        at = wall_ms() if now_ms is None else now_ms
        self.last = retention.purge(self.store, self.settings(), at, who)
        return self.last

    def start(self, every_s: float) -> None:
        """Purge every `every_s` seconds in a thread of its own; the first a minute after
        start at most, so a restart does not wait on it."""
        self._thread = threading.Thread(target=self._loop, args=(every_s,),
                                        name="lookout-purge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self, every_s: float) -> None:
        wait = min(60.0, every_s)
        while not self._stop.wait(wait):
            try:
                self.purge_now()
            except Exception:  # try again next time; ingest goes on
                log.exception("purge failed")
            wait = every_s
