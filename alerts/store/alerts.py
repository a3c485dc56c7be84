"""The alerts' read model: every version as written (`alert_versions`), the latest of each
(`alerts`, with the columns the lists filter and order on), who each alert was ever routed
to (`alert_routes`) and who has opened it (`alert_reads`).

Versions are keyed by (alert_id, version) and written with INSERT OR IGNORE, so re-running
inputs after a restart, or reading a Kafka message twice, never stores an alert twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from alerts.store.commit import OfficeOf
from alerts.store.db import Repository
from alerts.store.records import to_json
from alerts.timefmt import ms_or_none, wall_ms
from alerts.triage import ORDER_BY as TRIAGE_ORDER
from alerts.triage import AlertQuery, TriagePage

if TYPE_CHECKING:
    from alerts.summary.source import SummaryInput

_UPSERT_ALERT = """
INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(alert_id) DO UPDATE SET version=excluded.version, person_id=excluded.person_id,
  office_id=excluded.office_id, officer_id=excluded.officer_id, type=excluded.type,
  severity=excluded.severity, condition=excluded.condition, handling=excluded.handling,
  drill=excluded.drill, escalated=excluded.escalated, opened_at=excluded.opened_at,
  last_event_at=excluded.last_event_at, updated_seq=excluded.updated_seq, record=excluded.record
WHERE excluded.version > alerts.version
"""

# Who an alert was ever routed to (its officer, everyone on its route), so that an officer's
# list is an index lookup rather than a walk through every record's JSON. Routes only grow
# from version to version, so adding each new version's officers keeps it exact.
_ROUTED = ("INSERT OR IGNORE INTO alert_routes SELECT value, ? FROM json_each(?) "
           "WHERE value IS NOT NULL")
_BACKFILL_ROUTES = """
INSERT OR IGNORE INTO alert_routes
  SELECT officer_id, alert_id FROM alerts WHERE officer_id IS NOT NULL
  UNION SELECT json_extract(r.value, '$.officer_id'), alerts.alert_id
    FROM alerts, json_each(alerts.record, '$.route') AS r
    WHERE json_extract(r.value, '$.officer_id') IS NOT NULL
