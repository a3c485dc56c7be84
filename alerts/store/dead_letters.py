"""Rejected input records (dead letters) the service received, with the reason each was
refused, kept `track_retention_days` like the rest of what people sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Protocol

from alerts.store.db import Repository
from alerts.timefmt import ms_or_none


class DeadLetterLike(Protocol):
    """A rejected record as the decoder dead-letters it (stream.events.DeadLetter)."""

    @property
    def received_at(self) -> str: ...  # RFC 3339 wall clock
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def raw(self) -> str: ...


def _ms_or_none(text: str | None) -> int | None:
    try:
        return ms_or_none(text)
    except ValueError:
        return None  # unreadable: kept, never guessed old


class DeadLetters(Repository):

    @staticmethod
    def add(c: sqlite3.Connection, dead_letters: Iterable[DeadLetterLike]) -> None:
        """Within a transaction of the caller's."""
        c.executemany("INSERT INTO dead_letters(received_at, reason, detail, raw) VALUES (?,?,?,?)",
                      [(d.received_at, d.reason, d.detail, d.raw) for d in dead_letters])

    def record_dead_letters(self, dead_letters: Iterable[DeadLetterLike]) -> None:
        with self.db.tx() as c:
            self.add(c, dead_letters)

    def dead_letter_list(self, limit: int = 200) -> list[dict]:
        rows = self.db.reader().execute("SELECT received_at, reason, detail, raw FROM dead_letters "
                                        "ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
        return [{"received_at": t, "reason": r, "detail": d, "raw": raw} for t, r, d, raw in rows]

    def purge_dead_letters(self, cutoff_ms: int, rows_per_tx: int = 5000) -> int:
        """Delete dead letters received before cutoff_ms (received_at is RFC 3339 text, so it
        is compared as a time, not as a string)."""
        with self.db.lock:
            self.db.writer.create_function("lookout_ms", 1, _ms_or_none, deterministic=True)
            lo, hi = self.db.writer.execute("SELECT min(id), max(id) FROM dead_letters").fetchone()
        total = 0
        if lo is None:
            return 0
        for start in range(lo - 1, hi, rows_per_tx):
            with self.db.tx() as c:
                total += c.execute("DELETE FROM dead_letters WHERE id > ? AND id <= ? AND "
                                   "lookout_ms(received_at) < ?",
                                   (start, start + rows_per_tx, cutoff_ms)).rowcount
        return total
