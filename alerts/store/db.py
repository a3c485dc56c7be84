"""The one SQLite file every repository of the store shares: one writer connection under one
lock, one transaction at a time (`Db.tx`), and a reader connection per thread.

The runtime thread, the ingest threads and the web server (audit lines) write through the
writer under the lock; every other read goes through a connection of the reading thread's
own, which WAL lets run alongside the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from alerts.store.faults import StoreWriteError, is_fault

# Negative: KiB. The writer's cache keeps the fixes' index hot; each reader (one per server
# thread) needs little. With mmap off these bound the store's share of RSS.
WRITER_CACHE_KIB = -65536
READER_CACHE_KIB = -4096

WriteErrorHook = Callable[[BaseException], None]


class Db:
    def __init__(self, path: str | Path, *, durable: bool = True,
                 on_write_error: WriteErrorHook | None = None):
        self.path = str(path)
        # told of every write that failed for a fault of the disk (a metric counts them)
        self.on_write_error = on_write_error
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self.writer = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                      timeout=30)
        self.writer.execute("PRAGMA journal_mode=WAL")
        # FULL: a 202 from ingest must survive a power cut, not only a killed process.
        self.writer.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.writer.execute(f"PRAGMA cache_size={WRITER_CACHE_KIB}")  # the fixes' index stays hot
        self.writer.execute("PRAGMA mmap_size=0")  # page cache only: RSS is what cache_size says

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA query_only=1")
            conn.execute(f"PRAGMA cache_size={READER_CACHE_KIB}")
            conn.execute("PRAGMA mmap_size=0")
            self._local.conn = conn
            with self.lock:
                # worker threads come and go (anyio retires idle ones after 10 s): a dead
                # thread's connection and its cache would otherwise stay for good
                alive = [(t, c) for t, c in self._readers if t.is_alive()]
                for t, c in self._readers:
                    if not t.is_alive():
                        c.close()
                self._readers = [*alive, (threading.current_thread(), conn)]
        return conn

    def tx(self) -> Tx:
        return Tx(self.writer, self.lock, self._write_failed)

    def _write_failed(self, exc: BaseException) -> None:
        if self.on_write_error is not None:
            self.on_write_error(exc)

    def close(self) -> None:
        with self.lock:
            for _, conn in self._readers:
                conn.close()
            self._readers.clear()
            self.writer.close()


class Tx:
    """BEGIN IMMEDIATE ... COMMIT on the writer under the store's lock; ROLLBACK on error.
    A fault of the disk, at any point, comes out as StoreWriteError with nothing kept, and
    the store's write-error hook is told of it."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock, failed: WriteErrorHook):
        self.conn, self.lock, self.failed = conn, lock, failed

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            self.lock.release()
            self._raise_fault(exc)
            raise
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                    return
                except BaseException as commit_exc:
                    exc = commit_exc
            self._rollback()
            self._raise_fault(exc)
            if exc_type is None and exc is not None:
                raise exc
        finally:
            self.lock.release()

    def _rollback(self) -> None:
        # SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR): ROLLBACK then says
        # "no transaction is active", which must not hide the error that matters
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _raise_fault(self, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, StoreWriteError) and is_fault(exc):
            self.failed(exc)
            raise StoreWriteError(f"the store cannot write: {exc}") from exc


class Repository:
    """One concern's tables in the shared file: reads through `db.reader()`, writes in
    `db.tx()`; what an engine step writes comes in through a static `add(c, ...)` inside the
    step's one transaction."""

    def __init__(self, db: Db):
        self.db = db
