"""The embedded service's SQLite store: alert versions, inputs, fixes, audit, snapshots.

One writer connection, shared under a lock by the runtime thread, the ingest threads and the
web server (audit lines); every other thread reads through a connection of its own, which WAL
lets run alongside the writer. Alert versions are keyed by (alert_id, version) and written
with INSERT OR IGNORE, so re-running inputs after a restart can never store an alert twice.

Times are int epoch milliseconds in every column; records are SPEC §4 JSON as written.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from alerts.triage import INDEXES as TRIAGE_INDEXES
from alerts.triage import ORDER_BY as TRIAGE_ORDER
from alerts.triage import AlertQuery, TriagePage
from config.loader import parse_ts_ms

_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT, reason TEXT, detail TEXT, raw TEXT);
CREATE TABLE IF NOT EXISTS inbox(
  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at_ms INTEGER NOT NULL, payload BLOB,
  step_ms INTEGER);
CREATE TABLE IF NOT EXISTS fixes(
  person_id TEXT NOT NULL, drill INTEGER NOT NULL, ts INTEGER NOT NULL, lat REAL, lon REAL,
  accuracy_m REAL, PRIMARY KEY(person_id, drill, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statuses(
  person_id TEXT NOT NULL, drill INTEGER NOT NULL, ts INTEGER NOT NULL, event TEXT NOT NULL,
  PRIMARY KEY(person_id, drill, ts, event)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS persons_released(
  person_id TEXT PRIMARY KEY, record TEXT NOT NULL, released_at INTEGER NOT NULL, by TEXT);
CREATE TABLE IF NOT EXISTS consumed(
  topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
  PRIMARY KEY(topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bundle_good(
  name TEXT PRIMARY KEY, text TEXT, saved_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_routes(
  officer_id TEXT NOT NULL, alert_id TEXT NOT NULL,
  PRIMARY KEY(officer_id, alert_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_reads(
  officer_id TEXT NOT NULL, alert_id TEXT NOT NULL, read_at INTEGER NOT NULL,
  PRIMARY KEY(officer_id, alert_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot(
  id INTEGER PRIMARY KEY CHECK(id = 1), upto_seq INTEGER NOT NULL, state BLOB NOT NULL,
  saved_at INTEGER NOT NULL);
"""

_UPSERT_ALERT = """
INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(alert_id) DO UPDATE SET version=excluded.version, person_id=excluded.person_id,
  office_id=excluded.office_id, officer_id=excluded.officer_id, type=excluded.type,
  severity=excluded.severity, condition=excluded.condition, handling=excluded.handling,
  drill=excluded.drill, escalated=excluded.escalated, opened_at=excluded.opened_at,
  last_event_at=excluded.last_event_at, updated_seq=excluded.updated_seq, record=excluded.record
WHERE excluded.version > alerts.version
"""


# SQLite's primary result codes that say the disk or the file failed, not the SQL: a write
# that failed with one of these may succeed later (space freed, the device back).
_FAULT_CODES = {
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    8,  # SQLITE_READONLY
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
}


class StoreWriteError(RuntimeError):
    """The store could not write now (disk full, I/O error, read-only): nothing of the
    transaction was kept; the same write may be tried again later."""


class StoreLocked(RuntimeError):
    """Another process holds the store's writer lock."""


