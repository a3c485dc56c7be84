"""Where persons were (accepted fixes) and what their devices said (status events): for maps
and the person view, kept `track_retention_days` and purged person by person."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from alerts.store.commit import Fix, Status
from alerts.store.db import Repository

_TABLES = ("fixes", "statuses")


class Tracks(Repository):

    @staticmethod
    def add(c: sqlite3.Connection, fixes: Iterable[Fix], statuses: Iterable[Status]) -> None:
        """Within a transaction of the caller's; a fix or status stored before is kept once."""
        c.executemany("INSERT OR IGNORE INTO fixes VALUES (?,?,?,?,?,?)", fixes)
        c.executemany("INSERT OR IGNORE INTO statuses VALUES (?,?,?,?)", statuses)

    def track(self, person_id: str, since_ms: int, until_ms: int, limit: int = 500, *,
              drill: bool = False) -> list[dict]:
        """The person's accepted fixes in [since_ms, until_ms], ascending; when there are
        more than `limit`, the latest `limit` of them. ts is epoch ms, lat/lon WGS-84."""
        rows = self.db.reader().execute(
            "SELECT ts, lat, lon, accuracy_m FROM fixes WHERE person_id = ? AND drill = ? "
            "AND ts BETWEEN ? AND ? ORDER BY ts DESC LIMIT ?",
            (person_id, int(drill), since_ms, until_ms, int(limit))).fetchall()
        return [{"person_id": person_id, "ts": ts, "lat": lat, "lon": lon, "accuracy_m": acc}
                for ts, lat, lon, acc in reversed(rows)]

    def fix_hours(self, person_id: str, since_ms: int, until_ms: int) -> list[dict]:
        """Fixes counted per hour (epoch hours: local hours in whole-hour time zones)."""
        rows = self.db.reader().execute(
            "SELECT ts / 3600000 AS h, count(*), min(ts), max(ts), max(accuracy_m) FROM fixes "
            "WHERE person_id = ? AND drill = 0 AND ts BETWEEN ? AND ? GROUP BY h ORDER BY h",
            (person_id, since_ms, until_ms)).fetchall()
        return [{"hour_ms": h * 3_600_000, "count": n, "first_ms": lo, "last_ms": hi,
                 "worst_accuracy_m": acc} for h, n, lo, hi, acc in rows]

    def statuses(self, person_id: str, since_ms: int, until_ms: int,
                 limit: int = 500) -> list[dict]:
        rows = self.db.reader().execute(
            "SELECT ts, event FROM statuses WHERE person_id = ? AND drill = 0 "
            "AND ts BETWEEN ? AND ? ORDER BY ts DESC LIMIT ?",
            (person_id, since_ms, until_ms, int(limit))).fetchall()
        return [{"ts": ts, "event": e} for ts, e in reversed(rows)]

    def purge_tracks(self, cutoff_ms: int, persons_per_tx: int = 500) -> dict[str, int]:
        """Delete fixes and status events with ts < cutoff_ms. Person by person along the
        primary key, a few hundred persons a transaction: no scan of the whole table, and
        ingest never waits long for the writer."""
        return {table: self._purge_by_person(table, cutoff_ms, persons_per_tx)
                for table in _TABLES}

    def _purge_by_person(self, table: str, cutoff_ms: int, per_tx: int) -> int:
        total, last = 0, ""
        while True:
            with self.db.tx() as c:
                for _ in range(per_tx):
                    row = c.execute(f"SELECT person_id FROM {table} WHERE person_id > ? "
                                    "ORDER BY person_id LIMIT 1", (last,)).fetchone()
                    if row is None:
                        return total
                    last = row[0]
                    total += c.execute(f"DELETE FROM {table} WHERE person_id = ? AND drill IN "
                                       "(0, 1) AND ts < ?", (last, cutoff_ms)).rowcount
