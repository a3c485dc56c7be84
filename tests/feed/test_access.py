"""Logins, sessions and who sees what (alerts/feed/access.py)."""

from __future__ import annotations

import sqlite3

import pytest

from alerts.feed.access import (
    MAX_FAILURES,
    Access,
    LoginRefused,
    Scope,
    demo_password,
    scope_for,
    seed_demo_logins,
    set_password,
)

from .kit import ADMIN, demo_bundle


class Clock:
    t = 1_800_000_000.0

    def __call__(self):
        return self.t


@pytest.fixture
def bundle():
    return demo_bundle()


def officers(bundle):
    return {o.officer_id: o for o in bundle.officers}


def test_secrets_are_salted_scrypt_hashes_never_the_password(tmp_path):
    db = tmp_path / "a.sqlite"
    set_password(db, "wc-cd-01", "same-password")
    set_password(db, "wc-cd-02", "same-password")
    rows = sqlite3.connect(db).execute("SELECT officer_id, salt, hash, n FROM credentials").fetchall()
    assert len(rows) == 2
    (_, salt1, hash1, n), (_, salt2, hash2, _) = rows
    assert salt1 != salt2 and hash1 != hash2  # per-user salt
    assert b"same-password" not in hash1 + hash2 and n >= 2**14
    with pytest.raises(ValueError):
        set_password(db, "wc-cd-01", "short")


def test_login_gives_a_session_that_expires(tmp_path, bundle):
    db, clock = tmp_path / "a.sqlite", Clock()
    set_password(db, "wc-cd-01", "correct horse")
    access = Access(db, officers(bundle).get, ttl_s=3600, clock=clock)
    session = access.login("wc-cd-01", "correct horse")
    assert session.officer.name == "叶晓琳"
    assert access.session(session.token).officer.officer_id == "wc-cd-01"
    # only a digest of the token is kept
    stored = sqlite3.connect(db).execute("SELECT token_sha256 FROM sessions").fetchone()[0]
    assert session.token not in stored
    clock.t += 3599
    assert access.session(session.token) is not None
    clock.t += 1
    assert access.session(session.token) is None


def test_wrong_password_and_unknown_officer_are_refused_alike(tmp_path, bundle):
    db = tmp_path / "a.sqlite"
    set_password(db, "wc-cd-01", "correct horse")
    access = Access(db, officers(bundle).get, clock=Clock())
    for oid, pw in [("wc-cd-01", "wrong horse"), ("nobody", "correct horse"), ("wc-cd-01", "")]:
        with pytest.raises(LoginRefused) as e:
            access.login(oid, pw)
        assert e.value.reason == "bad_credentials"
    assert access.session("made-up-token") is None and access.session(None) is None


def test_repeated_failures_lock_the_id_for_a_while(tmp_path, bundle):
    db, clock = tmp_path / "a.sqlite", Clock()
    set_password(db, "wc-cd-01", "correct horse")
    access = Access(db, officers(bundle).get, clock=clock)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused):
            access.login("wc-cd-01", "guess")
    with pytest.raises(LoginRefused) as e:
        access.login("wc-cd-01", "correct horse")  # even the right password, for now
    assert e.value.reason == "locked" and e.value.retry_after_s > 0
    clock.t += 16 * 60
    assert access.login("wc-cd-01", "correct horse")


def test_logout_and_password_change_end_sessions(tmp_path, bundle):
    db = tmp_path / "a.sqlite"
    set_password(db, "wc-cd-01", "correct horse")
    access = Access(db, officers(bundle).get)
    s1, s2 = access.login("wc-cd-01", "correct horse"), access.login("wc-cd-01", "correct horse")
    access.logout(s1.token)
    assert access.session(s1.token) is None and access.session(s2.token) is not None
    set_password(db, "wc-cd-01", "battery staple")
    assert access.session(s2.token) is None


def test_an_officer_removed_from_the_bundle_loses_access(tmp_path, bundle):
    db = tmp_path / "a.sqlite"
    set_password(db, "wc-cd-01", "correct horse")
    known = officers(bundle)
    access = Access(db, lambda oid: known.get(oid))
    session = access.login("wc-cd-01", "correct horse")
    del known["wc-cd-01"]
    assert access.session(session.token) is None
    with pytest.raises(LoginRefused):
        access.login("wc-cd-01", "correct horse")


def test_demo_logins_are_deterministic(tmp_path, bundle):
    a = seed_demo_logins(tmp_path / "a.sqlite", bundle)
    b = seed_demo_logins(tmp_path / "b.sqlite", bundle)
    assert a == b and len(a) == len(bundle.officers)
    assert ("wc-cd-01", demo_password("wc-cd-01")) in a
    assert Access(tmp_path / "a.sqlite", officers(bundle).get).login("wc-cd-01", demo_password("wc-cd-01"))


def test_scopes_follow_roles(bundle):
    o = officers(bundle)
    officer = scope_for(o["wc-cd-01"], bundle)
    assert officer.officer_ids == {"wc-cd-01", "wc-cd-duty"} and not officer.office_ids
    assert officer.person_office_ids == {"wucheng-chengdong"}
    duty = scope_for(o["wc-cd-duty"], bundle)
    assert duty.office_ids == {"wucheng-chengdong"}
    sup = scope_for(o["wc-zh-01"], bundle)
    assert sup.office_ids == {"wucheng-chengdong", "wucheng-jiangnan", "wucheng-xiguan",
                              "wucheng-zhihui"}
    admin = scope_for(ADMIN, bundle)
    assert admin.everything and admin.sees_person("anything")


def test_scope_matches_current_officer_or_anyone_in_the_route():
    scope = Scope(frozenset({"me"}), frozenset({"office-a"}), frozenset({"office-a"}))
    routed = {"officer_id": "sup", "route": [{"officer_id": "me"}, {"officer_id": "sup"}]}
    assert scope.sees_alert(routed, "office-b")
    assert scope.sees_alert({"officer_id": "x", "route": []}, "office-a")
    assert not scope.sees_alert({"officer_id": "x", "route": []}, "office-b")
    assert not scope.sees_alert({"officer_id": None, "route": []}, None)  # feed_down
    assert not scope.sees_person("office-b") and not scope.sees_person(None)
