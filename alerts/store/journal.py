"""The in-process engine's journal: every input in arrival order (the inbox), the engine
state as of some inbox row (the snapshot, after which the rows it covers go), and the
bundle texts last accepted. A restart loads the snapshot and re-runs the rows after it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from alerts.store.commit import BundleTexts
from alerts.store.db import Db, Repository
from alerts.store.dead_letters import DeadLetterLike, DeadLetters
from alerts.timefmt import wall_ms


@dataclass(slots=True)
class InboxRow:
    seq: int
    kind: str
    at_ms: int
    payload: bytes | None
    step_ms: int | None  # set on the last row of each applied step: its wall clock


class Journal(Repository):
    def __init__(self, db: Db):
        super().__init__(db)
        snap = db.writer.execute("SELECT upto_seq FROM snapshot").fetchone()
        top = db.writer.execute("SELECT max(seq) FROM inbox").fetchone()[0]
        # Rows up to a snapshot may be deleted, so the snapshot bounds the sequence as well.
        self._last_seq: int = max(top or 0, snap[0] if snap else 0)

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def record_input(self, kind: str, at_ms: int, payload: bytes | None = None,
                     dead_letters: Iterable[DeadLetterLike] = ()) -> int:
        """Append one input to the inbox (and the rejects of the same request) durably;
        returns its seq."""
        with self.db.tx() as c:
            seq = self._last_seq + 1
            c.execute("INSERT INTO inbox(seq, kind, at_ms, payload) VALUES (?,?,?,?)",
                      (seq, kind, at_ms, payload))
            DeadLetters.add(c, dead_letters)
            self._last_seq = seq
        return seq

    def inbox_after(self, seq: int) -> list[InboxRow]:
        with self.db.lock:
            rows = self.db.writer.execute("SELECT seq, kind, at_ms, payload, step_ms FROM inbox "
                                          "WHERE seq > ? ORDER BY seq", (seq,)).fetchall()
        return [InboxRow(*r) for r in rows]

    def good_bundle(self) -> BundleTexts | None:
        """The bundle files' texts last accepted (None: no bundle accepted yet)."""
        with self.db.lock:
            rows = self.db.writer.execute("SELECT name, text FROM bundle_good").fetchall()
        return dict(rows) or None

    def save_good_bundle(self, texts: BundleTexts) -> None:
        with self.db.tx() as c:
            self.add_good_bundle(c, texts)

    def load_snapshot(self) -> tuple[int, bytes] | None:
        with self.db.lock:
            row = self.db.writer.execute("SELECT upto_seq, state FROM snapshot").fetchone()
        return (row[0], bytes(row[1])) if row else None

    # -- within a transaction of the caller's (the step commit) ------------------------------
    @staticmethod
    def add_good_bundle(c: sqlite3.Connection, texts: BundleTexts) -> None:
        now = wall_ms()
        c.execute("DELETE FROM bundle_good")
        c.executemany("INSERT INTO bundle_good VALUES (?,?,?)",
                      [(name, text, now) for name, text in sorted(texts.items())])

    @staticmethod
    def mark_step(c: sqlite3.Connection, seq: int, step_ms: int) -> None:
        c.execute("UPDATE inbox SET step_ms = ? WHERE seq = ?", (step_ms, seq))

    @staticmethod
    def add_snapshot(c: sqlite3.Connection, upto_seq: int, state: bytes) -> None:
        c.execute("INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?, ?)",
                  (upto_seq, state, wall_ms()))
        c.execute("DELETE FROM inbox WHERE seq <= ?", (upto_seq,))
