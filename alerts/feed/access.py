"""Who may log in, and what each officer may see and act on.

Credentials and sessions live in the store's SQLite file (tables `credentials`, `sessions`,
`login_attempts`, `session_generation`), through connections of our own: one short connection
per call, so that any server thread may use it and nothing holds the file between requests.
Password hashing is alerts/feed/passwords.py's.

Scopes (SPEC §2 roles):

* `officer`: alerts routed to them (current officer or anywhere in `route`) and the duty
  alerts of their office (routed to one of its `duty` officers); persons of their office.
* `duty`: their office and every office under it in the `parent_id` chain (the centre's night
  desk answers for every 司法所 below it); `supervisor`: the same, and the offices of the
  officers whose `supervisor_id` they are; both also see whatever is routed to them (an
  escalation, or a feed_down alert when there is no admin).
* `admin`: everything, feed_down included.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import closing, contextmanager
from dataclasses import dataclass

from alerts.feed import passwords
from alerts.feed.passwords import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    check_password,
    scrypt_hash,
)
from alerts.timefmt import wall_ms
from config.model import Bundle, OfficerSpec
from config.offices import Offices

__all__ = ["MAX_PASSWORD_CHARS", "MIN_PASSWORD_CHARS", "Access", "LoginRefused", "Scope",
           "Session", "check_password", "demo_password", "scope_for", "seed_demo_logins",
           "set_password"]

SESSION_TTL_S = 12 * 3600
# Five wrong passwords for one id within a quarter of an hour lock that id for the rest of the
# quarter: slow enough for guessing to be hopeless, short enough that an officer who fumbles
# can retry. One client address gets more tries (an office behind one NAT address shares
# them) across all ids, unknown ones included, so that one machine cannot walk through ids.
MAX_FAILURES = 5
MAX_CLIENT_FAILURES = 30
FAILURE_WINDOW_S = 15 * 60
# The failure table holds at most this many rows: expired ones go first, then the oldest.
MAX_FAILURE_ROWS = 10_000
# How stale the in-memory copy of the session generation may be (see `Access.generation`).
GENERATION_MAX_AGE_S = 0.5

# `session_generation` goes up whenever a session row is deleted (logout, password change,
# expiry sweep), by any process writing this file (`lookout admin password --db` too): an open
# stream compares one number instead of asking for its session on every event.
# `login_attempts` keys are "id:<officer_id>" and "client:<address>".
_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    officer_id TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL,
    n INTEGER NOT NULL, r INTEGER NOT NULL, p INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY, officer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS login_attempts (
    key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS login_attempts_age ON login_attempts (first_at);
CREATE TABLE IF NOT EXISTS session_generation (id INTEGER PRIMARY KEY CHECK (id = 1),
                                               n INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS sessions_ended AFTER DELETE ON sessions BEGIN
    INSERT INTO session_generation VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
"""
# A session remembers the office and role its officer had at login: moved to another office or
# role, the officer logs in again (and so does an open stream).
_MIGRATIONS = (("sessions", "placement", "ALTER TABLE sessions ADD COLUMN placement TEXT"),)


