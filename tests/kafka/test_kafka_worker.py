"""`lookout worker` and `lookout replay --kafka` against a real broker (see conftest.py)."""

from __future__ import annotations

import os
import signal
import threading
import time

import orjson
import pytest
from kafkakit import (
    DEMO,
    SESSION_S,
    demo_feed,
    final_states,
    identities,
    in_process,
    outside_fix,
    produce,
    read_all,
    tiny_bundle,
    wait_for,
)

from config.loader import parse_ts_ms
from stream.cli import main
from stream.kafka.partition import home_partition
from stream.kafka.topics import Topics, create_topics


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    return demo_feed(tmp_path_factory.mktemp("feed") / "feed.jsonl")


def replay_kafka(bootstrap, prefix, feed, tmp_path, *extra) -> list[dict]:
    out = tmp_path / f"collected-{time.monotonic_ns()}.jsonl"
    code = main(["replay", str(feed), "--kafka", bootstrap, "--prefix", prefix,
                 "--collect", str(out), "--timeout", "90", *extra])
    assert code == 0
    return [orjson.loads(x) for x in out.read_bytes().splitlines()]


def test_an_event_in_gives_the_alert_out(bootstrap, prefix, workers, tmp_path):
    b = tiny_bundle(tmp_path)
    w = workers.start(b, prefix)
    now = int(time.time() * 1000)
    produce(bootstrap, Topics(prefix).events,
            [(b"P1", outside_fix("P1", now - 90_000)), (b"P1", outside_fix("P1", now - 60_000)),
             (b"P1", outside_fix("P1", now - 30_000))])
    alerts = wait_for(bootstrap, Topics(prefix).alerts, lambda got: got, timeout=60)
    (alert,) = alerts
    assert (alert["person_id"], alert["type"], alert["zone_id"], alert["version"]) == (
        "P1", "zone_exit", "home", 1)
    assert alert["drill"] is False
    assert w.proc.poll() is None


def test_a_worker_that_has_read_its_backlog_saves_its_state_without_waiting_for_an_empty_poll(
        bootstrap, prefix, workers, tmp_path):
    b = tiny_bundle(tmp_path)
    topics = Topics(prefix)
    create_topics(bootstrap, topics, 2)
    now = int(time.time() * 1000)
    produce(bootstrap, topics.events,
            [(b"P1", outside_fix("P1", now - 90_000)), (b"P1", outside_fix("P1", now - 60_000)),
             (b"P1", outside_fix("P1", now - 30_000))])
    # an empty poll would take 8 s and a periodic checkpoint 120 s: only having read the
    # backlog to the end of every partition can save the state sooner
    workers.start(b, prefix, 2, "--within", "8", "--checkpoint", "120").wait_assigned()
    wait_for(bootstrap, topics.alerts, lambda got: got, timeout=60)
    clocks = wait_for(bootstrap, topics.changelog("clocks"),
                      lambda got: any(c["offsets"].get(topics.events) == 3 for c in got),
                      timeout=5)
    assert {c["p"] for c in clocks} == {home_partition("P1", 2)}


