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
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alerts.store.actions import ActionLog
from alerts.store.alerts import Alerts
from alerts.store.audit import AuditLog
from alerts.store.commit import (
    Action,
    Audit,
    BundleTexts,
    Fix,
    OfficeOf,
    Released,
    Status,
    StepCommit,
)
from alerts.store.consumed import ConsumedOffsets
from alerts.store.db import READER_CACHE_KIB, WRITER_CACHE_KIB, Db, WriteErrorHook
from alerts.store.dead_letters import DeadLetterLike, DeadLetters
from alerts.store.faults import StoreLocked, StoreWriteError, is_fault, lock_writer
from alerts.store.journal import InboxRow, Journal
from alerts.store.persons import ReleasedPersons
from alerts.store.schema import BY_MODE, Mode
from alerts.store.tracks import Tracks
from alerts.timefmt import wall_ms
from alerts.triage import AlertQuery, TriagePage

if TYPE_CHECKING:
    from alerts.summary.source import SummaryInput

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

    # == Forwarding, until the files other helpers are rewriting call the repositories ========
    # Only the methods stream/live.py, stream/kafka/officer.py, stream/kafka/alerts_reader.py,
    # alerts/feed/* and alerts/admin/api.py call. Each is `store.<repository>.<same name>`;
    # rename those call sites and delete this block.
    @property
    def last_seq(self) -> int:
        return self.journal.last_seq

    def record_input(self, kind: str, at_ms: int, payload: bytes | None = None,
                     dead_letters: Iterable[DeadLetterLike] = ()) -> int:
        return self.journal.record_input(kind, at_ms, payload, dead_letters)

    def inbox_after(self, seq: int) -> list[InboxRow]:
        return self.journal.inbox_after(seq)

    def good_bundle(self) -> BundleTexts | None:
        return self.journal.good_bundle()

    def save_good_bundle(self, texts: BundleTexts) -> None:
        self.journal.save_good_bundle(texts)

    def load_snapshot(self) -> tuple[int, bytes] | None:
        return self.journal.load_snapshot()

    def commit_batch(self, updates: list[dict], office_of: OfficeOf, seq: int,
                     **parts: Any) -> list[dict]:
        return self.commit(StepCommit(updates, office_of, seq, **parts))

    def record_dead_letters(self, dead_letters: Iterable[DeadLetterLike]) -> None:
        self.dead_letters.record_dead_letters(dead_letters)

    def released_persons(self) -> dict[str, dict]:
        return self.persons.released_persons()

    def append_consumed(self, updates: list[dict], office_of: OfficeOf, topic: str,
                        next_offsets: dict[int, int], written_at: int | None = None) -> list[dict]:
        return self.consumed.append_consumed(updates, office_of, topic, next_offsets, written_at)

    def consumed_offsets(self, topic: str) -> dict[int, int]:
        return self.consumed.consumed_offsets(topic)

    def record_action(self, received_at: int, alert_id: str | None, action: str | None,
                      by: str | None, outcome: str, detail: str | None, record: str) -> int:
        return self.actions.record_action(received_at, alert_id, action, by, outcome, detail,
                                          record)

    def set_action_outcome(self, seq: int, outcome: str, detail: str | None = None) -> None:
        self.actions.set_action_outcome(seq, outcome, detail)

    def audit(self, who: str | None, what: str, target: str | None, before: Any = None,
              after: Any = None, at_ms: int | None = None) -> None:
        self.audits.audit(who, what, target, before, after, at_ms)

    def audit_log(self, limit: int = 200) -> list[dict]:
        return self.audits.audit_log(limit)

    def latest(self, alert_id: str) -> dict | None:
        return self.alerts.latest(alert_id)

    def all_latest(self) -> list[dict]:
        return self.alerts.all_latest()

    def history(self, alert_id: str) -> list[dict]:
        return self.alerts.history(alert_id)

    def written_times(self, alert_id: str) -> dict[int, int]:
        return self.alerts.written_times(alert_id)

    def triage(self, query: AlertQuery, reader: str, *, limit: int = 100,
               offset: int = 0) -> TriagePage:
        return self.alerts.triage(query, reader, limit=limit, offset=offset)

    def attention(self, query: AlertQuery, reader: str) -> dict[str, int]:
        return self.alerts.attention(query, reader)

    def mark_read(self, reader: str, alert_ids: Iterable[str], at_ms: int | None = None) -> None:
        self.alerts.mark_read(reader, alert_ids, at_ms)

    def person_alerts(self, person_id: str, *, drill: bool = False, limit: int = 100) -> list[dict]:
        return self.alerts.person_alerts(person_id, drill=drill, limit=limit)

    def open_alerts(self, office_ids: set[str] | None = None) -> list[dict]:
        return self.alerts.open_alerts(office_ids)

    def summary_input(self, finished_before_ms: int) -> SummaryInput:
        return self.alerts.summary_input(finished_before_ms)

    def resolved_alerts(self, since_ms: int, person_id: str | None = None) -> list[dict]:
        return self.alerts.resolved_alerts(since_ms, person_id)

    def track(self, person_id: str, since_ms: int, until_ms: int, limit: int = 500, *,
              drill: bool = False) -> list[dict]:
        return self.tracks.track(person_id, since_ms, until_ms, limit, drill=drill)

    def fix_hours(self, person_id: str, since_ms: int, until_ms: int) -> list[dict]:
        return self.tracks.fix_hours(person_id, since_ms, until_ms)

    def statuses(self, person_id: str, since_ms: int, until_ms: int,
                 limit: int = 500) -> list[dict]:
        return self.tracks.statuses(person_id, since_ms, until_ms, limit)
