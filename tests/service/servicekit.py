"""A tiny bundle and event builders for the embedded service's tests.

The home square is 0.2° wide around (120.0, 30.0); the bar is an exclusion circle inside it.
Silence timeouts and feed silence are a day long, so that the wall-clock ticks of a live run
fire nothing that a replay of the same events would not: live and replay must agree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson

PERSONS = ("P1", "P2", "P3", "P4", "P5")
BAR = (120.03, 30.0)


def write_bundle(root: Path, feed_silence_s: float = 86_400.0) -> Path:
    b = root / "bundle"
    b.mkdir(parents=True, exist_ok=True)
    square = [[119.9, 29.9], [120.1, 29.9], [120.1, 30.1], [119.9, 30.1], [119.9, 29.9]]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
         "properties": {"zone_id": "home", "name": "家", "kind": "inclusion"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(BAR)},
         "properties": {"zone_id": "bar", "name": "酒吧", "kind": "exclusion", "radius_m": 100,
                        "applies_to": {"all": True}}},
    ]}
    (b / "zones.geojson").write_text(json.dumps(zones, ensure_ascii=False), encoding="utf-8")
    persons = [{"person_id": pid, "name": f"对象{pid}", "office_id": f"office-{i % 2 + 1}",
                "officer_id": f"w{i % 2 + 1}", "zones": ["home"], "silence_timeout_s": 86_400}
               for i, pid in enumerate(PERSONS)]
    (b / "persons.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                                             for p in persons), encoding="utf-8")
    (b / "settings.toml").write_text(f"feed_silence_s = {feed_silence_s}\n", encoding="utf-8")
    return b


def now_ms() -> int:
    return int(time.time() * 1000)


def fix(pid: str, ts: int, lon: float = 120.09, lat: float = 30.0, **extra) -> bytes:
    """A fix; by default ~1 km inside the square's east edge."""
    return orjson.dumps({"type": "fix", "person_id": pid, "ts": ts, "lat": lat, "lon": lon,
                         "accuracy_m": 10, **extra})


def outside(pid: str, ts: int) -> bytes:
    return fix(pid, ts, lon=120.102)  # ~200 m east of the square: clearly outside


def leaving(pid: str, t: int) -> list[bytes]:
    """Three clearly-outside fixes over a minute: what confirms a 越界 (SPEC §3)."""
    return [outside(pid, t), outside(pid, t + 30_000), outside(pid, t + 60_000)]


def status(pid: str, ts: int, event: str) -> bytes:
    return orjson.dumps({"type": "status", "person_id": pid, "ts": ts, "event": event})


def incident_feed(t0: int, rounds: int = 12, step_ms: int = 1000) -> list[bytes]:
    """Every person, every step: ordinary fixes with incidents woven in (越界 that clears,
    entering the bar, phones off and on, tamper), plus bad records of each kind."""
    lines: list[bytes] = []
    for r in range(rounds):
        t = t0 + r * step_ms
        for k, pid in enumerate(PERSONS):
            ts = t + k
            phase = (r + 2 * k) % 12
            if phase in (3, 4, 5):
                lines.append(outside(pid, ts))
            elif phase == 7:
                lines.append(fix(pid, ts, *BAR))
            elif phase == 9:
                lines.append(status(pid, ts, "power_off"))
            elif phase == 10 and k == 2:
                lines.append(status(pid, ts, "tamper"))
            else:
                lines.append(fix(pid, ts))
        if r % 4 == 1:
            lines += [b"{not json", fix("NOBODY", t), fix("P1", t, lat=95.0)]
    return lines


ADMIN_PASSWORD = "the admin's password"


def with_admin(bundle_dir: Path, db: Path) -> None:
    """An officers.json with one admin, `ops-admin`, whose password is ADMIN_PASSWORD."""
    from alerts.feed.access import set_password

    (bundle_dir / "officers.json").write_text(json.dumps({"officers": [
        {"officer_id": "ops-admin", "name": "运维值守", "office_id": "office-1", "role": "admin"}]},
        ensure_ascii=False), encoding="utf-8")
    set_password(db, "ops-admin", ADMIN_PASSWORD)


class Service:
    """`lookout run` as a separate process on a free local port, as an operator starts it."""

    def __init__(self, bundle: Path, db: Path, *flags: str, scheme: str = "http", verify=True):
        import socket
        import subprocess
        import sys

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.log = db.with_suffix(".log")
        cmd = [sys.executable, "-m", "stream.cli", "run", "--bundle", str(bundle), "--db", str(db),
               "--port", str(port), "--batch-ms", "5", "--tick-ms", "50", *flags]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[2],
                                         stdout=log, stderr=subprocess.STDOUT)
        self.verify = verify

    def wait_ready(self, within_s: float = 30.0) -> Service:
        import httpx

        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1, verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("the service did not start:\n" + self.log.read_text())

    def __enter__(self) -> Service:
        try:
            return self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:  # it must go, whatever it was doing
                self.proc.kill()
                self.proc.wait(5)


def login_flood(url: str, clients: int, seconds: float) -> None:
    """Wrong passwords for random ids as fast as answered, from `clients` addresses (as
    X-Forwarded-For: the service must trust this machine as its proxy), for `seconds`. Run it
    in a process of its own, so that its threads do not slow the measuring one."""
    import random
    import threading

    import httpx

    def one(k: int) -> None:
        rnd = random.Random(k)
        with httpx.Client(timeout=10, headers={"X-Forwarded-For": f"10.66.{k}.1"}) as c:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                c.post(f"{url}/v1/login", json={"officer_id": f"ops-admin-{rnd.randrange(10**6)}",
                                                 "password": "a wrong guess"})

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
