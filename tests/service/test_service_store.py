"""alerts/store/: what goes in comes out, re-runs are no-ops, filters match the contract."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from alerts.store import Fix, StepCommit, Store
from stream.events import DeadLetter


def record(alert_id="al-1", version=1, person_id="P1", type_="zone_exit", officer="w1",
           route=("w1",), drill=False, condition="active", handling="new",
           opened="2026-11-27T10:00:00+08:00") -> dict:
    return {"alert_id": alert_id, "version": version, "person_id": person_id, "type": type_,
            "zone_id": "home", "severity": "high", "condition": condition, "handling": handling,
            "opened_at": opened, "last_event_at": opened, "cleared_at": None, "event_count": 1,
            "reopen_count": 0, "detected_at": "2026-11-27T02:00:00.000Z", "location": None,
            "officer_id": officer, "route": [{"officer_id": o, "role": "officer"} for o in route],
            "escalated": False, "drill": drill, "resolution": None,
            "message": {"zh": "越界", "en": "left permitted area"}}


OFFICE = {"P1": "office-1", "P2": "office-2"}.get


def put(store: Store, updates: list[dict], seq: int, **parts) -> list[dict]:
    """Through the write path an engine step takes."""
    return store.commit(StepCommit(updates, OFFICE, seq, **parts))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.db")
    yield s
    s.close()


def test_versions_round_trip_and_a_replayed_update_is_a_no_op(store):
    v1, v2 = record(), record(version=2, condition="cleared")
    assert put(store, [v1], seq=1) == [v1]
    assert put(store, [v1, v2], seq=2) == [v2]  # v1 again: ignored
    assert put(store, [v1, v2], seq=3) == []
    assert store.alerts.latest("al-1") == v2
    assert store.alerts.history("al-1") == [v1, v2]
    assert store.alerts.latest("nope") is None and store.alerts.history("nope") == []
    # an older version arriving late never replaces the latest
    put(store, [record(alert_id="al-2", version=2)], seq=4)
    put(store, [record(alert_id="al-2", version=1)], seq=5)
    assert store.alerts.latest("al-2")["version"] == 2
    assert [r["version"] for r in store.alerts.history("al-2")] == [1, 2]


def test_list_alerts_filters(store):
    put(store, [
        record("a1", person_id="P1", officer="w1", route=("w1",),
               opened="2026-11-27T10:00:00+08:00"),
        record("a2", person_id="P2", officer="w9", route=("w2", "w9"), type_="device_off",
               opened="2026-11-27T11:00:00+08:00"),
        record("a3", person_id="P1", drill=True),
        record("a4", person_id=None, officer="ops", route=("ops",), type_="feed_down",
               opened="2026-11-27T09:00:00+08:00", handling="acknowledged"),
        record("a5", person_id="P2", condition="cleared", opened="2026-11-27T08:00:00+08:00"),
    ], seq=1)

    def ids(**kw):
        return [r["alert_id"] for r in store.alerts.list_alerts(**kw)]

    assert ids() == ["a2", "a1", "a4", "a5"]  # newest opened first, drills apart
    assert ids(drill=True) == ["a3"]
    assert ids(officer_ids={"w2"}) == ["a2"]  # on the route, no longer the current officer
    assert ids(officer_ids={"w9", "w1"}) == ["a2", "a1", "a5"]
    assert ids(officer_ids=set()) == []
    assert ids(office_ids={"office-1"}) == ["a1"]  # feed_down belongs to no office
    assert ids(office_ids={"office-2"}, condition="cleared") == ["a5"]
    assert ids(types={"feed_down", "device_off"}) == ["a2", "a4"]
    assert ids(handling="acknowledged") == ["a4"]
    assert ids(limit=2) == ["a2", "a1"]


def test_track_is_ascending_and_keeps_the_latest_when_limited(store):
    fixes = [Fix("P1", False, t, 30.0 + t / 1e6, 120.0, 10.0) for t in range(1000, 11000, 1000)]
    put(store, [], seq=1, fixes=[*fixes, Fix("P1", True, 5000, 1.0, 2.0, 3.0)])
    put(store, [], seq=2, fixes=fixes[:3])  # re-run: no duplicates
    got = store.tracks.track("P1", 2000, 8000)
    assert [p["ts"] for p in got] == [2000, 3000, 4000, 5000, 6000, 7000, 8000]
    assert got[0] == {"person_id": "P1", "ts": 2000, "lat": 30.002, "lon": 120.0, "accuracy_m": 10.0}
    assert [p["ts"] for p in store.tracks.track("P1", 0, 10**13, limit=3)] == [8000, 9000, 10000]
    assert [p["lat"] for p in store.tracks.track("P1", 0, 10**13, drill=True)] == [1.0]
    assert store.tracks.track("P2", 0, 10**13) == []


def test_audit_is_append_only(store):
    store.audits.audit("w1", "acknowledge", "al-1", {"handling": "new"},
                       {"handling": "acknowledged"}, at_ms=123)
    store.audits.audit("admin", "login", None)
    log = store.audits.audit_log()
    assert [(e["who"], e["what"]) for e in log] == [("admin", "login"), ("w1", "acknowledge")]
    assert log[1]["before"] == {"handling": "new"} and log[1]["at"] == 123
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET who = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()


def test_inbox_snapshot_and_dead_letters(tmp_path):
    store = Store(tmp_path / "s.db")
    dead = DeadLetter("2026-11-27T02:00:00.000Z", "malformed_json", "not JSON", "{x")
    journal = store.journal
    assert journal.record_input("events", 10, b"a", [dead]) == 1
    assert journal.record_input("tick", 11) == 2
    put(store, [], seq=2, step_ms=99, snapshot=b"state-2")
    assert journal.record_input("events", 12, b"b") == 3
    assert journal.load_snapshot() == (2, b"state-2")
    assert [(r.seq, r.kind, r.payload, r.step_ms) for r in journal.inbox_after(0)] == [
        (3, "events", b"b", None)]
    assert store.dead_letters.dead_letter_list() == [dead.to_dict()]
    store.close()
    # every row up to the snapshot is gone, and seqs never go back
    store = Store(tmp_path / "s.db")
    put(store, [], seq=3, snapshot=b"state-3")
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.journal.inbox_after(0) == [] and store.journal.record_input("tick", 13) == 4
    store.close()


def test_reads_from_other_threads_while_writing(store):
    errors = []

    def reader():
        try:
            for _ in range(50):
                store.alerts.list_alerts()
                store.alerts.latest("al-1")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for v in range(1, 51):
        put(store, [record(version=v)], seq=v)
    for t in threads:
        t.join()
    assert errors == [] and store.alerts.latest("al-1")["version"] == 50


def test_open_alerts_are_unresolved_or_still_active_real_only_by_office(store):
    put(store, [
        record("new", person_id="P1"),
        record("acked", person_id="P1", handling="acknowledged", condition="cleared"),
        record("resolved-but-active", person_id="P2", handling="resolved"),
        record("closed", person_id="P2", handling="resolved", condition="cleared"),
        record("drill", person_id="P1", drill=True),
    ], seq=1)
    ids = lambda rows: sorted(r["alert_id"] for r in rows)  # noqa: E731
    open_alerts = store.alerts.open_alerts
    assert ids(open_alerts()) == ["acked", "new", "resolved-but-active"]
    assert ids(open_alerts({"office-1"})) == ["acked", "new"]
    assert ids(open_alerts({"office-2"})) == ["resolved-but-active"]
    assert open_alerts(set()) == []
    # a later version that closes it takes it off
    put(store, [record("new", version=2, handling="resolved", condition="cleared")], seq=2)
    assert ids(open_alerts({"office-1"})) == ["acked"]


def test_late_comes_back_from_the_store_and_the_api_model_defaults_it_for_older_records(store):
    from alerts.feed.models import Alert

    late = {**record(route=()), "late": True}
    older = record(alert_id="al-2", route=())  # written before records carried `late`
    put(store, [late, older], seq=1)
    got = {a["alert_id"]: a for a in store.alerts.list_alerts()}
    assert got["al-1"]["late"] is True and "late" not in got["al-2"]
    assert Alert(**got["al-1"]).late is True and Alert(**got["al-2"]).late is False
