"""Soak: the real service (`lookout run` on 127.0.0.1) under a steady live load for many
minutes, to see that memory levels off and ingest stays quick.

Load: `--rate` events a second (default 5,000) in 1,000-line JSONL bodies, each person a fix
a second stamped with the wall clock; a few persons step out of their home zone each minute,
so alerts open and clear and the streams have something to carry. `--streams` officers keep
an SSE stream (/v1/stream) open throughout, and an officer logs in and out every few seconds.

Every minute one JSON line: the service's RSS, the store's size on disk (db + WAL), ingest
p99/p50 (the time from sending a body to its 202), events accepted, stream events read; at
the end one JSON summary, with the minute from which RSS stayed within 5% of its final value
(the plateau). All traffic goes to 127.0.0.1, every loop ends at the deadline.

    python -m benchmarks.soak [--minutes 20] [--rate 5000] [--persons 5000] [--streams 4]
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "soak-token"
BODY_LINES = 1000
HOME = [[119.0, 29.0], [121.0, 29.0], [121.0, 31.0], [119.0, 31.0], [119.0, 29.0]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_bundle(folder: Path, persons: int, offices: int = 4) -> list[str]:
    """A caseload of `persons` in one big home zone, an officer per office and an admin;
    returns the officers' ids."""
    folder.mkdir(parents=True)
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [HOME]},
         "properties": {"zone_id": "home", "name": "家", "kind": "inclusion"}}]}
    (folder / "zones.geojson").write_text(json.dumps(zones, ensure_ascii=False), "utf-8")
    with open(folder / "persons.jsonl", "w", encoding="utf-8") as fh:
        for i in range(persons):
            fh.write(json.dumps({"person_id": f"S{i:05d}", "name": f"对象{i}",
                                 "office_id": f"office-{i % offices}",
                                 "officer_id": f"officer-{i % offices}", "zones": ["home"],
                                 "silence_timeout_s": 86_400}, ensure_ascii=False) + "\n")
    officers = [{"officer_id": f"officer-{k}", "name": f"民警{k}", "office_id": f"office-{k}",
                 "role": "officer"} for k in range(offices)]
    officers.append({"officer_id": "soak-admin", "name": "管理员", "office_id": "office-0",
                     "role": "admin"})
    (folder / "officers.json").write_text(json.dumps({"officers": officers}, ensure_ascii=False),
                                          "utf-8")
    (folder / "settings.toml").write_text("feed_silence_s = 86400\n", "utf-8")
    return [o["officer_id"] for o in officers]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _store_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Load:
    """The clients; every loop checks `self.deadline` and ends by itself."""

    def __init__(self, url: str, persons: int, rate: int, deadline: float):
        self.url, self.persons, self.rate, self.deadline = url, persons, rate, deadline
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.accepted = self.errors = self.stream_events = self.logins = 0

    def _over(self) -> bool:
        return time.monotonic() >= self.deadline

    def ingest(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
        bodies_per_s = max(1, self.rate // BODY_LINES)
        person = 0
        with httpx.Client(timeout=30) as client:
            next_at = time.monotonic()
            while not self._over():
                now = int(time.time() * 1000)
                minute = now // 60_000
                lines = []
                for j in range(BODY_LINES):
                    p = (person + j) % self.persons
                    away = (p + minute) % 500 == 0  # 1 in 500 away from home this minute
                    lon = 121.5 if away else 120.0 + (p % 100) * 0.001
                    lines.append(orjson.dumps({"type": "fix", "person_id": f"S{p:05d}",
                                               "ts": now + j % 1000, "lat": 30.0, "lon": lon,
                                               "accuracy_m": 10}))
                person = (person + BODY_LINES) % self.persons
                started = time.perf_counter()
                try:
                    r = client.post(f"{self.url}/v1/events", content=b"\n".join(lines),
                                    headers=headers)
                    ok = r.status_code == 202
                    accepted = r.json().get("accepted", 0) if ok else 0
                except httpx.HTTPError:
                    ok, accepted = False, 0
                took = time.perf_counter() - started
                with self.lock:
                    if ok:
                        self.latencies.append(took)
                        self.accepted += accepted
                    else:
                        self.errors += 1
                next_at += 1 / bodies_per_s
                time.sleep(max(0.0, next_at - time.monotonic()))

    def login(self, officer: str) -> str | None:
        r = httpx.post(f"{self.url}/v1/login", json={"officer_id": officer,
                                                      "password": _password(officer)}, timeout=30)
        return r.json()["token"] if r.status_code == 200 else None

    def stream(self, officer: str) -> None:
        while not self._over():
            token = self.login(officer)
            if token is None:
                time.sleep(1)
                continue
            left = self.deadline - time.monotonic()
            try:
                with httpx.stream("GET", f"{self.url}/v1/stream",
                                  headers={"Authorization": f"Bearer {token}"},
                                  timeout=httpx.Timeout(max(left, 1.0), connect=10)) as r:
                    for line in r.iter_lines():
                        if line.startswith("event: alert"):
                            with self.lock:
                                self.stream_events += 1
                        if self._over():
                            return
            except httpx.HTTPError:
                time.sleep(0.5)

    def logins_loop(self, officers: list[str]) -> None:
        k = 0
        while not self._over():
            officer = officers[k % len(officers)]
            k += 1
            token = self.login(officer)
            if token is not None:
                httpx.post(f"{self.url}/v1/logout", headers={"Authorization": f"Bearer {token}"},
                           timeout=30)
                with self.lock:
                    self.logins += 1
            time.sleep(min(5.0, max(0.0, self.deadline - time.monotonic())))

    def take(self) -> tuple[list[float], int, int, int]:
        with self.lock:
            out = (self.latencies, self.accepted, self.errors, self.stream_events)
            self.latencies, self.accepted, self.errors, self.stream_events = [], 0, 0, 0
        return out


def _password(officer: str) -> str:
    return f"soak-password-{officer}"


def plateau_minute(rss: list[int], within: float = 0.05) -> int | None:
    """The first minute (1-based) from which every RSS reading stays within `within` of the
    last one; None when the last reading is not yet steady."""
    if not rss:
        return None
    last = rss[-1]
    start = len(rss)
    for i in range(len(rss) - 1, -1, -1):
        if abs(rss[i] - last) > within * last:
            break
        start = i
    return start + 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--rate", type=int, default=5000, help="events a second")
    ap.add_argument("--persons", type=int, default=5000)
    ap.add_argument("--streams", type=int, default=4, help="SSE streams kept open")
    args = ap.parse_args(argv)

    from alerts.feed.access import set_password

    with tempfile.TemporaryDirectory(prefix="lookout-soak-") as tmp:
        officers = write_bundle(Path(tmp) / "bundle", args.persons)
        db = Path(tmp) / "lookout.db"
        for officer in officers:
            set_password(db, officer, _password(officer))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "service.log", "wb")  # closed below
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "run", "--bundle", str(Path(tmp) / "bundle"),
             "--db", str(db), "--host", "127.0.0.1", "--port", str(port),
             "--gateway-token", TOKEN], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            up_by = time.monotonic() + 60
            while not _up(url) and time.monotonic() < up_by and proc.poll() is None:
                time.sleep(0.2)
            if not _up(url):
                print(json.dumps({"error": "the service did not start"}), flush=True)
                return 1
            deadline = time.monotonic() + args.minutes * 60
            load = Load(url, args.persons, args.rate, deadline)
            threads = [threading.Thread(target=load.ingest, daemon=True),
                       threading.Thread(target=load.logins_loop, args=(officers,), daemon=True)]
            threads += [threading.Thread(target=load.stream, args=(officers[k % len(officers)],),
                                         daemon=True) for k in range(args.streams)]
            for t in threads:
                t.start()
            minutes, all_latencies = [], []
            minute = 0
            while time.monotonic() < deadline:
                began = time.monotonic()
                time.sleep(min(60.0, max(0.0, deadline - began)))
                seconds = max(time.monotonic() - began, 1e-3)
                minute += 1
                lat, accepted, errors, streamed = load.take()
                all_latencies += lat
                row = {"minute": minute, "rss_mib": round(_rss_kib(proc.pid) / 1024, 1),
                       "store_mib": round(_store_bytes(db) / 2**20, 1),
                       "ingest_p99_ms": _ms(_pct(lat, 0.99)), "ingest_p50_ms": _ms(_pct(lat, 0.5)),
                       "events_per_s": round(accepted / seconds, 1), "errors": errors,
                       "stream_events": streamed}
                minutes.append(row)
                print(json.dumps(row), flush=True)
            for t in threads:
                t.join(timeout=60)
            rss = [m["rss_mib"] for m in minutes]
            plateau = plateau_minute(rss)
            print(json.dumps({
                "summary": True, "minutes": minute, "rate": args.rate, "persons": args.persons,
                "streams": args.streams, "logins": load.logins,
                "rss_mib_first": rss[0] if rss else None, "rss_mib_max": max(rss, default=None),
                "rss_mib_last": rss[-1] if rss else None, "plateau_from_minute": plateau,
                "store_mib_last": minutes[-1]["store_mib"] if minutes else None,
                "ingest_p99_ms": _ms(_pct(all_latencies, 0.99)),
                "errors": sum(m["errors"] for m in minutes)}), flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    return 0


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


if __name__ == "__main__":
    sys.exit(main())
