"""Ingest latency while a flood of wrong passwords comes from many addresses, against the same
service quiet, measured in the same run (a shared machine is noisy: compare the ratio, and
run it again before believing one figure). Also the service's RSS and its failure table.

The service runs in its own process with `--trusted-proxy 127.0.0.1`, so each flooding
client's X-Forwarded-For counts as an address of its own; the flood runs in another process,
so that its threads do not slow the measuring one. The ingest client posts 20-event bodies
one after another, as a gateway does.

    python -m benchmarks.login_flood [--clients 16] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "service"))
from servicekit import Service, fix, login_flood, now_ms, write_bundle


def ingest_latencies(url: str, seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    with httpx.Client(timeout=30, headers={"Authorization": "Bearer gw",
                                           "Content-Type": "application/x-ndjson"}) as c:
        while time.monotonic() < end:
            t = now_ms()
            body = b"\n".join(fix(f"P{k % 5 + 1}", t + k) for k in range(20))
            start = time.perf_counter()
            assert c.post(f"{url}/v1/events", content=body).status_code == 202
            out.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)
    return out


def summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"requests": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(ms[max(0, int(len(ms) * 0.99) - 1)], 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        svc = Service(write_bundle(root), root / "lookout.db", "--gateway-token", "gw",
                      "--trusted-proxy", "127.0.0.1").wait_ready()
        try:
            ingest_latencies(svc.url, 1.0)  # warm up
            httpx.post(f"{svc.url}/v1/login", json={"officer_id": "x", "password": "warm up"})
            quiet = ingest_latencies(svc.url, args.seconds)
            rss_quiet = svc.rss_kib()
            flood = multiprocessing.get_context("spawn").Process(
                target=login_flood, args=(svc.url, args.clients, args.seconds + 1))
            flood.start()
            time.sleep(0.5)
            flooded = ingest_latencies(svc.url, args.seconds)
            rss_flood = svc.rss_kib()
            flood.join()
            with sqlite3.connect(root / "lookout.db") as con:
                rows = con.execute("SELECT count(*) FROM login_attempts").fetchone()[0]
        finally:
            svc.stop()
    q, f = summary(quiet), summary(flooded)
    print(json.dumps({"clients": args.clients, "seconds": args.seconds, "quiet": q, "flood": f,
                      "p99_ratio": round(f["p99_ms"] / q["p99_ms"], 2),
                      "rss_mib": {"quiet": rss_quiet // 1024, "flood": rss_flood // 1024},
                      "login_attempt_rows": rows}))


if __name__ == "__main__":
    main()
