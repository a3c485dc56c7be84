"""The audit log: who read or changed what, when. Append-only (triggers refuse UPDATE and
DELETE), so that "who looked at this person's track" always has an answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from alerts.store.commit import Audit
from alerts.store.db import Repository
from alerts.store.records import to_json
from alerts.timefmt import wall_ms

_INSERT = "INSERT INTO audit(at, who, what, target, before, after) VALUES (?,?,?,?,?,?)"


class AuditLog(Repository):

    @staticmethod
    def add(c: sqlite3.Connection, audits: Iterable[Audit]) -> None:
        """Within a transaction of the caller's."""
        c.executemany(_INSERT, [(at, who, what, target, to_json(b), to_json(a))
                                for at, who, what, target, b, a in audits])

    def audit(self, who: str | None, what: str, target: str | None, before: Any = None,
              after: Any = None, at_ms: int | None = None) -> None:
        with self.db.tx() as c:
            self.add(c, [Audit(wall_ms() if at_ms is None else at_ms, who, what, target,
                               before, after)])

    def audit_log(self, limit: int = 200) -> list[dict]:
        """The latest `limit` lines, newest first."""
        rows = self.db.reader().execute("SELECT id, at, who, what, target, before, after "
                                        "FROM audit ORDER BY id DESC LIMIT ?",
                                        (int(limit),)).fetchall()
        return [{"id": i, "at": at, "who": who, "what": what, "target": target,
                 "before": orjson.loads(b) if b else None, "after": orjson.loads(a) if a else None}
                for i, at, who, what, target, b, a in rows]
