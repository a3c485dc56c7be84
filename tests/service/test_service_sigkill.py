"""`lookout run` killed with SIGKILL at random moments, restarted, and compared with a replay.

Requirement: killing the service at any moment and starting it again loses no accepted
event's alert and raises no alert twice. A gateway re-sends whatever it got no 202 for, so a
request cut off mid-flight may arrive twice; the engine ignores the duplicates.
"""

from __future__ import annotations

import io
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
from servicekit import incident_feed, now_ms

from alerts.engine import Engine
from config.loader import load_bundle
from stream.deadletter import DeadLetterWriter
from stream.decode import Decoder
from stream.events import FIX
from stream.replay import replay

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gw-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bundle: Path, db: Path, log: Path):
        self.bundle, self.db, self.log = bundle, db, log
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.recovered: list[int] = []  # inputs each start re-ran from the inbox

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "stream.cli", "run", "--bundle", str(self.bundle),
               "--db", str(self.db), "--port", str(port), "--gateway-token", TOKEN,
               "--batch-ms", "5", "--tick-ms", "50", "--snapshot-every-s", "0.3"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                health = httpx.get(f"{self.url}/healthz", timeout=1)
                if health.status_code == 200:
                    self.recovered.append(health.json()["recovered"])
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("the service did not start:\n" + self.log.read_text())

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def post(self, lines: list[bytes]) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/events", content=b"\n".join(lines), timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}",
                                   "Content-Type": "application/x-ndjson"})

    def settled(self) -> dict:
        """Waits until every inbox row has been applied."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            h = httpx.get(f"{self.url}/healthz", timeout=2).json()
            if h["applied_seq"] == h["inbox_seq"] and h["alive"]:
                return h
            time.sleep(0.02)
        raise AssertionError(f"inbox not drained: {h}")

    def stop(self) -> None:
        """A graceful stop: applies what is left and snapshots, so the inbox is empty."""
        self.proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then re-raises the signal: the conventional exit status
        assert self.proc.wait(20) in (0, -signal.SIGTERM), self.log.read_text()
        assert _query(self.db, "SELECT count(*) FROM inbox") == [(0,)]


def test_sigkill_at_random_moments_loses_nothing_and_raises_nothing_twice(tmp_path, bundle_dir):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    feed = incident_feed(now_ms() - 15 * 60_000, rounds=48, step_ms=10_000)
    requests = [feed[i : i + 29] for i in range(0, len(feed), 29)]
    kill_after = dict(zip(sorted(rng.sample(range(1, len(requests) - 1), 3)),
                          ["after_202", "in_flight", "mid_step"], strict=True))
    server = Server(bundle_dir, tmp_path / "live.db", tmp_path / "server.log")
    server.start()
    resent = 0
    for i, lines in enumerate(requests):
        how = kill_after.get(i)
        if how == "in_flight":  # the request may or may not have been committed
            answer: list = []
            t = threading.Thread(target=_try_post, args=(server, lines, answer))
            t.start()
            time.sleep(rng.uniform(0, 0.03))
            server.kill()
            t.join()
            server.start()
            if not answer or answer[0] != 202:
                resent += 1
                assert server.post(lines).status_code == 202
            continue
        assert server.post(lines).status_code == 202
        if how == "after_202":
            server.kill()
            server.start()
        elif how == "mid_step":
            time.sleep(rng.uniform(0, 0.03))
            server.kill()
            server.start()
    server.settled()
    server.stop()

    live = _live_alerts(tmp_path / "live.db")
    expected, rejected = _replayed(bundle_dir, feed, tmp_path)
    note = f"seed {seed}, kills {kill_after}, re-ran {server.recovered}"
    print(note)
    assert len(expected) >= 10 and len({a["type"] for a in expected.values()}) >= 4
    assert set(live) == set(expected), note
    for alert_id, (type_, opened_at, condition, versions) in live.items():
        e = expected[alert_id]
        assert (type_, opened_at, condition) == (e["type"], e["opened_at"], e["condition"]), note
        assert versions == list(range(1, len(versions) + 1)), note  # one version 1, no gaps
    fixes = _query(tmp_path / "live.db", "SELECT count(*) FROM fixes")[0][0]
    assert fixes == _accepted_fixes(bundle_dir, feed), note  # none lost, none twice
    dead = Counter(r for (r,) in _query(tmp_path / "live.db", "SELECT reason FROM dead_letters"))
    for reason, n in rejected.items():  # a resent request may dead-letter its rejects twice
        assert n <= dead[reason] <= n * 2 if resent else dead[reason] == n, (reason, note)


def _try_post(server: Server, lines: list[bytes], answer: list) -> None:
    try:
        answer.append(server.post(lines).status_code)
    except httpx.HTTPError:
        pass


def _accepted_fixes(bundle_dir: Path, feed: list[bytes]) -> int:
    engine = Engine(load_bundle(bundle_dir))
    batch, _ = Decoder(engine.person_index, engine.caseload.settings).decode(feed, now_ms())
    return int((batch.kind == FIX).sum())


def _query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _live_alerts(db: Path) -> dict:
    versions: dict[str, list[int]] = {}
    for alert_id, version in _query(db, "SELECT alert_id, version FROM alert_versions "
                                        "ORDER BY alert_id, version"):
        versions.setdefault(alert_id, []).append(version)
    out = {}
    for alert_id, version, record in _query(db, "SELECT alert_id, version, record FROM alerts "
                                                "WHERE drill = 0"):
        r = orjson.loads(record)
        assert versions[alert_id][-1] == version == r["version"]
        out[alert_id] = (r["type"], r["opened_at"], r["condition"], versions[alert_id])
    return out


def _replayed(bundle_dir: Path, feed: list[bytes], tmp: Path) -> tuple[dict, Counter]:
    path = tmp / "feed.jsonl"
    path.write_bytes(b"\n".join(feed) + b"\n")
    out = io.BytesIO()
    summary = replay(load_bundle(bundle_dir), [str(path)], out, DeadLetterWriter(None))
    last = {}
    for line in out.getvalue().splitlines():
        u = orjson.loads(line)
        last[u["alert_id"]] = u
    return last, summary.rejected