def _migrate(con) -> None:
    for table, column, sql in _MIGRATIONS:
        if column not in {row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
            con.execute(sql)
    con.execute("DROP TABLE IF EXISTS login_failures")  # replaced by login_attempts


@contextmanager
def _db(path, *, setup: bool = False, durable: bool = True):
    """A connection for one transaction. `setup` creates and migrates the tables: done once by
    Access and by set_password, so that a login or a session check never asks for the write
    lock just to find them there. `durable=False` for the failure counts: their commits skip
    the disk flush (a power cut may forget the last few), so that a flood of wrong passwords
    does not hold the write lock ingest needs for a flush each."""
    with closing(sqlite3.connect(str(path), timeout=10.0)) as con:
        if not durable:
            con.execute("PRAGMA synchronous=NORMAL")
        if setup:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            _migrate(con)
        with con:  # one transaction per call
            yield con


def _token_key(token: str) -> str:
    # only a digest is stored, so a copy of the database holds no usable session
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _placement(officer: OfficerSpec) -> str:
    return f"{officer.office_id}\x1f{officer.role}"


def set_password(db_path, officer_id: str, password: str) -> None:
    """Set (or replace) an officer's password; their open sessions end and their id is no
    longer locked (so `lookout admin password --db` on the server always lets an admin back
    in, whatever a guesser did)."""
    check_password(password)
    salt = secrets.token_bytes(16)
    digest = scrypt_hash(password, salt)  # not through the hasher: the server's tools always work
    with _db(db_path, setup=True) as con:
        con.execute(
            "INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
            (officer_id, salt, digest, SCRYPT_N, SCRYPT_R, SCRYPT_P, wall_ms()),
        )
        con.execute("DELETE FROM sessions WHERE officer_id = ?", (officer_id,))
        con.execute("DELETE FROM login_attempts WHERE key = ?", ("id:" + officer_id,))


def demo_password(officer_id: str) -> str:
    return f"demo-{officer_id}"


def seed_demo_logins(db_path, bundle: Bundle) -> list[tuple[str, str]]:
    """Give every officer of the bundle a predictable password. Demo bundles only: anyone who
    reads this function can log in as anyone."""
    out = []
    for officer in sorted(bundle.officers, key=lambda o: o.officer_id):
        password = demo_password(officer.officer_id)
        set_password(db_path, officer.officer_id, password)
        out.append((officer.officer_id, password))
    return out


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    officer: OfficerSpec
    expires_at_ms: int


class LoginRefused(Exception):
    """`reason`: bad_credentials (unknown id and wrong password look the same), locked (this
    id or this client tried too often; `retry_after_s`) or busy (too many logins at once)."""

    def __init__(self, reason: str, retry_after_s: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


# Checked against when the id is unknown, so that a wrong id costs as long as a wrong password.
_DUMMY_SALT = secrets.token_bytes(16)


@functools.cache
def _dummy_hash() -> bytes:
    return scrypt_hash("not a password", _DUMMY_SALT)


class Access:
    """Logins and sessions over `db_path`. `find_officer(officer_id)` answers from the current
    bundle, so an officer removed from it (or moved to another office or role) can no longer
    log in or use an open session."""

    def __init__(self, db_path, find_officer: Callable[[str], OfficerSpec | None],
                 ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.time):
        self.db_path = db_path
        self.find_officer = find_officer
        self.ttl_ms = int(ttl_s * 1000)
        self.clock = clock
        self._generation = 0
        self._generation_read_at = float("-inf")
        with _db(db_path, setup=True):
            pass  # create the tables now rather than on the first login
        passwords.hasher.warm()

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def login(self, officer_id: str, password: str, client: str = "") -> Session:
        """Check the password, after reserving the attempt: the attempt counts as a failure
        for the id and for `client` (the caller's address) before the slow hash runs, so that
        parallel guesses cannot all pass a check made before any of them failed."""
        now = self._now()
        keys = ("id:" + officer_id, "client:" + client)
        limits = (MAX_FAILURES, MAX_CLIENT_FAILURES)
        with _db(self.db_path) as con:
            _refuse_if_locked(con, keys, limits, now)  # a reader: a flood of locked ids
        with _db(self.db_path, durable=False) as con:  # must not queue for the write lock
            con.execute("BEGIN IMMEDIATE")
            _reserve(con, keys, limits, now)
            cred = con.execute("SELECT salt, hash, n, r, p FROM credentials WHERE officer_id = ?",
                               (officer_id,)).fetchone()
        officer = self.find_officer(officer_id)
        try:
            if cred is None:
                hmac.compare_digest(passwords.hasher.hash(password, _DUMMY_SALT),
                                    _dummy_hash())
                ok = False
            else:
                salt, digest, n, r, p = cred
                ok = hmac.compare_digest(
                    passwords.hasher.hash(password, salt, n, r, p), digest)
        except passwords.HashBusy:
            with _db(self.db_path, durable=False) as con:
                _release(con, keys)
            raise LoginRefused("busy", 1) from None
        if not ok or officer is None:
            raise LoginRefused("bad_credentials")  # the reservation stays: it was a failure
        with _db(self.db_path) as con:
            con.execute("DELETE FROM login_attempts WHERE key = ?", (keys[0],))
            _release(con, keys[1:])
            con.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            token = secrets.token_urlsafe(32)
            expires = now + self.ttl_ms
            con.execute("INSERT INTO sessions (token_sha256, officer_id, created_at, expires_at,"
                        " placement) VALUES (?, ?, ?, ?, ?)",
                        (_token_key(token), officer_id, now, expires, _placement(officer)))
        return Session(token, officer, expires)

    def session(self, token: str | None) -> Session | None:
        """The live session of a bearer token, or None (unknown, expired, officer gone or
        moved)."""
        if not token:
            return None
        with _db(self.db_path) as con:
            row = con.execute("SELECT officer_id, expires_at, placement FROM sessions "
                              "WHERE token_sha256 = ?", (_token_key(token),)).fetchone()
        if row is None or row[1] <= self._now():
            return None
        officer = self.find_officer(row[0])
        if officer is None or _placement(officer) != row[2]:
            return None
        return Session(token, officer, row[1])

    def logout(self, token: str) -> None:
        with _db(self.db_path) as con:
            con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_token_key(token),))
        self._generation_read_at = float("-inf")  # seen by open streams at their next look

    @property
    def generation_stale(self) -> bool:
        return time.monotonic() - self._generation_read_at > GENERATION_MAX_AGE_S

    def generation(self) -> int:
        """A number that changes whenever any session ends early, read from the file at most
        every GENERATION_MAX_AGE_S for the whole process: while it stays the same, every
        session that was live is still live (until its own expiry)."""
        if self.generation_stale:
            with _db(self.db_path) as con:
                row = con.execute("SELECT n FROM session_generation").fetchone()
            self._generation = row[0] if row else 0
            self._generation_read_at = time.monotonic()
        return self._generation

    def failure_rows(self) -> int:
        with _db(self.db_path) as con:
            return con.execute("SELECT count(*) FROM login_attempts").fetchone()[0]


