"""What can go wrong with the store's file: a fault of the disk (worth retrying), and another
process holding the writer lock."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import IO

# SQLite's primary result codes that say the disk or the file failed, not the SQL: a write
# that failed with one of these may succeed later (space freed, the device back).
_FAULT_CODES = {
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    8,  # SQLITE_READONLY
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
}


class StoreWriteError(RuntimeError):
    """The store could not write now (disk full, I/O error, read-only): nothing of the
    transaction was kept; the same write may be tried again later."""


class StoreLocked(RuntimeError):
    """Another process holds the store's writer lock."""


def is_fault(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _FAULT_CODES


def lock_writer(db_path: str | Path) -> IO[str]:
    """Take the store's writer lock for this process's life (the open file it returns must
    be kept): a lock file beside the db, `flock`ed. The kernel drops it when the process
    ends, however it ends, so a SIGKILLed service never leaves a stale lock. Raises
    StoreLocked, naming the holder's pid, when another process has it."""
    path = Path(f"{db_path}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # held open until the process ends: the lock lives as long
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        raise StoreLocked(
            f"the store {db_path} is in use by another lookout run (pid {holder}) / "
            f"数据库 {db_path} 正被另一个 lookout run 进程（pid {holder}）使用") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
