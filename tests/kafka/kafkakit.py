"""Helpers for the Kafka tests: worker processes, bundles, feeds, produce and consume."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "config" / "demo"
# Fast failover for tests: a killed worker's partitions move on after about this long.
SESSION_S = "2"
HEARTBEAT_S = "0.4"


class Worker:
    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc, self.log = proc, log

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_assigned(self, timeout: float = 60.0) -> None:
        """Until a rebalance has given this worker at least one partition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = [ln for ln in self.text().splitlines() if "lookout worker: partitions [" in ln]
            if lines and not lines[-1].rstrip().endswith("[]"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker got no partitions in {timeout} s:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class WorkerPool:
    def __init__(self, bootstrap: str, tmp: Path):
        self.bootstrap, self.tmp = bootstrap, tmp
        self.started: list[Worker] = []

    def start(self, bundle: Path, prefix: str, partitions: int = 2, *extra: str) -> Worker:
        log = self.tmp / f"worker-{len(self.started)}.log"
        cmd = [sys.executable, "-m", "stream.cli", "worker", "--bundle", str(bundle),
               "--kafka", self.bootstrap, "--prefix", prefix, "--partitions", str(partitions),
               "--session-timeout", SESSION_S, "--heartbeat", HEARTBEAT_S, "--log-level", "info",
               *extra]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        w = Worker(proc, log)
        self.started.append(w)
        return w

    def stop_all(self) -> None:
        for w in self.started:
            w.stop()


# -- bundles and feeds --------------------------------------------------------------------------

def tiny_bundle(tmp: Path) -> Path:
    """One person (P1) in a square home district around (120.0, 30.0)."""
    b = tmp / "bundle"
    b.mkdir()
    zones = {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[119.9, 29.9], [120.1, 29.9],
                                                          [120.1, 30.1], [119.9, 30.1],
                                                          [119.9, 29.9]]]},
        "properties": {"zone_id": "home", "name": "家", "kind": "inclusion"},
    }]}
    (b / "zones.geojson").write_text(json.dumps(zones))
    persons = [{"person_id": pid, "name": f"对象{pid}", "office_id": "o1", "officer_id": "w1",
                "zones": ["home"]} for pid in ("P1", "P2")]
    (b / "persons.jsonl").write_text("".join(json.dumps(p) + "\n" for p in persons))
    return b


def outside_fix(pid: str, ts_ms: int) -> bytes:
    return orjson.dumps({"type": "fix", "person_id": pid, "ts": ts_ms, "lat": 30.0,
                         "lon": 120.102})


def demo_feed(path: Path, hours: float = 6.0, start_ms: int | None = None) -> Path:
    """A simulated feed on the demo bundle that ends before now (so nothing is future_ts)."""
    from stream.simulate.cli import cli_simulate

    if start_ms is None:
        start_ms = int(time.time() * 1000) - int((hours + 1) * 3_600_000)
    code = cli_simulate(["--bundle", str(DEMO), "--out", str(path), "--hours", str(hours),
                         "--interval", "120", "--violations", "10", "--start", str(start_ms)])
    assert code == 0
    return path


def in_process(bundle: Path, feed: Path, drill: bool = False) -> list[dict]:
    from config.loader import load_bundle
    from stream.deadletter import DeadLetterWriter
    from stream.replay import replay

    out = io.BytesIO()
    replay(load_bundle(bundle), [str(feed)], out, DeadLetterWriter(None), drill=drill,
           parallel=False)
    return [orjson.loads(x) for x in out.getvalue().splitlines()]


def identities(updates) -> set[tuple]:
    """What makes an alert the same alert: its id, when it opened, its type, its zone."""
    return {(u["alert_id"], u["opened_at"], u["type"], u["zone_id"], u["drill"]) for u in updates}


def final_states(updates) -> dict[str, dict]:
    """alert_id -> newest version, without the wall-clock stamp."""
    from stream.kafka.replay import latest_versions

    return {k: {f: v for f, v in u.items() if f != "detected_at"}
            for k, u in latest_versions(updates).items()}


# -- Kafka ---------------------------------------------------------------------------------------

def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str) -> list[dict]:
    from stream.kafka.replay import read_topic

    return [orjson.loads(v) for v in read_topic(bootstrap, topic)]


def wait_for(bootstrap: str, topic: str, predicate, timeout: float = 60.0) -> list[dict]:
    """Polls `topic` until `predicate(all messages)` holds; returns the messages."""
    deadline = time.monotonic() + timeout
    while True:
        got = read_all(bootstrap, topic)
        if predicate(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting on {topic}; have {len(got)} messages: "
                                 f"{got[-5:]}")
        time.sleep(0.3)