"""

# not acknowledged, and never opened by the reader (the first argument)
_UNREAD = ("(alerts.handling = 'new' AND NOT EXISTS (SELECT 1 FROM alert_reads AS rd "
           "WHERE rd.officer_id = ? AND rd.alert_id = alerts.alert_id))")


def _records(rows: Iterable[Sequence[Any]]) -> list[dict]:
    return [orjson.loads(r[0]) for r in rows]


def _placeholders(values: Collection[str], args: list[Any]) -> str:
    args.extend(sorted(values))
    return ",".join("?" * len(values))


class Alerts(Repository):

    def migrate(self) -> None:
        """Stores written before a column or table existed gain it, filled for the rows
        they hold."""
        w = self.db.writer
        cols = {r[1] for r in w.execute("PRAGMA table_info(alert_versions)")}
        if "written_at" not in cols:
            w.execute("ALTER TABLE alert_versions ADD COLUMN written_at INTEGER")
        if (w.execute("SELECT 1 FROM alerts LIMIT 1").fetchone()
                and not w.execute("SELECT 1 FROM alert_routes LIMIT 1").fetchone()):
            with self.db.tx() as c:
                c.execute(_BACKFILL_ROUTES)

    # -- writes ------------------------------------------------------------------------------
    @staticmethod
    def add(c: sqlite3.Connection, updates: Iterable[dict], office_of: OfficeOf, seq: int,
            written_at: int | None) -> list[dict]:
        """Within a transaction of the caller's; returns the updates that were new."""
        new = []
        for u in updates:
            record = to_json(u)
            cur = c.execute("INSERT OR IGNORE INTO alert_versions(alert_id, version, record, "
                            "written_at) VALUES (?,?,?,?)",
                            (u["alert_id"], u["version"], record, written_at))
            if cur.rowcount != 1:
                continue
            new.append(u)
            c.execute(_UPSERT_ALERT, (
                u["alert_id"], u["version"], u["person_id"], office_of(u["person_id"]),
                u["officer_id"], u["type"], u["severity"], u["condition"], u["handling"],
                int(u["drill"]), int(u["escalated"]), ms_or_none(u["opened_at"]),
                ms_or_none(u["last_event_at"]), seq, record))
            routed = [u.get("officer_id"),
                      *(step.get("officer_id") for step in u.get("route") or ())]
            c.execute(_ROUTED, (u["alert_id"], to_json(routed)))
        return new

    def mark_read(self, reader: str, alert_ids: Iterable[str], at_ms: int | None = None) -> None:
        """The reader has opened these alerts (kept per officer, so a reload keeps it)."""
        at = wall_ms() if at_ms is None else at_ms
        with self.db.tx() as c:
            c.executemany("INSERT OR IGNORE INTO alert_reads VALUES (?,?,?)",
                          [(reader, a, at) for a in alert_ids])

    # -- one alert ---------------------------------------------------------------------------
    def latest(self, alert_id: str) -> dict | None:
        row = self.db.reader().execute("SELECT record FROM alerts WHERE alert_id = ?",
                                       (alert_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def history(self, alert_id: str) -> list[dict]:
        return _records(self.db.reader().execute(
            "SELECT record FROM alert_versions WHERE alert_id = ? ORDER BY version",
            (alert_id,)))

    def written_times(self, alert_id: str) -> dict[int, int]:
        """version -> when the store wrote it (epoch ms); versions from before the column
        existed are left out."""
        rows = self.db.reader().execute(
            "SELECT version, written_at FROM alert_versions WHERE alert_id = ? "
            "AND written_at IS NOT NULL", (alert_id,)).fetchall()
        return dict(rows)

    # -- lists -------------------------------------------------------------------------------
    def all_latest(self) -> list[dict]:
        """The latest version of every alert (to seed gauges and notifiers at start-up)."""
        return _records(self.db.reader().execute("SELECT record FROM alerts ORDER BY alert_id"))

    def list_alerts(self, *, officer_ids: set[str] | None = None,
                    office_ids: set[str] | None = None, types: set[str] | None = None,
                    drill: bool = False, condition: str | None = None,
                    handling: str | None = None, limit: int = 200) -> list[dict]:
        """Latest records, newest opened first. `officer_ids` matches the current officer or
        anyone on the route; `office_ids` the person's office (so never feed_down)."""
        where: list[str] = ["drill = ?"]
        args: list[Any] = [int(drill)]
        if any(values is not None and not values for values in (officer_ids, office_ids, types)):
            return []
        if officer_ids is not None:
            mine = _placeholders(officer_ids, args)
            on_route = _placeholders(officer_ids, args)
            where.append(f"(officer_id IN ({mine}) OR EXISTS (SELECT 1 FROM "
                         "json_each(alerts.record, '$.route') AS r WHERE "
                         f"json_extract(r.value, '$.officer_id') IN ({on_route})))")
        for column, values in (("office_id", office_ids), ("type", types)):
            if values is not None:
                where.append(f"{column} IN ({_placeholders(values, args)})")
        for column, value in (("condition", condition), ("handling", handling)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        args.append(int(limit))
        return _records(self.db.reader().execute(
            f"SELECT record FROM alerts WHERE {' AND '.join(where)} "
            "ORDER BY opened_at DESC, alert_id LIMIT ?", args))

    def person_alerts(self, person_id: str, *, drill: bool = False, limit: int = 100) -> list[dict]:
        """The person's alerts, latest versions, newest opened first."""
        return _records(self.db.reader().execute(
            "SELECT record FROM alerts WHERE person_id = ? AND drill = ? "
            "ORDER BY opened_at DESC, alert_id LIMIT ?", (person_id, int(drill), int(limit))))

    def open_alerts(self, office_ids: set[str] | None = None) -> list[dict]:
        """Latest records of the real alerts still open (not resolved, or still active), of
        persons in `office_ids` (None: all): what the roster counts."""
        where, args = "", list[str]()
        if office_ids is not None:
            if not office_ids:
                return []
            where = f" AND office_id IN ({','.join('?' * len(office_ids))})"
            args = sorted(office_ids)
        return _records(self.db.reader().execute(
            "SELECT record FROM alerts WHERE drill = 0 AND (handling != 'resolved' OR "
            f"condition = 'active'){where}", args))

    # -- the triage list (alerts/triage.py) --------------------------------------------------
    def triage(self, query: AlertQuery, reader: str, *, limit: int = 100,
               offset: int = 0) -> TriagePage:
        """One page of the triage list, the total it is a page of, and the counts per
        handling state (true totals under the same scope and filters). Each record gains
        `unread`: not acknowledged yet and never opened by `reader`."""
        conn = self.db.reader()
        where, args = query.where()
        rows = conn.execute(
            f"SELECT record, {_UNREAD} FROM alerts WHERE {where} ORDER BY {TRIAGE_ORDER} "
            "LIMIT ? OFFSET ?", [reader, *args, int(limit), int(offset)]).fetchall()
        total = conn.execute(f"SELECT count(*) FROM alerts WHERE {where}", args).fetchone()[0]
        where_all, args_all = query.where(with_handling=False)
        counts = dict.fromkeys(("new", "acknowledged", "resolved"), 0)
        counts.update(conn.execute(f"SELECT handling, count(*) FROM alerts WHERE {where_all} "
                                   "GROUP BY handling", args_all).fetchall())
        return TriagePage([{**orjson.loads(r), "unread": bool(u)} for r, u in rows], total,
                          counts)

    def attention(self, query: AlertQuery, reader: str) -> dict[str, int]:
        """What calls for the reader's attention in `query`: `unread` (not acknowledged and
        never opened by them) and `critical_new` (critical, not acknowledged)."""
        where, args = query.where(with_handling=False)
        unread, critical = self.db.reader().execute(
            f"SELECT coalesce(sum({_UNREAD}), 0), coalesce(sum(handling = 'new' AND "
            f"severity = 'critical'), 0) FROM alerts WHERE {where}", [reader, *args]).fetchone()
        return {"unread": unread, "critical_new": critical}

    # -- what other modules read through this thread's connection ----------------------------
    # (imported when first asked: the summary package draws charts, and the store is opened by
    # every runtime at start-up)
    def summary_input(self, finished_before_ms: int) -> SummaryInput:
        """What the shift summary reads (alerts/summary/source.py)."""
        from alerts.summary.source import read_summary_input

        return read_summary_input(self.db.reader(), finished_before_ms)

    def resolved_alerts(self, since_ms: int, person_id: str | None = None) -> list[dict]:
        """Real alerts opened since `since_ms` and resolved, latest versions (alerts/fatigue.py)."""
        from alerts.fatigue import read_resolved

        return read_resolved(self.db.reader(), since_ms, person_id)
