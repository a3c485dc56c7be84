"""Login under attack (alerts/feed/access.py): the attempt is counted before the hash runs,
one client is throttled across ids, unknown ids too, the failure table stays bounded, hashing
is capped in concurrency, and the server's own tool always lets an admin back in."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from alerts.feed import access as access_mod
from alerts.feed import passwords
from alerts.feed.access import (
    MAX_CLIENT_FAILURES,
    MAX_FAILURES,
    MAX_PASSWORD_CHARS,
    Access,
    LoginRefused,
    set_password,
)
from config.model import OfficerSpec
from stream.cli import main

ADMIN = OfficerSpec("ops-admin", "运维值守", "hq", "admin")
RIGHT = "the right password"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "lookout.db"
    set_password(path, ADMIN.officer_id, RIGHT)
    return path


@pytest.fixture
def access(db):
    return Access(db, lambda oid: ADMIN if oid == ADMIN.officer_id else None)


def outcome(access: Access, officer_id: str, password: str, client: str = "10.0.0.1") -> str:
    try:
        access.login(officer_id, password, client)
        return "ok"
    except LoginRefused as e:
        return e.reason


def test_forty_parallel_wrong_passwords_then_the_right_one_is_refused(access):
    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(lambda i: outcome(access, "ops-admin", f"guess-{i:04d}",
                                                  f"10.1.0.{i}"), range(40)))
    assert results.count("bad_credentials") == MAX_FAILURES  # checked: no more than 5
    assert results.count("locked") == 40 - MAX_FAILURES
    assert outcome(access, "ops-admin", RIGHT, "10.2.0.1") == "locked"


def test_unknown_ids_are_locked_like_known_ones(access):
    for i in range(MAX_FAILURES):
        assert outcome(access, "nobody", "whatever-it-is", f"10.3.0.{i}") == "bad_credentials"
    assert outcome(access, "nobody", "whatever-it-is", "10.3.1.1") == "locked"


def test_one_client_is_throttled_across_ids_and_others_are_not(access):
    for i in range(MAX_CLIENT_FAILURES):
        assert outcome(access, f"id-{i}", "whatever-it-is", "10.4.0.1") == "bad_credentials"
    assert outcome(access, "id-new", "whatever-it-is", "10.4.0.1") == "locked"
    assert outcome(access, "ops-admin", RIGHT, "10.4.0.1") == "locked"
    assert outcome(access, "ops-admin", RIGHT, "10.4.0.2") == "ok"  # the admin elsewhere


def test_the_failure_table_stays_bounded(access, monkeypatch):
    monkeypatch.setattr(access_mod, "MAX_FAILURE_ROWS", 24)
    for i in range(40):  # each a new id from a new client: two rows per attempt
        assert outcome(access, f"spray-{i}", "whatever-it-is", f"10.5.{i}.1") == "bad_credentials"
        assert access.failure_rows() <= 24
    # the newest are kept: the last sprayer is still counted
    assert access.failure_rows() == 24


def test_a_successful_login_clears_the_id_but_not_the_client(access):
    for i in range(MAX_FAILURES - 1):
        outcome(access, "ops-admin", f"guess-{i}", "10.6.0.1")
    assert outcome(access, "ops-admin", RIGHT, "10.6.0.1") == "ok"
    for i in range(MAX_FAILURES - 1):  # a fresh count for the id
        assert outcome(access, "ops-admin", f"guess-{i}", "10.6.0.2") == "bad_credentials"
    assert outcome(access, "ops-admin", RIGHT, "10.6.0.3") == "ok"


def test_the_servers_own_tool_lets_a_locked_out_admin_back_in(db, access):
    for i in range(MAX_FAILURES):
        outcome(access, "ops-admin", f"guess-{i}", f"10.7.0.{i}")
    assert outcome(access, "ops-admin", RIGHT, "10.7.1.1") == "locked"
    assert main(["admin", "password", "--db", str(db), "--officer", "ops-admin",
                 "--new-password", "a new admin password"]) == 0
    assert outcome(access, "ops-admin", "a new admin password", "10.7.1.1") == "ok"


def test_one_hash_at_a_time_and_a_login_without_its_turn_is_busy_and_not_counted(
        access, monkeypatch):
    hasher = passwords.Hasher(wait_s=0.2)
    monkeypatch.setattr(passwords, "hasher", hasher)
    with hasher._turn:  # someone else's hash is running
        for _ in range(MAX_FAILURES + 2):  # none of these is checked...
            assert outcome(access, "ops-admin", RIGHT, "10.8.0.1") == "busy"
    hasher.wait_s = 10  # the process starts on this login, on a busy machine
    assert outcome(access, "ops-admin", RIGHT, "10.8.0.1") == "ok"  # ...and none was counted


def test_the_hash_runs_in_a_process_of_its_own(access):
    assert outcome(access, "ops-admin", RIGHT) == "ok"
    proc = passwords.hasher._proc
    assert proc is not None and proc.poll() is None and proc.pid != os.getpid()
    assert passwords.hasher.hash("x" * 8, b"s" * 16) == passwords.scrypt_hash("x" * 8, b"s" * 16)


def test_one_password_policy_for_setting_and_logging_in(db, access):
    longest = "x" * MAX_PASSWORD_CHARS
    set_password(db, "ops-admin", longest)
    assert outcome(access, "ops-admin", longest) == "ok"
    for bad in ("short", "x" * (MAX_PASSWORD_CHARS + 1)):
        with pytest.raises(ValueError):
            set_password(db, "ops-admin", bad)
