"""What compute_summary needs, read from the service's store (alerts/store/ tables):
every version of the alerts that can matter, when each was written, and who acted first.

An alert can matter to a period when it was still unfinished at the period's start: one
resolved and cleared, its last version written before then, reads the same at any later
`as_of` and is in no list, so it is not read at all (a year-old store stays cheap to sum up).

Versions written before the store kept `written_at` have none; the summary then falls back
to the instants the record itself names (alerts/summary/history.py).

Persons released from supervision (解除矫正) are no longer in the bundle, but their alerts are
still their office's: `with_released` puts them back for the summary's office lookups.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from config.model import Bundle, PersonSpec


@dataclass(slots=True)
class SummaryInput:
    updates: list[dict]
    version_times: dict[tuple[str, int], int]
    ack_by: dict[str, str]  # alert_id -> who first acknowledged or resolved it
    released: list[PersonSpec] = field(default_factory=list)


def read_summary_input(conn: sqlite3.Connection, finished_before_ms: int) -> SummaryInput:
    cols = {r[1] for r in conn.execute("PRAGMA table_info(alert_versions)")}
    written = "v.written_at" if "written_at" in cols else "NULL"
    last_written = "lv.written_at" if "written_at" in cols else "NULL"
    rows = conn.execute(
        f"SELECT v.alert_id, v.version, v.record, {written} FROM alert_versions v "
        "WHERE v.alert_id IN (SELECT a.alert_id FROM alerts a LEFT JOIN alert_versions lv "
        "ON lv.alert_id = a.alert_id AND lv.version = a.version "
        f"WHERE NOT (a.handling = 'resolved' AND a.condition = 'cleared' AND "
        f"{last_written} IS NOT NULL AND {last_written} < ?))",
        (finished_before_ms,)).fetchall()
    updates, times = [], {}
    for alert_id, version, record, at in rows:
        updates.append(orjson.loads(record))
        if at is not None:
            times[(alert_id, version)] = at
    ids = {u["alert_id"] for u in updates}
    ack_by: dict[str, str] = {}
    for alert_id, by in conn.execute("SELECT alert_id, by FROM actions WHERE outcome = 'applied' "
                                     "AND by IS NOT NULL ORDER BY seq"):
        if alert_id in ids:
            ack_by.setdefault(alert_id, by)
    released = []
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'persons_released'").fetchone():
        keys = PersonSpec.__slots__
        for (record,) in conn.execute("SELECT record FROM persons_released"):
            released.append(PersonSpec(**{k: v for k, v in orjson.loads(record).items()
                                          if k in keys}))
    return SummaryInput(updates, times, ack_by, released)


def with_released(bundle: Bundle, released) -> Bundle:
    """The bundle plus persons it no longer holds (those still in it win)."""
    have = {p.person_id for p in bundle.persons}
    extra = [p for p in released if p.person_id not in have]
    return replace(bundle, persons=[*bundle.persons, *extra]) if extra else bundle


def read_store(db_path: str | os.PathLike, finished_before_ms: int) -> SummaryInput:
    """Read-only: a summary never writes to (or creates, or migrates) the store."""
    uri = Path(db_path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        return read_summary_input(conn, finished_before_ms)
    finally:
        conn.close()
