"""alerts/store/ as repositories over one file: the mode decides which tables the file gets,
one engine step is one transaction across every repository, and a write the disk refuses
counts in lookout_store_errors_total."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from diskkit import fill
from metricskit import sample
from test_service_store import OFFICE, record

from alerts.store import (
    Action,
    Audit,
    Fix,
    NotInThisStore,
    Released,
    Status,
    StepCommit,
    Store,
    StoreWriteError,
)
from stream.events import DeadLetter
from stream.metrics import LookoutMetrics

SHARED = {"actions", "alert_reads", "alert_routes", "alert_versions", "alerts", "audit",
          "dead_letters", "fixes", "statuses"}


def test_a_kafka_officer_store_has_no_journal_and_a_live_one_no_kafka_offsets(tmp_path):
    kafka = Store(tmp_path / "k.db", mode="kafka")
    live = Store(tmp_path / "l.db")
    try:
        assert set(kafka.tables()) == SHARED | {"consumed"}
        assert set(live.tables()) == SHARED | {"inbox", "snapshot", "bundle_good",
                                               "persons_released"}
        for repo in ("journal", "persons"):
            with pytest.raises(NotInThisStore, match=f"a kafka store keeps no {repo}"):
                getattr(kafka, repo)
        with pytest.raises(NotInThisStore, match="a live store keeps no consumed"):
            live.consumed  # noqa: B018 - the attribute is what refuses
        # a step that carries journal parts cannot be kept where there is no journal, and
        # nothing of it is written
        with pytest.raises(NotInThisStore):
            kafka.commit(StepCommit([record()], OFFICE, 1, snapshot=b"state"))
        assert kafka.alerts.latest("al-1") is None
    finally:
        kafka.close()
        live.close()


def test_the_kafka_store_resumes_after_what_it_stored(tmp_path):
    store = Store(tmp_path / "k.db", mode="kafka")
    v1, v2 = record(), record(version=2)
    assert store.consumed.append_consumed([v1], OFFICE, "t.alerts", {0: 5, 1: 2}) == [v1]
    assert store.consumed.append_consumed([v1, v2], OFFICE, "t.alerts", {0: 7}) == [v2]
    store.close()
    store = Store(tmp_path / "k.db", mode="kafka")
    assert store.consumed.consumed_offsets("t.alerts") == {0: 7, 1: 2}
    assert store.consumed.consumed_offsets("other") == {}
    assert store.alerts.latest("al-1") == v2
    store.close()


def _step(seq: int, **parts) -> StepCommit:
    dead = DeadLetter("2026-11-27T02:00:00.000Z", "malformed_json", "not JSON", "{x")
    full = dict(
        fixes=[Fix("P1", False, 1000, 30.0, 120.0, 10.0)],
        statuses=[Status("P1", False, 1000, "tamper")],
        actions=[Action(seq, 1000, "al-1", "acknowledge", "w1", "applied", None, "{}")],
        dead_letters=[dead],
        audits=[Audit(1000, "w1", "acknowledge", "al-1", {"handling": "new"}, None)],
        released=[Released("P9", orjson.dumps({"person_id": "P9"}).decode(), 1000, "adm")],
        step_ms=1234, snapshot=b"state", good_bundle={"persons.jsonl": "{}"})
    return StepCommit([record()], OFFICE, seq, **{**full, **parts})


def _counts(store: Store) -> dict[str, int]:
    conn = store._db.reader()
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("alerts", "fixes", "statuses", "actions", "dead_letters", "audit",
                      "persons_released", "snapshot", "bundle_good")}


def test_one_step_is_one_transaction_across_every_repository(tmp_path):
    store = Store(tmp_path / "s.db")
    seq = store.journal.record_input("events", 1000, b"x")
    # an audit line without `what` violates the table: nothing of the step may stay
    with pytest.raises(Exception, match="NOT NULL"):
        store.commit(_step(seq, audits=[Audit(1000, "w1", None, None, None, None)]))  # type: ignore[arg-type]
    assert set(_counts(store).values()) == {0}
    assert store.journal.inbox_after(0)[0].step_ms is None

    assert store.commit(_step(seq)) == [record()]
    assert set(_counts(store).values()) == {1}
    assert store.persons.released_persons() == {
        "P9": {"record": {"person_id": "P9"}, "released_at": 1000, "by": "adm"}}
    assert store.alerts.written_times("al-1") == {1: 1234}
    assert store.journal.good_bundle() == {"persons.jsonl": "{}"}
    assert store.journal.load_snapshot() == (seq, b"state")
    assert store.journal.inbox_after(0) == []  # covered by the snapshot
    # enrolled again: no longer released
    store.commit(StepCommit([], OFFICE, seq, enrolled=["P9"]))
    assert store.persons.released_persons() == {}
    store.close()


# -- a disk that refuses writes -----------------------------------------------------------------


def _fill(store: Store, disk: Path) -> Path:
    """No byte left on the disk, and the store's WAL emptied first, so that every write
    must grow it."""
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy
    conn.close()
    return fill(disk)


def _store_errors(metrics: LookoutMetrics) -> float:
    try:
        return sample(metrics.render().decode(), "lookout_store_errors_total", operation="write")
    except AssertionError:  # not exposed: none counted yet
        return 0.0


WRITES = {
    "step commit": lambda s: s.commit(_step(1)),
    "inbox": lambda s: s.journal.record_input("tick", 1),
    "good bundle": lambda s: s.journal.save_good_bundle({"a": "b"}),
    "audit": lambda s: s.audits.audit("w1", "read_track", "P1"),
    "action": lambda s: s.actions.record_action(1, "al-1", "acknowledge", "w1", "sent", None, "{}"),
    "action outcome": lambda s: s.actions.set_action_outcome(1, "applied"),  # logged before
    "read mark": lambda s: s.alerts.mark_read("w1", ["al-1"]),
    "dead letters": lambda s: s.dead_letters.record_dead_letters(
        [DeadLetter("2026-11-27T02:00:00.000Z", "malformed_json", "", "{")]),
    "track purge": lambda s: s.tracks.purge_tracks(10**13),
}


def test_every_write_the_full_disk_refuses_is_counted_and_keeps_nothing(small_disk):
    metrics = LookoutMetrics()
    store = Store(small_disk / "s.db", on_write_error=lambda exc: metrics.observe_store_error("write"))
    store.commit(StepCommit([record()], OFFICE, 1, fixes=[Fix("P1", False, 1, 1.0, 2.0, 3.0)]))
    assert store.actions.record_action(1, "al-1", "acknowledge", "w1", "sent", None, "{}") == 1
    filler = _fill(store, small_disk)
    try:
        for n, (name, write) in enumerate(WRITES.items(), start=1):
            with pytest.raises(StoreWriteError, match="cannot write"):
                write(store)
            assert _store_errors(metrics) == n, name
        # reads still answer, from what was there
        assert store.alerts.latest("al-1") == record()
        assert len(store.tracks.track("P1", 0, 10)) == 1
        assert [a["outcome"] for a in store.actions.actions_log()] == ["sent"]
    finally:
        filler.unlink()
    # space again: the same store writes, without being reopened
    store.audits.audit("w1", "read_track", "P1")
    assert store.audits.audit_log(1)[0]["what"] == "read_track"
    assert _store_errors(metrics) == len(WRITES)
    store.close()

