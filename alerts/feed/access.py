"""Who may log in, and what each officer may see and act on.

Credentials and sessions live in the store's SQLite file (tables `credentials`, `sessions`,
`login_failures`), through connections of our own: one short connection per call, so that any
server thread may use it and nothing holds the file between requests.

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

import hashlib
import hmac
import secrets
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import closing, contextmanager
from dataclasses import dataclass

from config.model import Bundle, OfficerSpec
from config.offices import Offices

SESSION_TTL_S = 12 * 3600
MIN_PASSWORD_CHARS = 8
# Five wrong passwords within a quarter of an hour lock the id for the rest of that quarter:
# slow enough for guessing to be hopeless, short enough that an officer who fumbles can retry.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60

# scrypt cost: ~50 ms and 16 MiB per check. Stored per row, so it can be raised later and
# old hashes still verify.
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    officer_id TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL,
    n INTEGER NOT NULL, r INTEGER NOT NULL, p INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY, officer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS login_failures (
    officer_id TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at INTEGER NOT NULL);
"""


@contextmanager
def _db(path):
    with closing(sqlite3.connect(str(path), timeout=10.0)) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        with con:  # one transaction per call
            yield con


def _hash(password: str, salt: bytes, n: int = _N, r: int = _R, p: int = _P) -> bytes:
    # NFC: the same characters typed through different input methods must match
    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def _token_key(token: str) -> str:
    # only a digest is stored, so a copy of the database holds no usable session
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def set_password(db_path, officer_id: str, password: str) -> None:
    """Set (or replace) an officer's password; their open sessions end."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    digest = _hash(password, salt)
    with _db(db_path) as con:
        con.execute(
            "INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
            (officer_id, salt, digest, _N, _R, _P, int(time.time() * 1000)),
        )
        con.execute("DELETE FROM sessions WHERE officer_id = ?", (officer_id,))


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
    """`reason`: bad_credentials (unknown id and wrong password look the same) or locked."""

    def __init__(self, reason: str, retry_after_s: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


# Checked against when the id is unknown, so that a wrong id costs as long as a wrong password.
_DUMMY_SALT = secrets.token_bytes(16)
_DUMMY_HASH = _hash("not a password", _DUMMY_SALT)


class Access:
    """Logins and sessions over `db_path`. `find_officer(officer_id)` answers from the current
    bundle, so an officer removed from it can no longer log in or use an open session."""

    def __init__(self, db_path, find_officer: Callable[[str], OfficerSpec | None],
                 ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.time):
        self.db_path = db_path
        self.find_officer = find_officer
        self.ttl_ms = int(ttl_s * 1000)
        self.clock = clock
        with _db(db_path):
            pass  # create the tables now rather than on the first login

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def login(self, officer_id: str, password: str) -> Session:
        now = self._now()
        with _db(self.db_path) as con:
            row = con.execute("SELECT count, first_at FROM login_failures WHERE officer_id = ?",
                              (officer_id,)).fetchone()
            if row and now - row[1] < FAILURE_WINDOW_S * 1000 and row[0] >= MAX_FAILURES:
                retry = (row[1] + FAILURE_WINDOW_S * 1000 - now) // 1000 + 1
                raise LoginRefused("locked", int(retry))
            cred = con.execute("SELECT salt, hash, n, r, p FROM credentials WHERE officer_id = ?",
                               (officer_id,)).fetchone()
        officer = self.find_officer(officer_id)
        if cred is None:
            hmac.compare_digest(_hash(password, _DUMMY_SALT), _DUMMY_HASH)
            ok = False
        else:
            salt, digest, n, r, p = cred
            ok = hmac.compare_digest(_hash(password, salt, n, r, p), digest)
        if not ok or officer is None:
            with _db(self.db_path) as con:
                self._count_failure(con, officer_id, now, row)
            raise LoginRefused("bad_credentials")  # outside: raising inside rolls back
        with _db(self.db_path) as con:
            con.execute("DELETE FROM login_failures WHERE officer_id = ?", (officer_id,))
            con.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            token = secrets.token_urlsafe(32)
            expires = now + self.ttl_ms
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                        (_token_key(token), officer_id, now, expires))
        return Session(token, officer, expires)

    @staticmethod
    def _count_failure(con, officer_id: str, now: int, row) -> None:
        if row is None or now - row[1] >= FAILURE_WINDOW_S * 1000:
            con.execute("INSERT OR REPLACE INTO login_failures VALUES (?, 1, ?)", (officer_id, now))
        else:
            con.execute("UPDATE login_failures SET count = count + 1 WHERE officer_id = ?",
                        (officer_id,))

    def session(self, token: str | None) -> Session | None:
        """The live session of a bearer token, or None (unknown, expired, officer gone)."""
        if not token:
            return None
        with _db(self.db_path) as con:
            row = con.execute("SELECT officer_id, expires_at FROM sessions WHERE token_sha256 = ?",
                              (_token_key(token),)).fetchone()
        if row is None or row[1] <= self._now():
            return None
        officer = self.find_officer(row[0])
        return Session(token, officer, row[1]) if officer is not None else None

    def logout(self, token: str) -> None:
        with _db(self.db_path) as con:
            con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_token_key(token),))


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
