"""Persons released from supervision (解除矫正): taken out of the bundle, their last bundle
record kept so that their alerts still name them and the summary still counts them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

from alerts.store.commit import Released
from alerts.store.db import Repository


class ReleasedPersons(Repository):

    @staticmethod
    def add(c: sqlite3.Connection, released: Iterable[Released], enrolled: Iterable[str]) -> None:
        """Within a transaction of the caller's: `enrolled` are back in the bundle."""
        c.executemany("INSERT OR REPLACE INTO persons_released VALUES (?,?,?,?)", released)
        c.executemany("DELETE FROM persons_released WHERE person_id = ?",
                      [(pid,) for pid in enrolled])

    def released_persons(self) -> dict[str, dict]:
        """Persons taken out of the bundle: their last bundle record and when."""
        rows = self.db.reader().execute(
            "SELECT person_id, record, released_at, by FROM persons_released").fetchall()
        return {pid: {"record": orjson.loads(rec), "released_at": at, "by": by}
                for pid, rec, at, by in rows}