def is_fault(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _FAULT_CODES


def lock_writer(db_path: str | Path):
    """Take the store's writer lock for this process's life (the open file it returns must
    be kept): a lock file beside the db, `flock`ed. The kernel drops it when the process
    ends, however it ends, so a SIGKILLed service never leaves a stale lock. Raises
    StoreLocked, naming the holder's pid, when another process has it."""
    path = Path(f"{db_path}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # held open until the process ends
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        raise StoreLocked(
            f"the store {db_path} is in use by another lookout run (pid {holder}) / "
            f"数据库 {db_path} 正被另一个 lookout run 进程（pid {holder}）使用") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


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


@dataclass(slots=True)
class InboxRow:
    seq: int
    kind: str
    at_ms: int
    payload: bytes | None
    step_ms: int | None  # set on the last row of each applied step: its wall clock


def _ms(text: str | None) -> int | None:
    return None if text is None else parse_ts_ms(text)


def _ms_or_none(text: str | None) -> int | None:
    try:
        return _ms(text)
    except ValueError:
        return None  # unreadable: kept, never guessed old


# Negative: KiB. The writer's cache keeps the fixes' index hot; each reader (one per server
# thread) needs little. With mmap off these bound the store's share of RSS.
WRITER_CACHE_KIB = -65536
READER_CACHE_KIB = -4096


def _json(value) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    def __init__(self, path: str | Path, *, durable: bool = True,
                 on_write_error: Callable[[BaseException], None] | None = None):
        self.path = str(path)
        # told of every write that failed for a fault of the disk (a metric counts them)
        self.on_write_error = on_write_error
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._w = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                  timeout=30)
        self._w.execute("PRAGMA journal_mode=WAL")
        # FULL: a 202 from ingest must survive a power cut, not only a killed process.
        self._w.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._w.execute(f"PRAGMA cache_size={WRITER_CACHE_KIB}")  # the fixes' index stays in memory
        self._w.execute("PRAGMA mmap_size=0")  # page cache only: RSS is what cache_size says
        self._w.executescript(_SCHEMA + TRIAGE_INDEXES)
        self._migrate()
        snap = self._w.execute("SELECT upto_seq FROM snapshot").fetchone()
        top = self._w.execute("SELECT max(seq) FROM inbox").fetchone()[0]
        # Rows up to a snapshot may be deleted, so the snapshot bounds the sequence as well.
        self._last_seq = max(top or 0, snap[0] if snap else 0)

    def _migrate(self) -> None:
        """Stores written before a column existed gain it, empty for the rows they hold."""
        cols = {r[1] for r in self._w.execute("PRAGMA table_info(alert_versions)")}
        if "written_at" not in cols:
            self._w.execute("ALTER TABLE alert_versions ADD COLUMN written_at INTEGER")
        if (self._w.execute("SELECT 1 FROM alerts LIMIT 1").fetchone()
                and not self._w.execute("SELECT 1 FROM alert_routes LIMIT 1").fetchone()):
            with self._tx() as c:
                c.execute(_BACKFILL_ROUTES)

    # -- connections ---------------------------------------------------------------------
    def _r(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA query_only=1")
            conn.execute(f"PRAGMA cache_size={READER_CACHE_KIB}")
            conn.execute("PRAGMA mmap_size=0")
            self._local.conn = conn
            with self._lock:
                # worker threads come and go (anyio retires idle ones after 10 s): a dead
                # thread's connection and its cache would otherwise stay for good
                alive = [(t, c) for t, c in self._readers if t.is_alive()]
                for t, c in self._readers:
                    if not t.is_alive():
                        c.close()
                self._readers = alive + [(threading.current_thread(), conn)]
        return conn

    def _tx(self):
        return _Tx(self._w, self._lock, self._write_failed)

    def _write_failed(self, exc: BaseException) -> None:
        if self.on_write_error is not None:
            self.on_write_error(exc)

    def close(self) -> None:
        with self._lock:
            for _, conn in self._readers:
                conn.close()
            self._readers.clear()
            self._w.close()

    # -- inputs (runtime) ----------------------------------------------------------------
    @property
    def last_seq(self) -> int:
        return self._last_seq

    def record_input(self, kind: str, at_ms: int, payload: bytes | None = None,
                     dead_letters: Iterable = ()) -> int:
        """Append one input to the inbox (and the rejects of the same request) durably;
        returns its seq."""
        with self._tx() as c:
            seq = self._last_seq + 1
            c.execute("INSERT INTO inbox(seq, kind, at_ms, payload) VALUES (?,?,?,?)",
                      (seq, kind, at_ms, payload))
            self._insert_dead_letters(c, dead_letters)
            self._last_seq = seq
        return seq

    def record_dead_letters(self, dead_letters: Iterable) -> None:
        with self._tx() as c:
            self._insert_dead_letters(c, dead_letters)

    @staticmethod
    def _insert_dead_letters(c, dead_letters: Iterable) -> None:
        c.executemany("INSERT INTO dead_letters(received_at, reason, detail, raw) VALUES (?,?,?,?)",
                      [(d.received_at, d.reason, d.detail, d.raw) for d in dead_letters])

    def inbox_after(self, seq: int) -> list[InboxRow]:
        with self._lock:
            rows = self._w.execute("SELECT seq, kind, at_ms, payload, step_ms FROM inbox "
                                   "WHERE seq > ? ORDER BY seq", (seq,)).fetchall()
        return [InboxRow(*r) for r in rows]

    def good_bundle(self) -> dict[str, str | None] | None:
        """The bundle files' texts last accepted (None: no bundle accepted yet)."""
        with self._lock:
            rows = self._w.execute("SELECT name, text FROM bundle_good").fetchall()
        return dict(rows) or None

    def save_good_bundle(self, texts: dict[str, str | None]) -> None:
        with self._tx() as c:
            self._save_good(c, texts)

    @staticmethod
    def _save_good(c, texts: dict[str, str | None]) -> None:
        now = _now_ms()
        c.execute("DELETE FROM bundle_good")
        c.executemany("INSERT INTO bundle_good VALUES (?,?,?)",
                      [(name, text, now) for name, text in sorted(texts.items())])

    def load_snapshot(self) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._w.execute("SELECT upto_seq, state FROM snapshot").fetchone()
        return (row[0], bytes(row[1])) if row else None

    # -- outputs (runtime) ---------------------------------------------------------------
    def commit_batch(self, updates: list[dict], office_of: Callable[[str | None], str | None],
                     seq: int, *, step_ms: int | None = None, snapshot: bytes | None = None,
                     fixes: Iterable[tuple] = (), actions: Iterable[tuple] = (),
                     dead_letters: Iterable = (), statuses: Iterable[tuple] = (),
                     audits: Iterable[tuple] = (), released: Iterable[tuple] = (),
                     enrolled: Iterable[str] = (),
                     good_bundle: dict[str, str | None] | None = None) -> list[dict]:
        """Everything one engine step produced, in one transaction; returns the updates that
        were new (not already stored by a run before a restart).

        `seq`: the last inbox row the step applied. `step_ms` marks that row with the wall
        clock the step ran at, so a restart re-runs the same steps with the same `now_ms`;
        it is also the versions' `written_at`. `snapshot`: EngineState bytes after the step;
        the rows it covers are deleted. `fixes`: (person_id, drill, ts, lat, lon, accuracy_m).
        `statuses`: (person_id, drill, ts, event). `actions`: (seq, received_at, alert_id,
        action, by, outcome, detail, record). `audits`: (at, who, what, target, before,
        after). `released`: (person_id, record, released_at, by) of persons taken out of the
        bundle; `enrolled`: ids back in it. `good_bundle`: the texts of a bundle the step
        accepted, kept to start on should the files on disk not load."""
        written = step_ms if step_ms is not None else _now_ms()
        with self._tx() as c:
            new = self._append(c, updates, office_of, seq, written)
            c.executemany("INSERT OR IGNORE INTO fixes VALUES (?,?,?,?,?,?)", fixes)
            c.executemany("INSERT OR IGNORE INTO statuses VALUES (?,?,?,?)", statuses)
            c.executemany("INSERT OR IGNORE INTO actions VALUES (?,?,?,?,?,?,?,?)", actions)
            self._insert_dead_letters(c, dead_letters)
            c.executemany("INSERT INTO audit(at, who, what, target, before, after) "
                          "VALUES (?,?,?,?,?,?)",
                          [(at, who, what, target, _json(b), _json(a))
                           for at, who, what, target, b, a in audits])
            c.executemany("INSERT OR REPLACE INTO persons_released VALUES (?,?,?,?)", released)
            c.executemany("DELETE FROM persons_released WHERE person_id = ?",
                          [(pid,) for pid in enrolled])
            if step_ms is not None:
                c.execute("UPDATE inbox SET step_ms = ? WHERE seq = ?", (step_ms, seq))
            if snapshot is not None:
                self._snapshot(c, seq, snapshot)
            if good_bundle is not None:
                self._save_good(c, good_bundle)
        return new

    def append_updates(self, updates: list[dict], office_of: Callable[[str | None], str | None],
                       seq: int, written_at: int | None = None) -> list[dict]:
        with self._tx() as c:
            return self._append(c, updates, office_of, seq,
                                _now_ms() if written_at is None else written_at)

    # -- alerts read from Kafka (stream/kafka/officer.py) -----------------------------------
    def append_consumed(self, updates: list[dict], office_of: Callable[[str | None], str | None],
                        topic: str, next_offsets: dict[int, int],
                        written_at: int | None = None) -> list[dict]:
        """Alert updates read from a Kafka topic, and for each partition read the next offset
        to read, in one transaction: a restart resumes exactly after what is stored. Returns
        the updates that were new (a version sent twice is stored once)."""
        written = _now_ms() if written_at is None else written_at
        with self._tx() as c:
            new = self._append(c, updates, office_of, written, written)
            c.executemany("INSERT INTO consumed VALUES (?,?,?) ON CONFLICT(topic, partition) "
                          "DO UPDATE SET next_offset = excluded.next_offset",
                          [(topic, p, o) for p, o in sorted(next_offsets.items())])
        return new

    def consumed_offsets(self, topic: str) -> dict[int, int]:
        """partition -> the next offset to read, for the partitions of `topic` read so far."""
        rows = self._r().execute("SELECT partition, next_offset FROM consumed WHERE topic = ?",
                                 (topic,)).fetchall()
        return dict(rows)

    def record_action(self, received_at: int, alert_id: str | None, action: str | None,
                      by: str | None, outcome: str, detail: str | None, record: str) -> int:
        """One officer's action handed to an engine elsewhere; returns its seq in the action
        log (`set_action_outcome` records what became of it)."""
        with self._tx() as c:
            return c.execute("INSERT INTO actions VALUES (NULL,?,?,?,?,?,?,?)",
                             (received_at, alert_id, action, by, outcome, detail,
                              record)).lastrowid

    def set_action_outcome(self, seq: int, outcome: str, detail: str | None = None) -> None:
        with self._tx() as c:
            c.execute("UPDATE actions SET outcome = ?, detail = ? WHERE seq = ?",
                      (outcome, detail, seq))

    def save_snapshot(self, upto_seq: int, state: bytes) -> None:
        with self._tx() as c:
            self._snapshot(c, upto_seq, state)

    def _snapshot(self, c, upto_seq: int, state: bytes) -> None:
        c.execute("INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?, ?)",
                  (upto_seq, state, _now_ms()))
        c.execute("DELETE FROM inbox WHERE seq <= ?", (upto_seq,))

    @staticmethod
    def _append(c, updates, office_of, seq, written_at: int | None) -> list[dict]:
        new = []
        for u in updates:
            record = _json(u)
            cur = c.execute("INSERT OR IGNORE INTO alert_versions(alert_id, version, record, "
                            "written_at) VALUES (?,?,?,?)",
                            (u["alert_id"], u["version"], record, written_at))
            if cur.rowcount != 1:
                continue
            new.append(u)
            c.execute(_UPSERT_ALERT, (
                u["alert_id"], u["version"], u["person_id"], office_of(u["person_id"]),
                u["officer_id"], u["type"], u["severity"], u["condition"], u["handling"],
                int(u["drill"]), int(u["escalated"]), _ms(u["opened_at"]),
                _ms(u["last_event_at"]), seq, record))
            routed = [u.get("officer_id"), *(step.get("officer_id") for step in u.get("route") or ())]
            c.execute(_ROUTED, (u["alert_id"], _json(routed)))
        return new

    # -- audit (web server) --------------------------------------------------------------
    def audit(self, who: str | None, what: str, target: str | None, before=None, after=None,
              at_ms: int | None = None) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO audit(at, who, what, target, before, after) VALUES (?,?,?,?,?,?)",
                      (at_ms if at_ms is not None else _now_ms(), who, what, target,
                       _json(before), _json(after)))

    # -- reads ---------------------------------------------------------------------------
    def latest(self, alert_id: str) -> dict | None:
        row = self._r().execute("SELECT record FROM alerts WHERE alert_id = ?",
                                (alert_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def all_latest(self) -> list[dict]:
        """The latest version of every alert (to seed gauges and notifiers at start-up)."""
        rows = self._r().execute("SELECT record FROM alerts ORDER BY alert_id").fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def history(self, alert_id: str) -> list[dict]:
        rows = self._r().execute("SELECT record FROM alert_versions WHERE alert_id = ? "
                                 "ORDER BY version", (alert_id,)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def written_times(self, alert_id: str) -> dict[int, int]:
        """version -> when the store wrote it (epoch ms); versions from before the column
        existed are left out."""
        rows = self._r().execute("SELECT version, written_at FROM alert_versions WHERE "
                                 "alert_id = ? AND written_at IS NOT NULL", (alert_id,)).fetchall()
        return dict(rows)

    def list_alerts(self, *, officer_ids: set[str] | None = None,
                    office_ids: set[str] | None = None, types: set[str] | None = None,
                    drill: bool = False, condition: str | None = None,
                    handling: str | None = None, limit: int = 200) -> list[dict]:
        """Latest records, newest opened first. `officer_ids` matches the current officer or
        anyone on the route; `office_ids` the person's office (so never feed_down)."""
        where, args = ["drill = ?"], [int(drill)]

        def one_of(values) -> str:
            args.extend(sorted(values))
            return ",".join("?" * len(values))

        if officer_ids is not None:
            if not officer_ids:
                return []
            mine = one_of(officer_ids)
            on_route = one_of(officer_ids)
            where.append(f"(officer_id IN ({mine}) OR EXISTS (SELECT 1 FROM "
                         "json_each(alerts.record, '$.route') AS r WHERE "
                         f"json_extract(r.value, '$.officer_id') IN ({on_route})))")
        for column, values in (("office_id", office_ids), ("type", types)):
            if values is not None:
                if not values:
                    return []
                where.append(f"{column} IN ({one_of(values)})")
        for column, value in (("condition", condition), ("handling", handling)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        args.append(int(limit))
        rows = self._r().execute(
            f"SELECT record FROM alerts WHERE {' AND '.join(where)} "
            "ORDER BY opened_at DESC, alert_id LIMIT ?", args).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    # -- the triage list (alerts/triage.py) ------------------------------------------------
    _UNREAD = ("(alerts.handling = 'new' AND NOT EXISTS (SELECT 1 FROM alert_reads AS rd "
               "WHERE rd.officer_id = ? AND rd.alert_id = alerts.alert_id))")

    def triage(self, query: AlertQuery, reader: str, *, limit: int = 100,
               offset: int = 0) -> TriagePage:
        """One page of the triage list, the total it is a page of, and the counts per
        handling state (true totals under the same scope and filters). Each record gains
        `unread`: not acknowledged yet and never opened by `reader`."""
        conn = self._r()
        where, args = query.where()
        rows = conn.execute(
            f"SELECT record, {self._UNREAD} FROM alerts WHERE {where} ORDER BY {TRIAGE_ORDER} "
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
        unread, critical = self._r().execute(
            f"SELECT coalesce(sum({self._UNREAD}), 0), coalesce(sum(handling = 'new' AND "
            f"severity = 'critical'), 0) FROM alerts WHERE {where}", [reader, *args]).fetchone()
        return {"unread": unread, "critical_new": critical}

    def mark_read(self, reader: str, alert_ids: Iterable[str], at_ms: int | None = None) -> None:
        """The reader has opened these alerts (kept per officer, so a reload keeps it)."""
        at = _now_ms() if at_ms is None else at_ms
        with self._tx() as c:
            c.executemany("INSERT OR IGNORE INTO alert_reads VALUES (?,?,?)",
                          [(reader, a, at) for a in alert_ids])

    def track(self, person_id: str, since_ms: int, until_ms: int, limit: int = 500, *,
              drill: bool = False) -> list[dict]:
        """The person's accepted fixes in [since_ms, until_ms], ascending; when there are
        more than `limit`, the latest `limit` of them. ts is epoch ms, lat/lon WGS-84."""
        rows = self._r().execute(
            "SELECT ts, lat, lon, accuracy_m FROM fixes WHERE person_id = ? AND drill = ? "
            "AND ts BETWEEN ? AND ? ORDER BY ts DESC LIMIT ?",
            (person_id, int(drill), since_ms, until_ms, int(limit))).fetchall()
        return [{"person_id": person_id, "ts": ts, "lat": lat, "lon": lon, "accuracy_m": acc}
                for ts, lat, lon, acc in reversed(rows)]

    def audit_log(self, limit: int = 200) -> list[dict]:
        rows = self._r().execute("SELECT id, at, who, what, target, before, after FROM audit "
                                 "ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
        return [{"id": i, "at": at, "who": who, "what": what, "target": target,
                 "before": orjson.loads(b) if b else None, "after": orjson.loads(a) if a else None}
                for i, at, who, what, target, b, a in rows]

    def dead_letter_list(self, limit: int = 200) -> list[dict]:
        rows = self._r().execute("SELECT received_at, reason, detail, raw FROM dead_letters "
                                 "ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
        return [{"received_at": t, "reason": r, "detail": d, "raw": raw} for t, r, d, raw in rows]

    def actions_log(self, limit: int = 200) -> list[dict]:
        rows = self._r().execute("SELECT seq, received_at, alert_id, action, by, outcome, detail, "
                                 "record FROM actions ORDER BY seq DESC LIMIT ?",
                                 (int(limit),)).fetchall()
        keys = ("seq", "received_at", "alert_id", "action", "by", "outcome", "detail")
        return [{**dict(zip(keys, r[:7], strict=True)), "action_record": orjson.loads(r[7]) if r[7] else None}
                for r in rows]


    def summary_input(self, finished_before_ms: int):
        """What the shift summary reads (alerts/summary/source.py), through this thread's
        reader connection."""
        from alerts.summary.source import read_summary_input

        return read_summary_input(self._r(), finished_before_ms)

    def resolved_alerts(self, since_ms: int, person_id: str | None = None) -> list[dict]:
        """Real alerts opened since `since_ms` and resolved, latest versions (alerts/fatigue.py)."""
        from alerts.fatigue import read_resolved

        return read_resolved(self._r(), since_ms, person_id)

    # -- persons (the person view) ---------------------------------------------------------
    def person_alerts(self, person_id: str, *, drill: bool = False, limit: int = 100) -> list[dict]:
        """The person's alerts, latest versions, newest opened first."""
        rows = self._r().execute(
            "SELECT record FROM alerts WHERE person_id = ? AND drill = ? "
            "ORDER BY opened_at DESC, alert_id LIMIT ?",
            (person_id, int(drill), int(limit))).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def open_alerts(self, office_ids: set[str] | None = None) -> list[dict]:
        """Latest records of the real alerts still open (not resolved, or still active), of
        persons in `office_ids` (None: all): what the roster counts."""
        where, args = "", []
        if office_ids is not None:
            if not office_ids:
                return []
            where = f" AND office_id IN ({','.join('?' * len(office_ids))})"
            args = sorted(office_ids)
        rows = self._r().execute(
            "SELECT record FROM alerts WHERE drill = 0 AND (handling != 'resolved' OR "
            f"condition = 'active'){where}", args).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def fix_hours(self, person_id: str, since_ms: int, until_ms: int) -> list[dict]:
        """Fixes counted per hour (epoch hours: local hours in whole-hour time zones)."""
        rows = self._r().execute(
            "SELECT ts / 3600000 AS h, count(*), min(ts), max(ts), max(accuracy_m) FROM fixes "
            "WHERE person_id = ? AND drill = 0 AND ts BETWEEN ? AND ? GROUP BY h ORDER BY h",
            (person_id, since_ms, until_ms)).fetchall()
        return [{"hour_ms": h * 3_600_000, "count": n, "first_ms": lo, "last_ms": hi,
                 "worst_accuracy_m": acc} for h, n, lo, hi, acc in rows]

    def statuses(self, person_id: str, since_ms: int, until_ms: int,
                 limit: int = 500) -> list[dict]:
        rows = self._r().execute(
            "SELECT ts, event FROM statuses WHERE person_id = ? AND drill = 0 "
            "AND ts BETWEEN ? AND ? ORDER BY ts DESC LIMIT ?",
            (person_id, since_ms, until_ms, int(limit))).fetchall()
        return [{"ts": ts, "event": e} for ts, e in reversed(rows)]

    def released_persons(self) -> dict[str, dict]:
        """Persons taken out of the bundle (解除矫正): their last bundle record and when."""
        rows = self._r().execute(
            "SELECT person_id, record, released_at, by FROM persons_released").fetchall()
        return {pid: {"record": orjson.loads(rec), "released_at": at, "by": by}
                for pid, rec, at, by in rows}

    # -- retention (个人信息保护法) -----------------------------------------------------------
    def purge_tracks(self, cutoff_ms: int, persons_per_tx: int = 500) -> dict[str, int]:
        """Delete fixes and status events with ts < cutoff_ms. Person by person along the
        primary key, a few hundred persons a transaction: no scan of the whole table, and
        ingest never waits long for the writer."""
        return {table: self._purge_by_person(table, cutoff_ms, persons_per_tx)
                for table in ("fixes", "statuses")}

    def _purge_by_person(self, table: str, cutoff_ms: int, per_tx: int) -> int:
        total, last = 0, ""
        while True:
            with self._tx() as c:
                for _ in range(per_tx):
                    row = c.execute(f"SELECT person_id FROM {table} WHERE person_id > ? "
                                    "ORDER BY person_id LIMIT 1", (last,)).fetchone()
                    if row is None:
                        return total
                    last = row[0]
                    total += c.execute(f"DELETE FROM {table} WHERE person_id = ? AND drill IN "
                                       "(0, 1) AND ts < ?", (last, cutoff_ms)).rowcount

    def purge_dead_letters(self, cutoff_ms: int, rows_per_tx: int = 5000) -> int:
        """Delete dead letters received before cutoff_ms (received_at is RFC 3339 text, so it
        is compared as a time, not as a string)."""
        with self._lock:
            self._w.create_function("lookout_ms", 1, _ms_or_none, deterministic=True)
            lo, hi = self._w.execute("SELECT min(id), max(id) FROM dead_letters").fetchone()
        total = 0
        if lo is None:
            return 0
        for start in range(lo - 1, hi, rows_per_tx):
            with self._tx() as c:
                total += c.execute("DELETE FROM dead_letters WHERE id > ? AND id <= ? AND "
                                   "lookout_ms(received_at) < ?",
                                   (start, start + rows_per_tx, cutoff_ms)).rowcount
        return total


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT on the writer under the store's lock; ROLLBACK on error.
    A fault of the disk, at any point, comes out as StoreWriteError with nothing kept."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock,
                 failed: Callable[[BaseException], None]):
        self.conn, self.lock, self.failed = conn, lock, failed

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            self.lock.release()
            self._raise_fault(exc)
            raise
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                    return
                except BaseException as commit_exc:
                    exc = commit_exc
            self._rollback()
            self._raise_fault(exc)
            if exc_type is None:
                raise exc
        finally:
            self.lock.release()

    def _rollback(self) -> None:
        # SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR): ROLLBACK then says
        # "no transaction is active", which must not hide the error that matters
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _raise_fault(self, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, StoreWriteError) and is_fault(exc):
            self.failed(exc)
            raise StoreWriteError(f"the store cannot write: {exc}") from exc
