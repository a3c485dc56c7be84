"""The store's tables, in sets by who uses them: every officer store keeps alerts, the action
log and audit, dead letters and tracks; only the in-process engine keeps its journal (inbox,
snapshot, last good bundle) and the persons it released; only the Kafka officer store keeps
the offsets it has read the alerts topic up to.

Times are int epoch milliseconds in every column; records are SPEC §4 JSON as written.
"""

from __future__ import annotations

from typing import Literal

from alerts.triage import INDEXES as TRIAGE_INDEXES

Mode = Literal["live", "kafka"]

ALERTS = """
CREATE TABLE IF NOT EXISTS alert_versions(
  alert_id TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL, written_at INTEGER,
  PRIMARY KEY(alert_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts(
  alert_id TEXT PRIMARY KEY, version INTEGER NOT NULL, person_id TEXT, office_id TEXT,
  officer_id TEXT, type TEXT NOT NULL, severity TEXT, condition TEXT, handling TEXT,
  drill INTEGER NOT NULL, escalated INTEGER NOT NULL, opened_at INTEGER, last_event_at INTEGER,
  updated_seq INTEGER, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_by_opened ON alerts(drill, opened_at DESC);
CREATE INDEX IF NOT EXISTS alerts_by_officer ON alerts(officer_id);
CREATE INDEX IF NOT EXISTS alerts_by_office ON alerts(office_id);
CREATE TABLE IF NOT EXISTS alert_routes(
  officer_id TEXT NOT NULL, alert_id TEXT NOT NULL,
  PRIMARY KEY(officer_id, alert_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_reads(
  officer_id TEXT NOT NULL, alert_id TEXT NOT NULL, read_at INTEGER NOT NULL,
  PRIMARY KEY(officer_id, alert_id)) WITHOUT ROWID;
""" + TRIAGE_INDEXES

ACTIONS_AND_AUDIT = """
CREATE TABLE IF NOT EXISTS actions(
  seq INTEGER PRIMARY KEY, received_at INTEGER, alert_id TEXT, action TEXT, by TEXT,
  outcome TEXT NOT NULL, detail TEXT, record TEXT);
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, who TEXT, what TEXT NOT NULL,
  target TEXT, before TEXT, after TEXT);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""

DEAD_LETTERS = """
CREATE TABLE IF NOT EXISTS dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT, reason TEXT, detail TEXT, raw TEXT);
"""

TRACKS = """
CREATE TABLE IF NOT EXISTS fixes(
  person_id TEXT NOT NULL, drill INTEGER NOT NULL, ts INTEGER NOT NULL, lat REAL, lon REAL,
  accuracy_m REAL, PRIMARY KEY(person_id, drill, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statuses(
  person_id TEXT NOT NULL, drill INTEGER NOT NULL, ts INTEGER NOT NULL, event TEXT NOT NULL,
  PRIMARY KEY(person_id, drill, ts, event)) WITHOUT ROWID;
"""

JOURNAL = """
CREATE TABLE IF NOT EXISTS inbox(
  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at_ms INTEGER NOT NULL, payload BLOB,
  step_ms INTEGER);
CREATE TABLE IF NOT EXISTS snapshot(
  id INTEGER PRIMARY KEY CHECK(id = 1), upto_seq INTEGER NOT NULL, state BLOB NOT NULL,
  saved_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bundle_good(
  name TEXT PRIMARY KEY, text TEXT, saved_at INTEGER NOT NULL) WITHOUT ROWID;
"""

RELEASED = """
CREATE TABLE IF NOT EXISTS persons_released(
  person_id TEXT PRIMARY KEY, record TEXT NOT NULL, released_at INTEGER NOT NULL, by TEXT);
"""

CONSUMED = """
CREATE TABLE IF NOT EXISTS consumed(
  topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
  PRIMARY KEY(topic, partition)) WITHOUT ROWID;
"""

SHARED = ALERTS + ACTIONS_AND_AUDIT + DEAD_LETTERS + TRACKS
BY_MODE: dict[Mode, str] = {
    "live": SHARED + JOURNAL + RELEASED,
    "kafka": SHARED + CONSUMED,
}
