"""Faults the service survives by itself, with real `lookout run` processes:

* a bad hand edit of the bundle, then a crash (SIGKILL): the restart supervises on the last
  good bundle kept in the store and raises bundle_invalid (file, line, field); --strict
  refuses to start instead;
* a second `lookout run` on the same store refuses to start; after a SIGKILL the lock is
  gone with the process;
* a full disk (an 8 MiB tmpfs: SQLite's WAL alone may grow to 4 MiB): ingest answers 503 with Retry-After, /healthz and
  lookout_store_errors_total say why, and once space is freed everything resumes without a
  restart and every accepted event's alert is stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from diskkit import fill
from metricskit import sample
from servicekit import incident_feed, now_ms, outside
from test_service_sigkill import ROOT, Server, _live_alerts, _replayed


def _run_once(bundle: Path, db: Path, *extra: str) -> subprocess.CompletedProcess:
    """`lookout run` expected to exit at once (it must not get as far as serving)."""
    return subprocess.run(
        [sys.executable, "-m", "stream.cli", "run", "--bundle", str(bundle), "--db", str(db),
         "--port", "1", *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)


def _metric(url: str, name: str, **labels) -> float:
    return sample(httpx.get(f"{url}/metrics", timeout=5).text, name, **labels)


def _health(server: Server) -> dict:
    return httpx.get(f"{server.url}/healthz", timeout=5).json()


# -- a bad hand edit, a crash, a restart -------------------------------------------------------


def test_a_bad_hand_edit_and_a_crash_leave_the_service_supervising_on_the_last_good_bundle(
        tmp_path, bundle_dir):
    server = Server(bundle_dir, tmp_path / "live.db", tmp_path / "server.log")
    server.start()
    assert _health(server)["bundle_invalid"] is None
    server.kill()

    # a hand edit that names a zone nobody defined, on line 3 of persons.jsonl
    persons = (bundle_dir / "persons.jsonl").read_text(encoding="utf-8").splitlines()
    p3 = json.loads(persons[2])
    persons[2] = json.dumps({**p3, "zones": ["nowhere"]}, ensure_ascii=False)
    (bundle_dir / "persons.jsonl").write_text("\n".join(persons) + "\n", encoding="utf-8")

    server.start()  # today: exit 2, and nobody is supervised
    health = _health(server)
    assert health["alive"] and health["status"] == "degraded"
    invalid = health["bundle_invalid"]
    assert (invalid["file"], invalid["where"], invalid["field"]) == (
        "persons.jsonl", "line 3", "zones[0]")
    assert _metric(server.url, "lookout_bundle_invalid") == 1
    assert "bundle_invalid" in server.log.read_text()

    # still supervising, on the last good bundle: P3 leaving home raises 越界
    t = now_ms()
    # three clearly-outside fixes over a minute confirm an exit
    assert server.post([outside("P3", t - 60_000 + k * 30_000) for k in range(3)]).status_code == 202
    server.settled()
    deadline = time.monotonic() + 10
    while not _stored_alert(tmp_path / "live.db", "P3", "zone_exit"):
        assert time.monotonic() < deadline, "no zone_exit for P3"
        time.sleep(0.05)
    assert (bundle_dir / "persons.jsonl").read_text(encoding="utf-8").splitlines()[2] == \
        persons[2]  # the hand edit is left for whoever made it to fix
    server.stop()

    strict = _run_once(bundle_dir, tmp_path / "live.db", "--strict")
    assert strict.returncode == 2, strict
    lines = strict.stderr.strip().splitlines()
    assert len(lines) == 1 and "persons.jsonl:line 3: zones[0]" in lines[0], strict.stderr


def test_an_unsafe_hand_edit_is_refused_at_start_up_too(tmp_path):
    from admin.kit import write_bundle  # tests/admin's bundle: it has an admin

    bundle = write_bundle(tmp_path)
    server = Server(bundle, tmp_path / "live.db", tmp_path / "server.log")
    server.start()
    server.kill()
    officers = json.loads((bundle / "officers.json").read_text(encoding="utf-8"))
    officers["officers"] = [o for o in officers["officers"] if o["role"] != "admin"]
    (bundle / "officers.json").write_text(json.dumps(officers), encoding="utf-8")
    server.start()
    invalid = _health(server)["bundle_invalid"]
    assert (invalid["file"], invalid["field"]) == ("officers.json", "officers")
    server.stop()


def _stored_alert(db: Path, person_id: str, type_: str) -> bool:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT 1 FROM alerts WHERE person_id = ? AND type = ?",
                            (person_id, type_)).fetchone() is not None
    finally:
        conn.close()


# -- one writer per store ----------------------------------------------------------------------


def test_a_second_service_on_the_same_store_refuses_to_start(tmp_path, bundle_dir):
    first = Server(bundle_dir, tmp_path / "live.db", tmp_path / "first.log")
    first.start()
    second = _run_once(bundle_dir, tmp_path / "live.db")
    assert second.returncode == 1, second
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "in use" in lines[0] and f"pid {first.proc.pid}" in lines[0]
    assert _health(first)["alive"]  # the first one is untouched
    first.kill()  # the kernel drops the lock with the process
    again = Server(bundle_dir, tmp_path / "live.db", tmp_path / "again.log")
    again.start()
    again.stop()


# -- a full disk, then space again -------------------------------------------------------------




def test_a_full_disk_answers_503_and_everything_resumes_when_space_returns(
        tmp_path, bundle_dir, small_disk):
    db = small_disk / "live.db"
    server = Server(bundle_dir, db, tmp_path / "server.log")
    server.start()
    feed = incident_feed(now_ms() - 10 * 60_000, rounds=60, step_ms=10_000)
    requests = [feed[i : i + 20] for i in range(0, len(feed), 20)]
    first = len(requests) // 3
    for lines in requests[:first]:
        assert server.post(lines).status_code == 202
    filler = fill(small_disk)

    refused = None
    for i in range(first, len(requests)):  # until the WAL has to grow
        r = server.post(requests[i])
        if r.status_code == 503:
            refused = (i, r)
            break
        assert r.status_code == 202, r.text
    assert refused is not None, "the store never ran out of space"
    i, r = refused
    assert r.json()["error"] == "store_unwritable"
    assert int(r.headers["Retry-After"]) > 0
    assert "磁盘" in r.json()["message"]["zh"] and "disk" in r.json()["message"]["en"]

    deadline = time.monotonic() + 10
    while (health := _health(server))["store_fault"] is None:
        assert time.monotonic() < deadline, health
        time.sleep(0.05)
    assert health["alive"] and health["status"] == "degraded"
    assert "full" in health["store_fault"]["error"] or "I/O" in health["store_fault"]["error"]
    assert _metric(server.url, "lookout_store_errors_total", operation="write") > 0
    time.sleep(1.0)  # the engine keeps failing for a while: it must not die of it
    assert _health(server)["alive"]

    filler.unlink()  # space again: no restart
    for lines in requests[i:]:  # the gateway sends again what it got no 202 for
        deadline = time.monotonic() + 20
        while (status := server.post(lines).status_code) != 202:
            assert status == 503 and time.monotonic() < deadline, status
            time.sleep(0.1)
    health = server.settled()
    deadline = time.monotonic() + 10
    while (health := _health(server))["store_fault"] is not None:
        assert time.monotonic() < deadline, health
        time.sleep(0.05)
    assert health["status"] == "ok"
    server.stop()

    live = _live_alerts(db)
    expected, _ = _replayed(bundle_dir, feed, tmp_path)
    assert len(expected) >= 10
    assert set(live) == set(expected)
    for alert_id, (type_, opened_at, condition, versions) in live.items():
        e = expected[alert_id]
        assert (type_, opened_at, condition) == (e["type"], e["opened_at"], e["condition"])
        assert versions == list(range(1, len(versions) + 1))
