"""`lookout drill run --kafka` and `lookout record --kafka` against a real broker and worker.

Skipped, with the reason, when no broker answers (`make kafka-up` starts one). Each test has
its own topic prefix, so it never sees another test's messages or state.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
from drillkit import ALL_KINDS

from stream.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix() -> str:
    return f"drill{uuid.uuid4().hex[:10]}"


@pytest.fixture
def worker(tmp_path, bundle, bootstrap, prefix):
    log = tmp_path / "worker.log"
    cmd = [sys.executable, "-m", "stream.cli", "worker", "--bundle", str(bundle), "--kafka",
           bootstrap, "--prefix", prefix, "--partitions", "2", "--session-timeout", "2",
           "--heartbeat", "0.4", "--log-level", "info"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            text = log.read_text(errors="replace")
            got = [ln for ln in text.splitlines() if "lookout worker: partitions [" in ln]
            if got and not got[-1].rstrip().endswith("[]"):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker did not start:\n{text[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_a_drill_over_kafka_is_detected_scored_and_recorded(tmp_path, bundle, bootstrap,
                                                            prefix, worker):
    scenario = tmp_path / "all.toml"
    scenario.write_text(ALL_KINDS, encoding="utf-8")
    recording = tmp_path / "drill.jsonl.gz"
    recorder = threading.Thread(target=main, args=([
        "record", "--kafka", bootstrap, "--prefix", prefix, "--out", str(recording),
        "--duration", "9", "--include-drill"],))
    recorder.start()
    time.sleep(1.0)  # the recorder starts from the topic's end
    code = main(["drill", "run", str(scenario), "--bundle", str(bundle), "--kafka", bootstrap,
                 "--prefix", prefix, "--speed", "100", "--dir", str(tmp_path / "drills"),
                 "--id", "k", "--timeout", "60", "--ack-wait", "0"])
    assert code == 1  # acknowledgements pending
    folder = tmp_path / "drills" / "k"
    card = json.loads((folder / "scorecard.json").read_text())
    for r in card["incidents"]:
        assert r["detected"] and r["detect_ok"] and r["result"] == "pending", r
    tamper = next(r for r in card["incidents"] if r["kind"] == "tamper")
    assert [s["officer_id"] for s in tamper["escalations"]] == ["s1"]

    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for r in card["incidents"]:
        producer.send(f"{prefix}.actions", key=r["person_id"].encode(), value=orjson.dumps({
            "type": "action", "person_id": r["person_id"], "alert_id": r["alert_id"],
            "ts": int(time.time() * 1000), "action": "acknowledge", "by": "w2"}))
    producer.flush()
    producer.close()
    deadline = time.monotonic() + 30
    while True:  # until the worker has applied them and the report sees every answer
        code = main(["drill", "report", "k", "--dir", str(tmp_path / "drills")])
        card = json.loads((folder / "scorecard.json").read_text())
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 0, card["incidents"]
    assert {r["acknowledged_by"] for r in card["incidents"]} == {"w2"}

    recorder.join(30)
    with gzip.open(recording) as fh:
        got = [orjson.loads(x) for x in fh]
    with gzip.open(folder / "feed.jsonl.gz") as fh:
        sent = [orjson.loads(x) for x in fh]
    # Kafka keeps order within a partition only: the same events, ticks left out
    assert sorted(got, key=orjson.dumps) == sorted((e for e in sent if e["type"] != "tick"),
                                                   key=orjson.dumps)
