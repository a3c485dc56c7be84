"""POST /v1/events and the live runtime behind it, in process."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import warnings

import orjson
import pytest
from polling import wait_for
from servicekit import fix, incident_feed, leaving, now_ms, write_bundle

from alerts.actions import ActionError
from stream.ingest import MAX_BODY
from stream.live import LiveRuntime
from stream.service import create_app

with warnings.catch_warnings():  # starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient

AUTH = {"Authorization": "Bearer gw-secret"}
JSONL = {**AUTH, "Content-Type": "application/x-ndjson"}


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, officer_api=False)) as c:
        yield c


def test_202_with_counts_and_the_alert_reaches_the_store(client, runtime):
    t = now_ms() - 100_000
    body = b"\n".join([fix("P1", t), *leaving("P1", t + 1), b"",
                       b"{not json", fix("NOBODY", t), fix("P1", t, lat=95.0),
                       fix("P1", now_ms() + 3_600_000)])
    r = client.post("/v1/events", content=body, headers=JSONL)
    assert r.status_code == 202
    assert r.json() == {"accepted": 4, "rejected": 4, "rejected_by_reason": {
        "malformed_json": 1, "unknown_person": 1, "invalid_field": 1, "future_ts": 1}}
    alerts = wait_for(lambda: runtime.store.alerts.list_alerts())
    assert [(a["person_id"], a["type"], a["condition"]) for a in alerts] == [
        ("P1", "zone_exit", "active")]
    dead = {d["reason"]: d for d in runtime.store.dead_letters.dead_letter_list()}
    assert set(dead) == {"malformed_json", "unknown_person", "invalid_field", "future_ts"}
    assert dead["malformed_json"]["raw"] == "{not json"
    assert "lat" in dead["invalid_field"]["detail"]
    track = wait_for(lambda: runtime.store.tracks.track("P1", 0, now_ms()))  # written within ~1 s
    assert [p["ts"] for p in track] == [t, t + 1, t + 30_001, t + 60_001]
    assert client.get("/healthz").json()["status"] == "ok"


def test_json_array_body_one_record_per_element(client, runtime):
    t = now_ms() - 100_000
    body = b'[{"type": "fix", "person_id": "P2", "ts": %d,\n "lat": 30.0, "lon": 120.12}, 7, ' \
           b'"x", {"type": "fix", "person_id": "P2", "ts": %d, "lat": 30.0, "lon": 120.12},' \
           b'{"type": "fix", "person_id": "P2", "ts": %d, "lat": 30.0, "lon": 120.12}]' % (
               t, t + 30_000, t + 60_000)
    r = client.post("/v1/events", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 3 and r.json()["rejected"] == 2
    wait_for(lambda: runtime.store.alerts.list_alerts(types={"zone_exit"}))
    # no Content-Type at all: an array is recognised by its first character
    r = client.post("/v1/events", content=b"[%s]" % fix("P3", t), headers=AUTH)
    assert r.json()["accepted"] == 1


def test_401_413_400(client):
    line = fix("P1", now_ms())
    assert client.post("/v1/events", content=line).status_code == 401
    r = client.post("/v1/events", content=line, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["message"]["zh"] and r.json()["message"]["en"]
    big = (line + b"\n") * (MAX_BODY // len(line) + 1)
    r = client.post("/v1/events", content=big, headers=JSONL)
    assert r.status_code == 413 and "1 MiB" in r.json()["message"]["en"]
    assert "1 MiB" in r.json()["message"]["zh"]
    r = client.post("/v1/events", content=b'[{"type": "fix",', headers=AUTH)
    assert r.status_code == 400 and r.json()["error"] == "malformed_body"


def test_no_token_configured_means_ingest_is_closed(tmp_path, bundle_dir):
    with LiveRuntime(bundle_dir, tmp_path / "x.db") as rt, \
            TestClient(create_app(rt, officer_api=False)) as c:
        assert c.post("/v1/events", content=fix("P1", now_ms()), headers=AUTH).status_code == 401


def test_actions_go_through_the_engine(runtime):
    t = now_ms() - 10_000
    sub = runtime.subscribe()
    runtime.submit_events([fix("P1", t), *leaving("P1", t + 1)])
    first = sub.get(timeout=5)
    assert first["type"] == "zone_exit" and first["version"] == 1
    ups = runtime.submit_action({"alert_id": first["alert_id"], "action": "acknowledge",
                                 "by": "w1"})
    assert [u["handling"] for u in ups] == ["acknowledged"]
    assert runtime.submit_action({"alert_id": first["alert_id"], "action": "acknowledge",
                                  "by": "w1"}) == []
    with pytest.raises(ActionError) as err:
        runtime.submit_action({"alert_id": "al-nope", "action": "acknowledge", "by": "w1"})
    assert err.value.reason == "unknown_alert"
    assert runtime.store.alerts.latest(first["alert_id"])["handling"] == "acknowledged"
    outcomes = [a["outcome"] for a in runtime.store.actions.actions_log()]
    assert outcomes == ["unknown_alert", "no_change", "applied"]
    seen = []
    while (u := sub.get(timeout=0.2)) is not None:
        seen.append((u["version"], u["handling"]))
    assert ("acknowledged" in [h for _, h in seen]) and sub.dropped == 0
    sub.close()


def test_feed_down_after_silence_and_up_when_events_flow(tmp_path):
    b = write_bundle(tmp_path, feed_silence_s=0.3)
    with LiveRuntime(b, tmp_path / "f.db", batch_ms=5, tick_ms=50) as rt:
        down = wait_for(lambda: rt.store.alerts.list_alerts(types={"feed_down"}))
        assert down[0]["condition"] == "active" and down[0]["severity"] == "critical"
        rt.submit_events([fix("P1", now_ms())])
        wait_for(lambda: rt.store.alerts.list_alerts(types={"feed_down"}, condition="cleared"))
        assert len(rt.store.alerts.history(down[0]["alert_id"])) >= 2


def test_a_restart_re_runs_the_same_steps_and_stores_nothing_twice(tmp_path, bundle_dir):
    db = tmp_path / "r.db"
    rt = LiveRuntime(bundle_dir, db, batch_ms=1, tick_ms=20, snapshot_every_s=3600).start()
    feed = incident_feed(now_ms() - 60_000)
    for lo in range(0, len(feed), 7):
        rt.submit_events(feed[lo : lo + 7])
        time.sleep(0.005)
    wait_for(lambda: rt.stats()["applied_seq"] == rt.store.journal.last_seq)
    before = rt.store.alerts.list_alerts(limit=1000)
    versions = _all_versions(rt)
    # die without the final snapshot: the restart re-runs every step from the first snapshot
    rt._drain_and_snapshot = rt._run_pending
    rt.stop()
    again = LiveRuntime(bundle_dir, db)
    assert again.engine.stats["accepted"] == rt.engine.stats["accepted"] > 0  # all re-run
    assert again.updates == 0  # and every version they gave was already stored
    assert again.store.alerts.list_alerts(limit=1000) == before
    assert _all_versions(again) == versions  # detected_at included: same now_ms per step
    again.stop()


def test_events_accepted_but_never_applied_are_applied_after_a_restart(tmp_path, bundle_dir):
    db = tmp_path / "n.db"
    rt = LiveRuntime(bundle_dir, db)  # never started: a crash right after the 202
    t = now_ms() - 5_000
    assert rt.submit_events([*leaving("P4", t)])[0] == 3
    rt.store.close()
    again = LiveRuntime(bundle_dir, db)
    assert [a["type"] for a in again.store.alerts.list_alerts()] == ["zone_exit"]
    again.stop()


def test_reload_keeps_state_and_follows_the_new_person_table(tmp_path, runtime, bundle_dir):
    t = now_ms() - 5_000
    runtime.submit_events([*leaving("P1", t)])
    wait_for(lambda: runtime.store.alerts.list_alerts())
    persons = bundle_dir / "persons.jsonl"
    persons.write_text(persons.read_text() + orjson.dumps({
        "person_id": "P9", "name": "新人", "office_id": "office-3", "officer_id": "w3",
        "zones": ["home"]}).decode() + "\n")
    runtime.reload()
    assert runtime.submit_events([*leaving("P9", t)])[0] == 3
    got = wait_for(lambda: runtime.store.alerts.list_alerts(office_ids={"office-3"}))
    assert got[0]["person_id"] == "P9"
    assert len(runtime.store.alerts.list_alerts()) == 2


def _all_versions(rt: LiveRuntime) -> list:
    with contextlib.closing(sqlite3.connect(rt.store.path)) as conn:
        return conn.execute("SELECT alert_id, version, record FROM alert_versions "
                            "ORDER BY alert_id, version").fetchall()


# -- bodies as gateways and tools really send them: a BOM in front, a megabyte of junk -------

def dead_rows(runtime) -> list[tuple]:
    with sqlite3.connect(runtime.store.path) as con:
        return con.execute("SELECT reason, detail, raw FROM dead_letters ORDER BY id").fetchall()


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_a_utf8_bom_at_the_start_of_a_body_is_accepted(client, runtime, content_type):
    t = now_ms() - 10_000
    lines = [fix("P1", t), fix("P2", t + 1)]
    body = b"\n".join(lines) if "ndjson" in content_type else b"[" + b",".join(lines) + b"]"
    r = client.post("/v1/events", content=b"\xef\xbb\xbf" + body,
                    headers={**AUTH, "Content-Type": content_type})
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "rejected": 0, "rejected_by_reason": {}}


def test_a_megabyte_of_junk_keeps_the_first_letters_and_counts_the_rest(client, runtime):
    body = b"\n".join([b"{}"] * 349_000)  # just under 1 MiB
    t = now_ms() - 10_000
    body += b"\n" + fix("P1", t) + b"\n{not json"
    r = client.post("/v1/events", content=body, headers=JSONL)
    assert r.status_code == 202
    # the answer still counts every record
    assert r.json()["accepted"] == 1 and r.json()["rejected"] == 349_001
    rows = dead_rows(runtime)
    kept = runtime.bundle.settings.dead_letters_per_request
    assert len(rows) == kept + 1
    assert all(reason == "invalid_field" and raw == "{}" for reason, _, raw in rows[:kept])
    reason, detail, raw = rows[-1]
    assert reason == "too_many_rejects" and raw == ""
    assert f"{349_001 - kept} more" in detail
    assert f"invalid_field: {349_000 - kept}" in detail and "malformed_json: 1" in detail


def test_the_cap_is_per_request(client, runtime):
    for _ in range(3):
        client.post("/v1/events", content=b"\n".join([b"{}"] * 150), headers=JSONL)
    rows = dead_rows(runtime)
    kept = runtime.bundle.settings.dead_letters_per_request
    assert len(rows) == 3 * (kept + 1)
    assert [r[0] for r in rows].count("too_many_rejects") == 3
