"""Who hears about new alert updates: the officers' page streams, one queue per listener.

Both officer-facing runtimes (stream/live.py, stream/kafka/officer.py) announce each version
once, after it is committed to the store; this is where those announcements go.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class Subscription:
    """New alert updates for one listener. A listener that falls `maxsize` behind loses the
    oldest updates rather than holding the engine back; `dropped` counts them."""

    def __init__(self, maxsize: int, on_close: Callable[[Subscription], None]):
        self._queue: queue.Queue[dict] = queue.Queue(maxsize)
        self._on_close = on_close
        self.dropped = 0
        self.closed = False

    def put(self, update: dict) -> None:
        while True:
            try:
                self._queue.put_nowait(update)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> dict | None:
        """The next update, or None after `timeout` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed = True
        self._on_close(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Subscribers:
    """The open subscriptions; thread-safe (listeners come and go on the web server's threads)."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        """Every new alert update from now on (a thread-safe queue, for server-sent events)."""
        sub = Subscription(maxsize, self._unsubscribe)
        with self._lock:
            self._subs.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, updates: list[dict]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            for u in updates:
                sub.put(u)
