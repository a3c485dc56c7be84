"""The officer service's SQLite store, as one repository per concern over one file:

* `store.alerts`: the alerts' read model (versions, latest, routes, reads; the lists);
* `store.tracks`: accepted fixes and status events (maps, the person view);
* `store.actions`: the action log; `store.audits`: the audit log;
* `store.dead_letters`: rejected input records;
* `store.journal` (in-process engine only): inbox, snapshot, last good bundle;
* `store.persons` (in-process engine only): persons released from supervision;
* `store.consumed` (Kafka officer only): how far the alerts topic has been read.

All share one writer connection, lock and transaction (alerts/store/db.py). What one engine
step produced is kept in one transaction across them (`Store.commit`). The mode says which
tables the file gets: `Store(path, mode="kafka")` creates no journal and no released persons.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TypeVar

from alerts.store.actions import ActionLog
from alerts.store.alerts import Alerts
from alerts.store.audit import AuditLog
from alerts.store.commit import (
    Action,
    Audit,
    Fix,
    Released,
    Status,
    StepCommit,
)
from alerts.store.consumed import ConsumedOffsets
from alerts.store.db import READER_CACHE_KIB, WRITER_CACHE_KIB, Db, WriteErrorHook
from alerts.store.dead_letters import DeadLetters
from alerts.store.faults import StoreLocked, StoreWriteError, is_fault, lock_writer
from alerts.store.journal import InboxRow, Journal
from alerts.store.persons import ReleasedPersons
from alerts.store.schema import BY_MODE, Mode
from alerts.store.tracks import Tracks
from alerts.timefmt import wall_ms

__all__ = [
    "READER_CACHE_KIB", "WRITER_CACHE_KIB", "Action", "Audit", "Fix", "InboxRow", "Mode",
    "NotInThisStore", "Released", "Status", "StepCommit", "Store", "StoreLocked",
    "StoreWriteError", "is_fault", "lock_writer",
]

_R = TypeVar("_R")


class NotInThisStore(RuntimeError):
    """This store's mode keeps no such tables (e.g. the journal in a Kafka officer store)."""


class Store:
    def __init__(self, path: str | Path, *, durable: bool = True,
                 on_write_error: WriteErrorHook | None = None, mode: Mode = "live"):
        if mode not in BY_MODE:
            raise ValueError(f"store mode {mode!r}: one of {sorted(BY_MODE)}")
        self.mode = mode
        self._db = Db(path, durable=durable, on_write_error=on_write_error)
        self._db.writer.executescript(BY_MODE[mode])
        self.alerts = Alerts(self._db)
        self.alerts.migrate()
        self.tracks = Tracks(self._db)
        self.actions = ActionLog(self._db)
        self.audits = AuditLog(self._db)
        self.dead_letters = DeadLetters(self._db)
        self._journal = Journal(self._db) if mode == "live" else None
        self._persons = ReleasedPersons(self._db) if mode == "live" else None
        self._consumed = ConsumedOffsets(self._db) if mode == "kafka" else None

    @property
    def path(self) -> str:
        return self._db.path

    @property
    def on_write_error(self) -> WriteErrorHook | None:
        """Told of every write that failed for a fault of the disk (the runtime's metrics
        count them as lookout_store_errors_total{operation="write"})."""
        return self._db.on_write_error

    @on_write_error.setter
    def on_write_error(self, hook: WriteErrorHook | None) -> None:
        self._db.on_write_error = hook

    @property
    def journal(self) -> Journal:
        return self._only(self._journal, "journal", "live")

    @property
    def persons(self) -> ReleasedPersons:
        return self._only(self._persons, "persons", "live")

    @property
    def consumed(self) -> ConsumedOffsets:
        return self._only(self._consumed, "consumed", "kafka")

    def _only(self, repo: _R | None, name: str, mode: str) -> _R:
        if repo is None:
            raise NotInThisStore(f"a {self.mode} store keeps no {name} (only a {mode} store "
                                 f"does): {self.path}")
        return repo

    def tables(self) -> list[str]:
        """The tables the file holds, by name."""
        rows = self._db.reader().execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name").fetchall()
        return [r[0] for r in rows]

    def commit(self, step: StepCommit) -> list[dict]:
        """Everything one engine step produced, in one transaction; returns the updates that
        were new (not already stored by a run before a restart)."""
        journal = self.journal if self._journal_parts(step) else None
        persons = self.persons if step.released or step.enrolled else None
        written = step.step_ms if step.step_ms is not None else wall_ms()
        with self._db.tx() as c:
            new = Alerts.add(c, step.updates, step.office_of, step.seq, written)
            Tracks.add(c, step.fixes, step.statuses)
            ActionLog.add(c, step.actions)
            DeadLetters.add(c, step.dead_letters)
            AuditLog.add(c, step.audits)
            if persons is not None:
                persons.add(c, step.released, step.enrolled)
            if journal is not None:
                self._journal_step(c, step)
        return new

    @staticmethod
    def _journal_parts(step: StepCommit) -> bool:
        return (step.step_ms is not None or step.snapshot is not None
                or step.good_bundle is not None)

    @staticmethod
    def _journal_step(c: sqlite3.Connection, step: StepCommit) -> None:
        if step.step_ms is not None:
            Journal.mark_step(c, step.seq, step.step_ms)
        if step.snapshot is not None:
            Journal.add_snapshot(c, step.seq, step.snapshot)
        if step.good_bundle is not None:
            Journal.add_good_bundle(c, step.good_bundle)

    def close(self) -> None:
        self._db.close()
