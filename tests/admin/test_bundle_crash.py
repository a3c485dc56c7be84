"""A bundle change survives a crash at any moment: inputs taken before it re-run against the
old person table, inputs after it against the new, and a change touching two files is never
left half-written.

What the runtime did before (snapshot right after a reload) gave this only once that snapshot
was committed: a crash after the files were replaced but before the snapshot restarted with
the new files and re-ran the earlier inputs against them, e.g. a released person's last
events were refused and their 越界 never raised. The change is now an inbox row, committed
before any file is written.
"""

from __future__ import annotations

import sqlite3

from alerts.admin import bundle_files, edits
from alerts.timefmt import wall_ms
from stream.live import LiveRuntime

from .kit import fix, leaving, now_ms, outside


def take_release(rt: LiveRuntime, pid: str) -> edits.Edit:
    """What change_bundle records, without applying it: the row the crash leaves behind."""
    texts = bundle_files.read_texts(rt.bundle_dir)
    edit = edits.release_person(texts, pid)
    change = {"after": edit.files, "before": {n: texts[n] for n in edit.files},
              "audit": ["adm", edit.what, edit.target, edit.before, edit.after]}
    rt._record("bundle", wall_ms(), bundle_files.pack(change))
    return edit


def audits(db, what):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM audit WHERE what = ?", (what,)).fetchone()[0]


def dead(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT reason, count(*) FROM dead_letters GROUP BY reason").fetchall()


def test_a_change_taken_but_never_applied_re_runs_in_order(bundle_dir, db):
    rt = LiveRuntime(bundle_dir, db, purge_every_s=None)  # never started: dies before applying
    t = now_ms() - 60_000
    rt.submit_events([*leaving("P3", t)])  # still supervised here
    edit = take_release(rt, "P3")
    # and the files were half written when it died: persons.jsonl new, permits.jsonl old
    # (its permit names P3, so this folder alone would not even load)
    bundle_files.write_texts(bundle_dir, {"persons.jsonl": edit.files["persons.jsonl"]})
    rt.submit_events([fix("P3", t + 2)])  # taken after the release: decoded against the old
    rt.store.close()

    again = LiveRuntime(bundle_dir, db, purge_every_s=None)
    try:
        # the rows before the change ran against the old table: the 越界 was raised ...
        [alert] = again.store.alerts.list_alerts(types={"zone_exit"})
        assert (alert["person_id"], alert["condition"]) == ("P3", "active")
        # ... and the row after it against the new one: refused, so it cleared nothing
        assert dead(db) == [("unknown_person", 1)]
        assert bundle_files.read_texts(bundle_dir)["permits.jsonl"] == edit.files["permits.jsonl"]
        assert "P3" not in {p.person_id for p in again.bundle.persons}
        assert set(again.former_persons) == {"P3"}
        assert again.office_of("P3") == "office-2"
        assert audits(db, "persons.release") == 1
    finally:
        again.stop()
    third = LiveRuntime(bundle_dir, db, purge_every_s=None)  # nothing left to re-run
    try:
        assert third.recovered == 0 and audits(db, "persons.release") == 1
        assert third.store.alerts.list_alerts(types={"zone_exit"})[0]["condition"] == "active"
    finally:
        third.stop()


def test_files_written_before_a_crash_go_back_until_the_change_re_runs(bundle_dir, db):
    """Crash after the files were replaced, before the change's step committed: the restart
    must not run the earlier inputs against the new files."""
    rt = LiveRuntime(bundle_dir, db, purge_every_s=None)
    t = now_ms() - 60_000
    rt.submit_events([outside("P3", t)])
    edit = take_release(rt, "P3")
    bundle_files.write_texts(bundle_dir, edit.files)  # all of it on disk already
    rt.store.close()
    seen = []
    real_load = LiveRuntime._recover

    def spy(self):
        seen.append({p.person_id for p in self.bundle.persons})
        real_load(self)

    LiveRuntime._recover = spy
    try:
        again = LiveRuntime(bundle_dir, db, purge_every_s=None)
    finally:
        LiveRuntime._recover = real_load
    try:
        assert seen == [{"P1", "P2", "P3"}]  # recovery started from the old table
        assert {p.person_id for p in again.bundle.persons} == {"P1", "P2"}
        assert dead(db) == []  # P3's fix was applied, not refused
    finally:
        again.stop()


def test_an_applied_change_is_not_re_run_after_a_kill(bundle_dir, db):
    rt = LiveRuntime(bundle_dir, db, batch_ms=1, tick_ms=20, snapshot_every_s=3600,
                     purge_every_s=None).start()
    t = now_ms() - 60_000
    rt.submit_events([outside("P1", t), outside("P1", t + 30_000)])
    texts = bundle_files.read_texts(bundle_dir)
    rel = edits.release_person(texts, "P3")
    rt.change_bundle(rel.files, audit=("adm", rel.what, rel.target, rel.before, rel.after))
    rt.submit_events([outside("P1", t + 60_000), fix("P3", t + 60_001)])  # after: P3 refused
    # killed: no final snapshot; the rows after the change re-run on restart
    rt._drain_and_snapshot = rt._run_pending
    rt.stop()
    again = LiveRuntime(bundle_dir, db, purge_every_s=None)
    try:
        assert again.recovered >= 1  # the rows after the change (and ticks), not the change
        assert audits(db, "persons.release") == 1
        assert [a["person_id"] for a in again.store.alerts.list_alerts(types={"zone_exit"})] == ["P1"]
        assert dict(dead(db))["unknown_person"] >= 1
    finally:
        again.stop()


def test_a_hand_edit_is_taken_up_by_reload_and_a_broken_one_is_left_alone(bundle_dir, db):
    rt = LiveRuntime(bundle_dir, db, purge_every_s=None).start()
    try:
        persons = bundle_dir / "persons.jsonl"
        good = persons.read_text(encoding="utf-8") + \
            '{"person_id": "P4", "office_id": "office-1", "officer_id": "w1"}\n'
        persons.write_text(good, encoding="utf-8")
        rt.reload()
        assert "P4" in rt.engine.person_index
        broken = good + '{"person_id": "P5", "office_id": "office-1"}\n'
        persons.write_text(broken, encoding="utf-8")
        try:
            rt.reload()
        except Exception as err:
            assert str(err) == "persons.jsonl:line 5: officer_id: is required"
        else:
            raise AssertionError("a broken bundle was taken up")
        assert persons.read_text(encoding="utf-8") == broken  # the editor's work stays
        assert "P5" not in rt.engine.person_index
    finally:
        rt.stop()
