"""The person view over the live runtime: status from the engine's own state, status events
and fixes in the timeline, leave that is on now or coming."""

from __future__ import annotations

import orjson

from alerts.timefmt import rfc3339

from .kit import fix, now_ms, settled, wait_for


def status(pid: str, ts: int, event: str) -> bytes:
    return orjson.dumps({"type": "status", "person_id": pid, "ts": ts, "event": event})


def test_status_timeline_and_permits(client, login, runtime):
    adm = login("adm")
    now = now_ms()
    t = now - 20 * 60_000
    for start, end in ((now - 3_600_000, now + 3_600_000), (now + 86_400_000, now + 90_000_000)):
        r = client.post("/v1/admin/permits", headers=adm, json={
            "person_id": "P1", "start": rfc3339(start), "end": rfc3339(end), "destination": "杭州"})
        assert r.status_code == 201, r.text
    runtime.submit_events([fix("P1", t), fix("P1", t + 60_000), status("P1", t + 61_000, "heartbeat"),
                           status("P1", t + 120_000, "power_off")])
    wait_for(lambda: runtime.store.alerts.list_alerts(types={"device_off"}))
    settled(runtime)
    wait_for(lambda: runtime.store.tracks.track("P1", 0, now_ms()))  # fixes are written within ~1 s

    body = client.get("/v1/persons/P1", headers=login("duty1")).json()
    st = body["status"]
    assert st["device_off"] is True and st["silent"] is False and st["feed_down"] is False
    assert st["last_seen_ms"] == t + 120_000 and st["last_fix"]["ts_ms"] == t + 60_000
    assert st["silence_timeout_s"] == 86_400
    assert [p["state"] for p in body["permits"]] == ["active", "upcoming"]
    assert len(body["track"]["points"]) == 2
    kinds = [(e["kind"], e.get("event") or e.get("change")) for e in body["timeline"]]
    # newest first; the heartbeat is not kept, fixes are one entry for their hour
    assert ("status", "power_off") in kinds and ("status", "heartbeat") not in kinds
    assert ("alert", "opened") in kinds and ("permit", "start") in kinds
    fixes = [e for e in body["timeline"] if e["kind"] == "fixes"]
    assert sum(e["count"] for e in fixes) == 2
    assert [e["at_ms"] for e in body["timeline"]] == sorted(
        (e["at_ms"] for e in body["timeline"]), reverse=True)

    # the other office's supervisor: no such person
    assert client.get("/v1/persons/P1", headers=login("sup2")).status_code == 404
