"""The action log: every officer's action (签收/处置) the service took in, and what became of
it (applied, or the engine's refusal). In process the engine step writes it; in Kafka mode
the action is logged `sent` and its outcome set when the workers answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

from alerts.store.commit import Action
from alerts.store.db import Repository

_KEYS = ("seq", "received_at", "alert_id", "action", "by", "outcome", "detail")


class ActionLog(Repository):

    @staticmethod
    def add(c: sqlite3.Connection, actions: Iterable[Action]) -> None:
        """Within a transaction of the caller's; an action applied before is logged once."""
        c.executemany("INSERT OR IGNORE INTO actions VALUES (?,?,?,?,?,?,?,?)", actions)

    def record_action(self, received_at: int, alert_id: str | None, action: str | None,
                      by: str | None, outcome: str, detail: str | None, record: str) -> int:
        """One officer's action handed to an engine elsewhere; returns its seq in the action
        log (`set_action_outcome` records what became of it)."""
        with self.db.tx() as c:
            seq = c.execute("INSERT INTO actions VALUES (NULL,?,?,?,?,?,?,?)",
                            (received_at, alert_id, action, by, outcome, detail,
                             record)).lastrowid
        assert seq is not None  # an INSERT into a rowid table always has one
        return seq

    def set_action_outcome(self, seq: int, outcome: str, detail: str | None = None) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE actions SET outcome = ?, detail = ? WHERE seq = ?",
                      (outcome, detail, seq))

    def actions_log(self, limit: int = 200) -> list[dict]:
        """The latest `limit` actions, newest first, each with the action record as sent."""
        rows = self.db.reader().execute(
            "SELECT seq, received_at, alert_id, action, by, outcome, detail, record "
            "FROM actions ORDER BY seq DESC LIMIT ?", (int(limit),)).fetchall()
        return [{**dict(zip(_KEYS, r[:7], strict=True)),
                 "action_record": orjson.loads(r[7]) if r[7] else None} for r in rows]