def _refuse_if_locked(con, keys, limits, now: int) -> dict:
    """The keys' rows; LoginRefused("locked") when one of them is at its limit in the window."""
    window = FAILURE_WINDOW_S * 1000
    rows = {k: con.execute("SELECT count, first_at FROM login_attempts WHERE key = ?",
                           (k,)).fetchone() for k in keys}
    for key, limit in zip(keys, limits, strict=True):
        row = rows[key]
        if row and now - row[1] < window and row[0] >= limit:
            raise LoginRefused("locked", int((row[1] + window - now) // 1000 + 1))
    return rows


def _reserve(con, keys, limits, now: int) -> None:
    """Count one more attempt against each key, or raise LoginRefused("locked") when one of
    them is at its limit within the window (then nothing is counted)."""
    window = FAILURE_WINDOW_S * 1000
    rows = _refuse_if_locked(con, keys, limits, now)
    for key in keys:
        row = rows[key]
        if row is None or now - row[1] >= window:
            con.execute("INSERT OR REPLACE INTO login_attempts VALUES (?, 1, ?)", (key, now))
        else:
            con.execute("UPDATE login_attempts SET count = count + 1 WHERE key = ?", (key,))
    if con.execute("SELECT count(*) FROM login_attempts").fetchone()[0] > MAX_FAILURE_ROWS:
        con.execute("DELETE FROM login_attempts WHERE first_at <= ?", (now - window,))
        con.execute("DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts "
                    "ORDER BY first_at LIMIT max(0, (SELECT count(*) FROM login_attempts) - ?))",
                    (MAX_FAILURE_ROWS,))


def _release(con, keys) -> None:
    """Take back a reservation that turned out not to be a failure."""
    for key in keys:
        con.execute("UPDATE login_attempts SET count = max(0, count - 1) WHERE key = ?", (key,))


# -- scopes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """An alert is in scope when it is routed to one of `officer_ids` (current officer or
    anyone in `route`) or its person belongs to one of `office_ids`. Both None: everything.
    `person_office_ids`: whose persons (tracks, names) may be read; None: everyone's."""

    officer_ids: frozenset[str] | None
    office_ids: frozenset[str] | None
    person_office_ids: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.officer_ids is None and self.office_ids is None

    def sees_alert(self, record: dict, person_office: str | None) -> bool:
        if self.everything:
            return True
        routed = {record.get("officer_id")}
        routed.update(step.get("officer_id") for step in record.get("route") or ())
        if not routed.isdisjoint(self.officer_ids or ()):
            return True
        return person_office is not None and person_office in (self.office_ids or ())

    def sees_person(self, office_id: str | None) -> bool:
        if self.person_office_ids is None:
            return True
        return office_id is not None and office_id in self.person_office_ids

    @property
    def offices(self) -> frozenset[str] | None:
        """Offices whose persons and alerts this scope reaches (None: all), for filters."""
        return self.person_office_ids


def _ids(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)


def scope_for(officer: OfficerSpec, bundle: Bundle) -> Scope:
    """The one place where a role becomes what its holder may see; every endpoint uses it."""
    if officer.role == "admin":
        return Scope(None, None, None)
    own = officer.office_id
    if officer.role == "officer":
        duty = _ids(o.officer_id for o in bundle.officers
                    if o.role == "duty" and o.office_id == own)
        return Scope(duty | {officer.officer_id}, frozenset(), frozenset({own}))
    if officer.role in ("supervisor", "duty"):
        # routing walks up the chain to them, so they see what it may bring them
        known = {p.office_id for p in bundle.persons} | {o.office_id for o in bundle.officers}
        offices = Offices(bundle).below(own, known | {own})
        if officer.role == "supervisor":
            offices |= _ids(o.office_id for o in bundle.officers
                            if o.supervisor_id == officer.officer_id)
        return Scope(frozenset({officer.officer_id}), offices, offices)
    # an unknown role sees only what is routed to it by name
    return Scope(frozenset({officer.officer_id}), frozenset(), frozenset())
