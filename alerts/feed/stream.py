"""One runtime subscription shared by every open page.

`runtime.subscribe()` hands out a blocking `get(timeout)`; a thread per browser would tie up a
worker thread per open page for as long as it stays open. Instead one pump thread reads the
runtime while anyone listens and copies each update to every listener's asyncio queue. A
listener that falls `QUEUE_MAX` updates behind is cut off with a `resync` marker: its page
reloads the list instead of the server buffering without bound.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

log = logging.getLogger(__name__)

# as deep as the runtime's own subscription: a mass 失联 of a few thousand persons arrives as
# updates, not as a resync that reloads every page at once
QUEUE_MAX = 10_000
RESYNC = object()


class Listener:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.overflowed = False

    def _offer(self, record) -> None:  # runs on the listener's loop
        if self.overflowed:
            return
        if record is RESYNC or self.queue.qsize() >= QUEUE_MAX:
            self.overflowed = True
            self.queue.put_nowait(RESYNC)
        else:
            self.queue.put_nowait(record)


class Broadcaster:
    def __init__(self, runtime, poll_s: float = 0.5):
        self.runtime = runtime
        self.poll_s = poll_s
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self._pump: threading.Thread | None = None

    def add(self) -> Listener:
        """Register the caller (on its event loop); subscribed before this returns, so an
        update that happens after it is never missed."""
        listener = Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.add(listener)
            if self._pump is None:
                sub = self.runtime.subscribe()
                self._pump = threading.Thread(target=self._run, args=(sub,), daemon=True,
                                              name="lookout-feed-pump")
                self._pump.start()
        return listener

    def remove(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def _run(self, sub) -> None:
        try:
            while True:
                with self._lock:
                    if not self._listeners:
                        self._pump = None  # the next add() starts a fresh pump
                        return
                try:
                    record = sub.get(self.poll_s)
                except Exception:
                    # a broken subscription must not silence every page: say so, start over,
                    # and have the pages reload what they may have missed
                    log.exception("feed subscription failed; resubscribing")
                    old, sub = sub, None
                    old.close()
                    time.sleep(self.poll_s)
                    sub = self.runtime.subscribe()
                    record = RESYNC
                if record is not None:
                    self._deliver(record)
        finally:
            with self._lock:  # on an error too: the next add() must start a fresh pump
                if self._pump is threading.current_thread():
                    self._pump = None
            if sub is not None:
                sub.close()

    def _deliver(self, record) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.loop.call_soon_threadsafe(listener._offer, record)
            except RuntimeError:  # its loop is closed: the page is long gone
                self.remove(listener)

    @property
    def listening(self) -> int:
        with self._lock:
            return len(self._listeners)