def test_the_worker_serves_metrics_that_count_what_it_did(bootstrap, prefix, workers, tmp_path):
    import socket
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = tiny_bundle(tmp_path)
    workers.start(b, prefix, 2, "--metrics-port", str(port))
    now = int(time.time() * 1000)
    produce(bootstrap, Topics(prefix).events,
            [(b"P1", outside_fix("P1", now - 90_000)), (b"P1", outside_fix("P1", now - 60_000)),
             (b"P1", outside_fix("P1", now - 30_000)),
             (b"P1", b"{not json")])
    wait_for(bootstrap, Topics(prefix).alerts, lambda got: got, timeout=60)

    def scrape() -> dict:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        out: dict = {}
        for fam in text_string_to_metric_families(text.decode()):
            for smp in fam.samples:
                out[smp.name] = out.get(smp.name, 0) + smp.value
        return out

    deadline = time.monotonic() + 30
    while (m := scrape()).get("lookout_alerts_opened_total", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert m["lookout_alerts_opened_total"] == 1
    assert m["lookout_events_rejected_total"] == 1
    # everything produced was consumed: the lag gauge exists and reads zero
    assert m.get("lookout_kafka_consumer_lag_messages") == 0


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_drill_over_kafka_raises_what_replay_raises(bootstrap, prefix, workers, tmp_path,
                                                      feed, n_workers):
    for _ in range(n_workers):
        workers.start(DEMO, prefix, 4)
    got = replay_kafka(bootstrap, prefix, feed, tmp_path, "--drill")
    expected = in_process(DEMO, feed, drill=True)
    assert identities(got) == identities(expected)
    assert len(identities(expected)) >= 8


def test_a_worker_killed_mid_feed_loses_nothing_and_raises_nothing_twice(
        bootstrap, prefix, workers, tmp_path, feed):
    w = workers.start(DEMO, prefix, 2, "--batch", "50")
    w.wait_assigned()
    # the 7-hour feed at 3000x takes about 8 s; the worker dies a third of the way through
    sender = threading.Thread(target=replay_kafka, args=(bootstrap, prefix, feed, tmp_path,
                                                         "--speed", "3000"))
    sender.start()
    wait_for(bootstrap, Topics(prefix).alerts, lambda got: len(got) >= 3, timeout=30)
    w.kill()
    before = len(read_all(bootstrap, Topics(prefix).alerts))
    workers.start(DEMO, prefix, 2, "--batch", "50")
    sender.join(120)
    assert not sender.is_alive()
    got = read_all(bootstrap, Topics(prefix).alerts)
    expected = in_process(DEMO, feed)
    assert 3 <= before < len(expected), "the kill did not land mid-feed"
    assert identities(got) == identities(expected)
    firsts = {}
    for u in got:  # a repeated version 1 must be the same alert, not a second one
        if u["version"] == 1:
            firsts.setdefault(u["alert_id"], set()).add((u["opened_at"], u["type"], u["zone_id"]))
    assert all(len(v) == 1 for v in firsts.values())
    assert final_states(got) == final_states(expected)


def test_the_other_worker_takes_over_when_one_dies(bootstrap, prefix, workers, tmp_path, feed):
    a = workers.start(DEMO, prefix, 4, "--batch", "50")
    b = workers.start(DEMO, prefix, 4, "--batch", "50")
    a.wait_assigned()
    b.wait_assigned()
    sender = threading.Thread(target=replay_kafka, args=(bootstrap, prefix, feed, tmp_path,
                                                         "--speed", "3000"))
    sender.start()
    wait_for(bootstrap, Topics(prefix).alerts, lambda got: len(got) >= 3, timeout=30)
    b.kill()
    sender.join(120)
    assert not sender.is_alive()
    got = read_all(bootstrap, Topics(prefix).alerts)
    expected = in_process(DEMO, feed)
    assert identities(got) == identities(expected)
    assert final_states(got) == final_states(expected)
    assert a.proc.poll() is None


def test_a_worker_the_group_dropped_does_not_write_over_the_partitions_new_owner(
        bootstrap, prefix, workers, tmp_path, feed):
    """A worker stopped longer than the session timeout (a long GC pause, a frozen VM) comes
    back believing it still owns its partitions; its new owner has moved on meanwhile. The
    stale worker's checkpoint must not land: a partition's clock never goes back."""
    from stream.kafka.replay import read_records

    a = workers.start(DEMO, prefix, 2, "--batch", "50", "--checkpoint", "0.3")
    a.wait_assigned()
    b = workers.start(DEMO, prefix, 2, "--batch", "50", "--checkpoint", "0.3")
    b.wait_assigned()
    sender = threading.Thread(target=replay_kafka, args=(bootstrap, prefix, feed, tmp_path,
                                                         "--speed", "1500"))
    sender.start()
    wait_for(bootstrap, Topics(prefix).alerts, lambda got: len(got) >= 3, timeout=30)
    os.kill(a.proc.pid, signal.SIGSTOP)
    time.sleep(3 * float(SESSION_S))  # the group gives a's partition to b, which runs on
    os.kill(a.proc.pid, signal.SIGCONT)
    sender.join(120)
    assert not sender.is_alive()
    clocks: dict[int, list[int]] = {}
    for key, value in read_records(bootstrap, Topics(prefix).changelog("clocks")):
        clocks.setdefault(int(key), []).append(orjson.loads(value)["offsets"].get(
            Topics(prefix).events, 0))
    for p, offsets in clocks.items():
        assert offsets == sorted(offsets), f"partition {p}'s clock went back: {offsets}"
    got = read_all(bootstrap, Topics(prefix).alerts)
    expected = in_process(DEMO, feed)
    assert identities(got) == identities(expected)
    assert final_states(got) == final_states(expected)


def test_poison_goes_to_the_dead_letter_topic_and_the_worker_goes_on(
        bootstrap, prefix, workers, tmp_path):
    b = tiny_bundle(tmp_path)
    workers.start(b, prefix)
    t = Topics(prefix)
    now = int(time.time() * 1000)
    produce(bootstrap, t.events, [
        (b"P1", b"{not json"),
        (b"P9", outside_fix("P9", now - 50_000)),
        (b"P1", None),
        (b"P1", outside_fix("P1", now - 100_000)),
        (b"P1", outside_fix("P1", now - 40_000)),
        (b"P1", outside_fix("P1", now - 30_000)),
    ])
    (alert,) = wait_for(bootstrap, t.alerts, lambda got: got, timeout=60)
    assert alert["type"] == "zone_exit"
    letters = wait_for(bootstrap, t.dead_letter, lambda got: len(got) >= 3, timeout=30)
    assert sorted(d["reason"] for d in letters) == ["malformed_json", "malformed_json",
                                                   "unknown_person"]
    assert all(set(d) == {"received_at", "reason", "detail", "raw"} for d in letters)
    assert "{not json" in {d["raw"] for d in letters}

    # officers' actions arrive on the actions topic, keyed by person like the events
    produce(bootstrap, t.actions, [
        (b"P1", orjson.dumps({"type": "action", "person_id": "P1", "alert_id": "al-nope",
                              "ts": now, "action": "acknowledge", "by": "w1"})),
        (b"P1", orjson.dumps({"type": "action", "person_id": "P1", "alert_id": alert["alert_id"],
                              "ts": now, "action": "acknowledge", "by": "w1"})),
    ])
    ups = wait_for(bootstrap, t.alerts, lambda got: len(got) >= 2, timeout=30)
    assert (ups[-1]["version"], ups[-1]["handling"]) == (2, "acknowledged")
    letters = wait_for(bootstrap, t.dead_letter, lambda got: len(got) >= 4, timeout=30)
    assert letters[-1]["reason"] == "unknown_alert"


def test_a_rebased_drill_raises_what_replay_raises_on_the_shifted_feed(
        bootstrap, prefix, workers, tmp_path, feed, capsys):
    workers.start(DEMO, prefix, 2)
    got = replay_kafka(bootstrap, prefix, feed, tmp_path, "--drill", "--rebase-time")
    summary = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    delta = summary["rebased_by_ms"]
    assert abs(delta - (time.time() * 1000 - first_ts(feed))) < 60_000
    shifted = tmp_path / "shifted.jsonl"
    with open(shifted, "wb") as out:
        for line in feed.read_bytes().splitlines():
            rec = orjson.loads(line)
            rec["ts"] = parse_ts_ms(rec["ts"]) + delta
            out.write(orjson.dumps(rec) + b"\n")
    expected = in_process(DEMO, shifted, drill=True)
    assert identities(got) == identities(expected)


def first_ts(feed) -> int:
    return parse_ts_ms(orjson.loads(feed.read_bytes().split(b"\n", 1)[0])["ts"])
