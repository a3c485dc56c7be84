"""Purging tracks and dead letters past `track_retention_days`: exactly what is older, audited,
from the runtime's schedule and from `lookout purge`."""

from __future__ import annotations

import contextlib
import json
import sqlite3

from alerts.admin.retention import DAY_MS, purge
from alerts.store import Fix, Status, StepCommit, Store
from alerts.timefmt import utc_rfc3339 as rfc3339_utc
from config.settings import Settings
from stream.cli import main
from stream.events import DeadLetter

from .kit import now_ms, wait_for

NOW = 1_790_000_000_000  # 2026-09-21, a fixed "now" for exact boundaries


def fill(store: Store, cutoff: int) -> None:
    """Rows just before, at and just after the cutoff, for two persons and the drill."""
    fixes, statuses = [], []
    for pid in ("P1", "P2"):
        for drill in (False, True):
            for ts in (cutoff - 86_400_000, cutoff - 1, cutoff, cutoff + 1):
                fixes.append(Fix(pid, drill, ts, 30.0, 120.0, 10.0))
                statuses.append(Status(pid, drill, ts, "power_off"))
    store.commit(StepCommit([], lambda _: None, 1, fixes=fixes, statuses=statuses))
    store.dead_letters.record_dead_letters([DeadLetter(rfc3339_utc(t), "malformed_json", "", "x")
                               for t in (cutoff - 1, cutoff, cutoff + 1)])
    # a received_at written with an offset still compares as a time, not as text
    store.dead_letters.record_dead_letters([DeadLetter("2026-01-01T08:00:00.000+08:00", "invalid_field",
                                          "", "y")])


def count(store: Store, table: str) -> int:
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_purge_removes_exactly_what_is_older_and_audits_it(tmp_path):
    store = Store(tmp_path / "p.db")
    settings = Settings(track_retention_days=10)
    cutoff = NOW - 10 * DAY_MS
    fill(store, cutoff)
    result = purge(store, settings, NOW, "adm")
    # 2 persons x 2 worlds x 2 rows before the cutoff; the one at the cutoff is kept
    assert result["rows"] == {"fixes": 8, "statuses": 8, "dead_letters": 2}
    assert result["cutoff_ms"] == cutoff and result["retention_days"] == 10
    assert result["cutoff"].endswith("+08:00")
    assert sorted({p["ts"] for pid in ("P1", "P2") for drill in (False, True)
                   for p in store.tracks.track(pid, 0, 2**62, drill=drill)}) == [cutoff, cutoff + 1]
    assert count(store, "statuses") == 8
    assert sorted(d["received_at"] for d in store.dead_letters.dead_letter_list()) == [
        rfc3339_utc(cutoff), rfc3339_utc(cutoff + 1)]
    [entry] = [a for a in store.audits.audit_log() if a["what"] == "purge"]
    assert (entry["who"], entry["target"], entry["after"]["rows"]["fixes"]) == (
        "adm", "fixes,statuses,dead_letters", 8)
    assert purge(store, settings, NOW, "adm")["rows"] == {"fixes": 0, "statuses": 0,
                                                         "dead_letters": 0}
    store.close()


def test_lookout_purge_on_the_store_file(tmp_path, bundle_dir, capsys):
    (bundle_dir / "settings.toml").write_text("track_retention_days = 30\n", encoding="utf-8")
    store = Store(tmp_path / "s.db")
    fill(store, now_ms() - 30 * DAY_MS - 60_000)  # a minute older than retention at the start
    store.close()
    assert main(["purge", "--db", str(tmp_path / "s.db"), "--bundle", str(bundle_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    # fill() wrote every row a minute or more before the purge's cutoff: all 16 go
    assert out["rows"]["fixes"] == 16 and out["retention_days"] == 30
    store = Store(tmp_path / "s.db")
    assert [a["who"] for a in store.audits.audit_log() if a["what"] == "purge"] == ["lookout purge"]
    store.close()
    assert main(["purge", "--db", str(tmp_path / "none.db"), "--bundle", str(bundle_dir)]) == 2
    assert not (tmp_path / "none.db").exists()


def test_the_runtime_purges_on_a_schedule(bundle_dir, db):
    from stream.live import LiveRuntime

    store = Store(db)
    now = now_ms()
    old, recent = now - 181 * DAY_MS, now - 179 * DAY_MS  # around the default 180 days
    store.commit(StepCommit([], lambda _: None, 1, fixes=[
        Fix(pid, False, ts, 30.0, 120.0, 10.0) for pid in ("P1", "P2") for ts in (old, recent)]))
    store.close()
    rt = LiveRuntime(bundle_dir, db, purge_every_s=0.05).start()
    try:
        entry = wait_for(lambda: [a for a in rt.store.audits.audit_log() if a["what"] == "purge"])[-1]
        assert entry["who"] == "lookout" and entry["after"]["rows"]["fixes"] == 2
        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert sorted(t for (t,) in conn.execute("SELECT ts FROM fixes")) == [recent, recent]
        assert rt.last_purge["retention_days"] == 180
    finally:
        rt.stop()
