"""Events per second through `lookout run`'s HTTP ingest until the alerts are stored, against
bare orjson.loads of the same lines, measured in the same run (these machines are shared and
noisy: compare the ratio, not the absolute numbers).

The service runs in its own process, as deployed; clients post 1,000-event JSONL bodies over
keep-alive connections, each client a partition of the persons so that every person's events
arrive in order (as gateways keyed by person do). The clock is stopped when every accepted
row has been applied and its alert updates committed. The feed is from earlier today, so the
wall-clock tick is turned off: events drive the clock, as in replay.

    python -m benchmarks.ingest_bench [--persons 20000] [--clients 2] [--body 1000]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from benchmarks.replay_bench import ensure_data, orjson_rate

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(feed: Path, clients: int, body: int) -> list[list[bytes]]:
    """Each client's request bodies: its persons' lines in feed order, `body` per request."""
    parts: list[list[bytes]] = [[] for _ in range(clients)]
    with open(feed, "rb") as fh:
        for line in fh:
            pid = orjson.loads(line).get("person_id") or ""
            parts[hash(pid) % clients].append(line.rstrip(b"\n"))
    return [[b"\n".join(p[i : i + body]) for i in range(0, len(p), body)] for p in parts]


def _post_all(url: str, bodies: list[bytes], counts: list[int], errors: list) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    with httpx.Client(timeout=60) as client:
        for b in bodies:
            r = client.post(f"{url}/v1/events", content=b, headers=headers)
            if r.status_code != 202:
                errors.append((r.status_code, r.text[:200]))
                return
            counts.append(r.json()["accepted"])


def _wait_started(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the service did not start") from None
            time.sleep(0.1)


def run_bench(bundle: Path, feed: Path, clients: int, body: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="lookout-ingest-bench-"))
    per_client = _bodies(feed, clients, body)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "stream.cli", "run", "--bundle", str(bundle),
           "--db", str(work / "bench.db"), "--port", str(port), "--gateway-token", TOKEN,
           "--tick-ms", "86400000"]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_started(url, server)
        counts: list[int] = []
        errors: list = []
        threads = [threading.Thread(target=_post_all, args=(url, b, counts, errors))
                   for b in per_client]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_posted = time.perf_counter() - t0
        if errors:
            raise RuntimeError(f"ingest failed: {errors[:3]}")
        while True:
            h = httpx.get(f"{url}/healthz", timeout=10).json()
            if h["applied_seq"] >= h["inbox_seq"]:
                break
            time.sleep(0.01)
        t_stored = time.perf_counter() - t0
        server.terminate()
        server.wait(60)
    finally:
        if server.poll() is None:
            server.kill()
    conn = sqlite3.connect(work / "bench.db")
    alerts, versions, fixes = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                               for t in ("alerts", "alert_versions", "fixes"))
    conn.close()
    events = sum(counts)
    return {"events": events, "requests": sum(len(b) for b in per_client), "clients": clients,
            "body_events": body, "seconds_to_202": round(t_posted, 3),
            "seconds_to_stored": round(t_stored, 3),
            "events_per_s_202": round(events / t_posted, 1),
            "events_per_s_stored": round(events / t_stored, 1),
            "alerts": alerts, "alert_versions": versions, "fixes_stored": fixes,
            "rejected": h["rejected"], "engine": h["engine"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--venues", type=int, default=2_000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--body", type=int, default=1_000, help="events per request")
    args = ap.parse_args()
    bundle, feed = ensure_data(args.persons, args.venues)
    baseline, lines = orjson_rate(feed)
    result = run_bench(bundle, feed, args.clients, args.body)
    result.update(persons=args.persons, feed_lines=lines,
                  orjson_loads_per_s=round(baseline, 1),
                  stored_vs_orjson=round(result["events_per_s_stored"] / baseline, 4))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
