"""A flood of wrong passwords from many addresses against `lookout run`: ingest keeps
answering, the service's memory and failure table stay bounded, and afterwards the admin logs
in. (Ingest latency under the flood is measured by benchmarks/login_flood.py: on a shared
2-core machine a timed assertion here would test the neighbours.)"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
from servicekit import ADMIN_PASSWORD, Service, fix, login_flood, now_ms, with_admin

FLOOD_CLIENTS, FLOOD_S = 16, 5.0


def test_a_login_flood_leaves_ingest_memory_and_the_admin_alone(tmp_path, bundle_dir):
    db = tmp_path / "lookout.db"
    with_admin(bundle_dir, db)
    svc = Service(bundle_dir, db, "--gateway-token", "gw", "--trusted-proxy", "127.0.0.1")
    try:
        svc.wait_ready()
        httpx.post(f"{svc.url}/v1/login", json={"officer_id": "x", "password": "warm up"})
        rss_before = svc.rss_kib()
        flood = multiprocessing.get_context("spawn").Process(
            target=login_flood, args=(svc.url, FLOOD_CLIENTS, FLOOD_S))
        flood.start()
        answers = []
        with httpx.Client(timeout=10, headers={"Authorization": "Bearer gw"}) as gateway:
            while flood.is_alive():
                t = now_ms()
                r = gateway.post(f"{svc.url}/v1/events",
                                 content=b"\n".join(fix(f"P{k % 5 + 1}", t + k) for k in range(20)),
                                 headers={"Content-Type": "application/x-ndjson"})
                answers.append(r.status_code)
                time.sleep(0.02)
        flood.join()
        assert answers and set(answers) == {202}
        grown_mib = (svc.rss_kib() - rss_before) / 1024
        # the hashes ran in their own processes: the service itself did not hold 16 MiB each
        assert grown_mib < 32, f"the service grew {grown_mib:.0f} MiB under the flood"
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT count(*) FROM login_attempts").fetchone()[0]
            clients = con.execute("SELECT count(*) FROM login_attempts WHERE key LIKE 'client:%'"
                                  ).fetchone()[0]
        assert clients == FLOOD_CLIENTS + 1  # each flooding address counted as itself
        assert rows <= 10_000
        r = httpx.post(f"{svc.url}/v1/login", headers={"X-Forwarded-For": "10.200.0.1"},
                       json={"officer_id": "ops-admin", "password": ADMIN_PASSWORD},
                       timeout=15)
        assert r.status_code == 200, r.text
    finally:
        svc.stop()


def test_x_forwarded_for_is_ignored_from_a_proxy_nobody_named(tmp_path, bundle_dir):
    with Service(bundle_dir, tmp_path / "lookout.db", "--gateway-token", "gw") as svc:
        for k in range(3):
            httpx.post(f"{svc.url}/v1/login", headers={"X-Forwarded-For": f"10.9.{k}.1"},
                       json={"officer_id": f"someone-{k}", "password": "a wrong guess"}, timeout=15)
        with sqlite3.connect(tmp_path / "lookout.db") as con:
            keys = {k for (k,) in con.execute("SELECT key FROM login_attempts "
                                              "WHERE key LIKE 'client:%'")}
        assert keys == {"client:127.0.0.1"}


def test_the_hash_process_does_not_outlive_a_killed_service(tmp_path, bundle_dir):
    with Service(bundle_dir, tmp_path / "lookout.db", "--gateway-token", "gw") as svc:
        children = Path(f"/proc/{svc.proc.pid}/task/{svc.proc.pid}/children").read_text().split()
        assert children, "no hash process was started"
        os.kill(svc.proc.pid, signal.SIGKILL)
        svc.proc.wait(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{c}").exists() for c in children):
            assert time.monotonic() < deadline, "the hash process outlived the service"
            time.sleep(0.1)
