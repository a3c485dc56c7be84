"""`lookout run --kafka`: the officers' service in front of Kafka workers (stream/kafka/officer.py),
against a real broker (see conftest.py).

No worker runs here: the tests play the worker. Its alert updates are made by the in-process
engine on the same bundle (so they are real SPEC §4 records) and produced to the alerts topic,
and its answer to an officer's action is `Engine.act` on the action the service sent.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from admin.kit import fix, login_headers, outside
from diskkit import fill, tmpfs
from kafkakit import produce
from metricskit import sample
from polling import wait_for

from alerts.engine import Engine
from alerts.service import NotInThisMode
from config.loader import load_bundle
from stream.decode import Decoder
from stream.kafka.officer import KafkaOfficerRuntime
from stream.kafka.partition import home_partition
from stream.kafka.topics import Topics, create_topics
from stream.service import cli_run, create_app

with warnings.catch_warnings():  # starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient

PARTITIONS = 3
MIN = 60_000
DAY = 86_400_000


def now_ms() -> int:
    return int(time.time() * 1000)


class Worker:
    """The engine as a worker runs it, by hand: events in, SPEC §4 updates out."""

    def __init__(self, bundle_dir):
        bundle = load_bundle(bundle_dir)
        self.engine = Engine(bundle)
        self.state = self.engine.new_state()
        self.decoder = Decoder(self.engine.person_index, bundle.settings)

    def events(self, *lines: bytes) -> list[dict]:
        batch, rejects = self.decoder.decode(list(lines), received_at_ms=now_ms())
        assert not rejects, rejects
        return [u.to_wire() for u in self.engine.process(self.state, batch, now_ms())]

    def act(self, action: dict) -> list[dict]:
        return [u.to_wire() for u in self.engine.act(self.state, action, now_ms())]


def send_alerts(bootstrap: str, prefix: str, *updates: dict) -> None:
    produce(bootstrap, Topics(prefix).alerts,
            [(u["alert_id"].encode(), orjson.dumps(u)) for u in updates])


def records(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of every message now on `topic`."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + 10
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"reading {topic} timed out"
            for tp, recs in consumer.poll(timeout_ms=100).items():
                out += [(tp.partition, r.key, r.value) for r in recs]
        return out
    finally:
        consumer.close()


@pytest.fixture
def topics(bootstrap, prefix) -> Topics:
    create_topics(bootstrap, Topics(prefix), PARTITIONS)
    return Topics(prefix)


@pytest.fixture
def worker(bundle_dir) -> Worker:
    return Worker(bundle_dir)


@pytest.fixture
def service(bootstrap, prefix, topics, bundle_dir, db):
    """Starts a KafkaOfficerRuntime (several in a test: a restart); all stopped at the end."""
    started = []

    def start(**kw) -> KafkaOfficerRuntime:
        kw = {"gateway_tokens": ["gw"], "poll_ms": 50, "action_wait_s": 10.0, **kw}
        rt = KafkaOfficerRuntime(bundle_dir, db, bootstrap, prefix, **kw).start()
        started.append(rt)
        assert rt.reader.wait_caught_up(10)
        return rt

    yield start
    for rt in started:
        rt.stop()


@pytest.fixture
def client_for():
    clients = []

    def make(runtime) -> TestClient:
        c = TestClient(create_app(runtime))
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def zone_exit(worker: Worker, pid: str = "P1", t0: int | None = None) -> dict:
    t0 = now_ms() - 10 * MIN if t0 is None else t0
    # three clearly-outside fixes over a minute confirm (SPEC §3)
    (v1,) = worker.events(outside(pid, t0), outside(pid, t0 + MIN // 2), outside(pid, t0 + MIN))
    assert (v1["type"], v1["version"], v1["person_id"]) == ("zone_exit", 1, pid)
    return v1


def listed(client, auth) -> list[dict]:
    r = client.get("/v1/alerts", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["alerts"]


def alert_on_the_page(bootstrap, prefix, service, client_for, worker):
    """A service, a client logged in as w1, and a zone_exit of P1 the worker sent, listed."""
    rt = service()
    c = client_for(rt)
    w1 = login_headers(c, "w1")
    v1 = zone_exit(worker)
    send_alerts(bootstrap, prefix, v1)
    wait_for(lambda: listed(c, w1), timeout=10)
    return rt, c, w1, v1


# -- alerts in -------------------------------------------------------------------------------

def test_a_version_sent_twice_shows_once_and_a_newer_one_replaces_it(
        bootstrap, prefix, service, client_for, worker):
    rt = service()
    sub = rt.subscribe()
    c = client_for(rt)
    w1 = login_headers(c, "w1")
    v1 = zone_exit(worker)
    send_alerts(bootstrap, prefix, v1, v1)  # a worker crashed after sending it once
    got = wait_for(lambda: listed(c, w1), timeout=10)
    assert [(a["alert_id"], a["version"]) for a in got] == [(v1["alert_id"], 1)]
    assert got[0]["person_name"] == "张一" and got[0]["office_id"] == "office-1"

    # back inside: two inside fixes clear it
    (v2,) = worker.events(fix("P1", now_ms() - 5 * MIN), fix("P1", now_ms() - 4 * MIN))
    assert v2["version"] == 2 and v2["condition"] == "cleared"
    send_alerts(bootstrap, prefix, v2, v1)  # and an old repeat after it changes nothing
    wait_for(lambda: listed(c, w1)[0]["version"] == 2, timeout=10)
    time.sleep(0.3)
    (only,) = listed(c, w1)
    assert (only["version"], only["condition"]) == (2, "cleared")
    detail = c.get(f"/v1/alerts/{v1['alert_id']}", headers=w1).json()
    assert [h["version"] for h in detail["history"]] == [1, 2]
    # the page's stream heard each version once, in order
    assert [sub.get(2)["version"], sub.get(2)["version"], sub.get(0.3)] == [1, 2, None]
    assert rt.store.consumed.consumed_offsets(Topics(prefix).alerts) == {
        p: n for p, n in _ends(bootstrap, Topics(prefix).alerts).items() if n}


def test_an_office_sees_only_its_own_alerts(bootstrap, prefix, service, client_for, worker):
    rt = service()
    c = client_for(rt)
    a = zone_exit(worker, "P1")
    b = zone_exit(worker, "P3")
    send_alerts(bootstrap, prefix, a, b)
    w1, w2 = login_headers(c, "w1"), login_headers(c, "w2")
    wait_for(lambda: len(listed(c, login_headers(c, "adm"))) == 2, timeout=10)
    assert [x["alert_id"] for x in listed(c, w1)] == [a["alert_id"]]
    assert [x["alert_id"] for x in listed(c, w2)] == [b["alert_id"]]
    assert c.get(f"/v1/alerts/{a['alert_id']}", headers=w2).status_code == 404
    r = c.post(f"/v1/alerts/{a['alert_id']}/acknowledge", headers=w2)
    assert r.status_code == 404
    assert records(bootstrap, Topics(prefix).actions) == []  # nothing reached the workers


def test_a_restart_reads_on_from_its_stored_offsets(bootstrap, prefix, service, worker):
    rt = service()
    a, b = zone_exit(worker, "P1"), zone_exit(worker, "P2")
    send_alerts(bootstrap, prefix, a, b)
    wait_for(lambda: rt.reader.counts["new"] == 2, timeout=10)
    rt.stop()

    (a2,) = worker.events(fix("P1", now_ms() - 5 * MIN), fix("P1", now_ms() - 4 * MIN))
    send_alerts(bootstrap, prefix, a2, b)  # b again: a worker's repeat while we were down
    again = service()
    sub = again.subscribe()
    assert again.reader.counts["read"] == 2  # only what came after the stored offsets
    assert again.reader.counts["new"] == 1
    assert [v["version"] for v in again.store.alerts.history(a["alert_id"])] == [1, 2]
    assert [v["version"] for v in again.store.alerts.history(b["alert_id"])] == [1]
    assert sub.get(0.3) is None  # nothing old announced again


# -- actions out -----------------------------------------------------------------------------

def test_an_acknowledgement_goes_to_the_persons_partition_and_returns_the_workers_answer(
        bootstrap, prefix, service, client_for, worker):
    rt, c, w1, v1 = alert_on_the_page(bootstrap, prefix, service, client_for, worker)
    actions = Topics(prefix).actions
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(c.post, f"/v1/alerts/{v1['alert_id']}/acknowledge", headers=w1)
        (sent,) = wait_for(lambda: records(bootstrap, actions), timeout=10)
        partition, key, value = sent
        action = orjson.loads(value)
        assert key == b"P1" and partition == home_partition("P1", PARTITIONS)
        assert action == {"type": "action", "person_id": "P1", "alert_id": v1["alert_id"],
                          "ts": action["ts"], "action": "acknowledge", "by": "w1"}
        assert abs(action["ts"] - now_ms()) < 60_000
        assert not answer.done()  # waiting for the worker
        (v2,) = worker.act(action)
        send_alerts(bootstrap, prefix, v2)
        r = answer.result(10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] is True and body["pending"] is False
    assert (body["alert"]["version"], body["alert"]["handling"]) == (2, "acknowledged")
    assert len(records(bootstrap, actions)) == 1
    (logged,) = rt.store.actions.actions_log()
    assert (logged["alert_id"], logged["action"], logged["by"], logged["outcome"]) == (
        v1["alert_id"], "acknowledge", "w1", "applied")
    # acknowledging again: already done, known here, nothing sent
    r = c.post(f"/v1/alerts/{v1['alert_id']}/acknowledge", headers=w1)
    assert r.status_code == 200 and r.json()["changed"] is False
    assert len(records(bootstrap, actions)) == 1


def test_no_answer_in_time_is_pending_and_the_answer_still_lands(
        bootstrap, prefix, service, client_for, worker):
    rt = service(action_wait_s=0.3)
    c = client_for(rt)
    w1 = login_headers(c, "w1")
    v1 = zone_exit(worker)
    send_alerts(bootstrap, prefix, v1)
    wait_for(lambda: listed(c, w1), timeout=10)
    r = c.post(f"/v1/alerts/{v1['alert_id']}/resolve", headers=w1,
               json={"disposition": "false_alarm", "note": "定位漂移"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["pending"] is True and body["changed"] is False
    assert body["alert"]["version"] == 1
    (_, _, value), = records(bootstrap, Topics(prefix).actions)
    (v2,) = worker.act(orjson.loads(value))
    send_alerts(bootstrap, prefix, v2)
    got = wait_for(lambda: [a for a in listed(c, w1) if a["handling"] == "resolved"], timeout=10)
    assert got[0]["resolution"]["note"] == "定位漂移" and got[0]["resolution"]["by"] == "w1"
    wait_for(lambda: rt.store.actions.actions_log()[0]["outcome"] == "applied", timeout=5)
    audit = [e for e in rt.store.audits.audit_log() if e["what"] == "resolve"]
    assert audit[0]["after"] == {"pending": True}


def test_an_expired_alert_is_refused_here_and_nothing_is_sent(
        bootstrap, prefix, service, client_for, worker):
    rt = service()
    c = client_for(rt)
    w1 = login_headers(c, "w1")
    t0 = now_ms() - 9 * DAY
    v1 = zone_exit(worker, "P1", t0)
    # cleared 9 days ago: past resolving
    (v2,) = worker.events(fix("P1", t0 + 10 * MIN), fix("P1", t0 + 11 * MIN))
    send_alerts(bootstrap, prefix, v1, v2)
    wait_for(lambda: listed(c, w1) and listed(c, w1)[0]["version"] == 2, timeout=10)
    r = c.post(f"/v1/alerts/{v1['alert_id']}/acknowledge", headers=w1)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail["code"] == "expired" and detail["zh"] and detail["en"]
    with pytest.raises(Exception) as err:  # a malformed action, as the engine says it
        rt.submit_action({"alert_id": v1["alert_id"], "action": "acknowledge"})
    assert getattr(err.value, "reason", None) == "invalid_field" and "by" in str(err.value)
    assert records(bootstrap, Topics(prefix).actions) == []
    assert {a["outcome"] for a in rt.store.actions.actions_log()} == {"unknown_alert", "invalid_field"}


def test_a_refusal_by_the_worker_comes_back_as_a_clear_error(
        bootstrap, prefix, service, client_for, worker):
    rt, c, w1, v1 = alert_on_the_page(bootstrap, prefix, service, client_for, worker)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(c.post, f"/v1/alerts/{v1['alert_id']}/acknowledge", headers=w1)
        (_, _, value), = wait_for(lambda: records(bootstrap, Topics(prefix).actions), timeout=10)
        letter = {"received_at": "2026-11-27T02:00:00.000Z", "reason": "unknown_alert",
                  "detail": "action: alert_id: the alert has expired", "raw": value.decode()}
        produce(bootstrap, Topics(prefix).dead_letter, [(None, orjson.dumps(letter))])
        r = answer.result(10)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "expired"
    assert rt.store.actions.actions_log()[0]["outcome"] == "unknown_alert"


# -- events in, admin refused, start-up ------------------------------------------------------

def test_events_go_to_the_events_topic_keyed_and_bad_lines_are_dead_lettered(
        bootstrap, prefix, service, client_for):
    rt = service()
    c = client_for(rt)
    t = now_ms() - MIN
    body = b"\n".join([fix("P1", t), fix("P3", t), orjson.dumps({"type": "tick", "ts": t}),
                       b"{not json", orjson.dumps({"type": "fix", "ts": t})])
    r = c.post("/v1/events", content=body, headers={"Authorization": "Bearer gw",
                                                     "Content-Type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 3, "rejected": 2,
                        "rejected_by_reason": {"malformed_json": 1, "invalid_field": 1}}
    got = records(bootstrap, Topics(prefix).events)
    keyed = sorted((k, p) for p, k, _ in got if k is not None)
    assert keyed == sorted([(b"P1", home_partition("P1", PARTITIONS)),
                            (b"P3", home_partition("P3", PARTITIONS))])
    assert sorted(p for p, k, _ in got if k is None) == list(range(PARTITIONS))  # the tick
    letters = [orjson.loads(v) for _, _, v in records(bootstrap, Topics(prefix).dead_letter)]
    assert sorted(d["reason"] for d in letters) == ["invalid_field", "malformed_json"]
    assert {d["raw"] for d in letters} == {"{not json", f'{{"type":"fix","ts":{t}}}'}
    assert c.post("/v1/events", content=body).status_code == 401


def test_a_body_of_junk_sends_the_first_dead_letters_and_a_count_of_the_rest(
        bootstrap, prefix, service, client_for):
    rt = service()
    c = client_for(rt)
    r = c.post("/v1/events", content=b"\n".join([b"{}"] * 150 + [b"{not json"]),
               headers={"Authorization": "Bearer gw", "Content-Type": "application/x-ndjson"})
    assert r.status_code == 202 and r.json()["rejected"] == 151
    letters = [orjson.loads(v) for _, _, v in records(bootstrap, Topics(prefix).dead_letter)]
    kept = rt.bundle.settings.dead_letters_per_request
    assert len(letters) == kept + 1
    assert letters[-1]["reason"] == "too_many_rejects"
    assert f"invalid_field: {150 - kept}" in letters[-1]["detail"]
    assert "malformed_json: 1" in letters[-1]["detail"]


def test_bundle_changes_are_refused_in_both_languages(service, client_for):
    rt = service()
    c = client_for(rt)
    adm = login_headers(c, "adm")
    for r in (c.post("/v1/admin/reload", headers=adm),
              c.post("/v1/admin/permits", headers=adm, json={
                  "person_id": "P1", "start": "2026-11-20T08:00:00+08:00",
                  "end": "2026-11-20T20:00:00+08:00", "destination": "杭州"})):
        assert r.status_code == 409, r.text
        detail = r.json()["detail"]
        assert detail["code"] == "kafka_mode"
        assert "lookout worker" in detail["en"] and "处理进程" in detail["zh"]
    assert c.get("/v1/admin/audit", headers=adm).status_code == 200  # reading still works
    health = c.get("/healthz").json()
    assert health["status"] == "ok" and health["mode"] == "kafka"


def test_what_kafka_mode_cannot_do_is_refused_in_both_languages_and_the_page_does_without(
        bootstrap, prefix, service, client_for, worker):
    rt, c, w1, v1 = alert_on_the_page(bootstrap, prefix, service, client_for, worker)
    with pytest.raises(NotInThisMode) as refused:
        rt.person_status("P1")
    assert refused.value.code == "kafka_mode"
    assert "workers" in refused.value.en and "处理进程" in refused.value.zh
    for change in (lambda: rt.change_bundle({}), rt.reload):
        with pytest.raises(NotInThisMode) as refused:
            change()
        assert refused.value.code == "kafka_mode" and "lookout worker" in refused.value.en
    assert rt.former_persons == {}  # released only by bundle changes, which are refused here
    # the person page and the roster read the state from the open alerts instead
    r = c.get("/v1/persons/P1", headers=w1)
    assert r.status_code == 200, r.text
    person = r.json()
    assert person["released"] is False and person["status"]["last_seen_ms"] is None
    assert [a["alert_id"] for a in person["alerts"]] == [v1["alert_id"]]
    roster = c.get("/v1/roster", headers=w1).json()
    assert roster["live_state"] is False
    assert {p["person_id"]: p["open_alerts"] for p in roster["persons"]}["P1"] == 1


def test_a_store_that_cannot_write_is_counted_and_shown_in_kafka_mode(
        bootstrap, prefix, topics, bundle_dir, tmp_path, client_for, worker):
    """The alerts reader's writes on a full disk: lookout_store_errors_total counts them and
    /healthz names the fault, as in live mode."""
    with tmpfs(tmp_path / "disk") as disk:
        rt = KafkaOfficerRuntime(bundle_dir, disk / "kafka.db", bootstrap, prefix,
                                 poll_ms=50).start()
        try:
            c = client_for(rt)
            assert "lookout_store_errors_total{" not in c.get("/metrics").text  # none yet
            v1 = zone_exit(worker)
            send_alerts(bootstrap, prefix, v1)
            wait_for(lambda: rt.reader.counts["new"] == 1, timeout=10)
            fill(disk)
            note = "备注" * 2000  # big versions: the WAL has to grow soon
            sent = 1
            for n in range(100):  # until the store cannot write
                send_alerts(bootstrap, prefix, *({**v1, "alert_id": f"{v1['alert_id']}-{n}-{k}",
                                                  "note": note} for k in range(50)))
                sent += 50
                wait_for(lambda n=sent: rt.reader.error or rt.reader.counts["read"] == n,
                         timeout=10)
                if rt.reader.error:
                    break
            assert rt.reader.error is not None, "the store never ran out of space"
            health = wait_for(lambda: (h := c.get("/healthz").json())["store_fault"] and h,
                              timeout=10)
            assert "full" in health["store_fault"]["error"] or "I/O" in health["store_fault"][
                "error"]
            # the reader stops at the write it cannot make; a restart reads on from the store
            assert health["status"] == "failed" and c.get("/healthz").status_code == 503
            assert sample(c.get("/metrics").text, "lookout_store_errors_total",
                          operation="write") >= 1
        finally:
            rt.stop()


def test_run_without_the_topics_says_what_to_do(bootstrap, prefix, bundle_dir, tmp_path,
                                                 capsys):
    code = cli_run(["--bundle", str(bundle_dir), "--db", str(tmp_path / "x.db"),
                    "--kafka", bootstrap, "--prefix", prefix])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{prefix}.alerts" in err and "lookout kafka create-topics" in err and "主题" in err


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: n for tp, n in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


# -- with a real worker ------------------------------------------------------------------------

def officer_service_with_a_worker(bundle_dir, prefix, service, client_for, workers):
    """A `lookout worker` on the topics, the officers' service in front of it, and w1's login."""
    w = workers.start(bundle_dir, prefix, PARTITIONS)
    w.wait_assigned()
    rt = service()
    c = client_for(rt)
    return rt, c, login_headers(c, "w1")


def post_events(c, *lines: bytes):
    """As a gateway does: NDJSON to POST /v1/events, which must take it (202)."""
    r = c.post("/v1/events", content=b"\n".join(lines),
               headers={"Authorization": "Bearer gw", "Content-Type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    return r


def test_end_to_end_a_gateway_event_becomes_an_alert_an_officer_acknowledges_through_a_worker(
        bootstrap, prefix, topics, bundle_dir, service, client_for, workers):
    """The whole Kafka path: gateway → service → events topic → `lookout worker` → alerts topic
    → service → page; the officer's ack → actions topic → the worker → the new version back."""
    rt, c, w1 = officer_service_with_a_worker(bundle_dir, prefix, service, client_for, workers)
    t = now_ms() - 10 * MIN
    r = post_events(c, outside("P1", t), outside("P1", t + MIN // 2), outside("P1", t + MIN))
    assert r.json()["accepted"] == 3, r.text
    (alert,) = wait_for(lambda: listed(c, w1), timeout=30)
    assert (alert["type"], alert["person_id"], alert["handling"]) == ("zone_exit", "P1", "new")

    r = c.post(f"/v1/alerts/{alert['alert_id']}/acknowledge", headers=w1)
    assert r.status_code == 200, r.text  # the worker answered within the wait
    got = r.json()["alert"]
    assert (got["version"], got["handling"]) == (alert["version"] + 1, "acknowledged")
    (only,) = listed(c, w1)
    assert (only["alert_id"], only["handling"]) == (alert["alert_id"], "acknowledged")


def test_bulk_acknowledge_sends_one_action_per_alert_through_a_worker(
        bootstrap, prefix, topics, bundle_dir, service, client_for, workers):
    """POST /v1/alerts/bulk in Kafka mode: each alert its own action on the actions topic, its
    own answer from the worker, its own line in the action log and the audit log."""
    rt, c, w1 = officer_service_with_a_worker(bundle_dir, prefix, service, client_for, workers)
    t = now_ms() - 10 * MIN
    post_events(c, *(outside(p, t + k * MIN // 2) for p in ("P1", "P2") for k in range(3)))
    alerts = wait_for(lambda: len(listed(c, w1)) == 2 and listed(c, w1), timeout=30)
    ids = sorted(a["alert_id"] for a in alerts)

    r = c.post("/v1/alerts/bulk", headers=w1, json={"alert_ids": ids, "action": "acknowledge"})
    assert r.status_code == 200, r.text
    outcomes = {o["alert_id"]: o for o in r.json()["results"]}
    assert all(o["ok"] and not o["pending"] for o in outcomes.values()), outcomes
    assert {o["alert"]["handling"] for o in outcomes.values()} == {"acknowledged"}
    sent = [a for a in rt.store.actions.actions_log(10) if a["action"] == "acknowledge"]
    assert sorted(a["alert_id"] for a in sent) == ids
    assert {a["outcome"] for a in sent} == {"applied"}
    audited = [a for a in rt.store.audits.audit_log(20) if a["what"] == "acknowledge"]
    assert sorted(a["target"] for a in audited) == ids
    actions = [orjson.loads(v) for _, _, v in records(bootstrap, topics.actions)]
    assert sorted(a["alert_id"] for a in actions) == ids
