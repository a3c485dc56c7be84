"""需核查设备 / device check needed in GET /v1/persons/{id}: a phone whose alerts officers keep
resolving as false alarms or device faults is flagged; one that raised real alerts is not."""

from __future__ import annotations

from config.loader import parse_ts_ms

from .kit import status, ts


def resolve_tampers(client, runtime, auth, person_id, times, dispositions):
    for hhmm, disposition in zip(times, dispositions, strict=True):
        runtime.feed(status(person_id, hhmm, "tamper"))
        aid = next(r["alert_id"] for r in runtime.store.alerts.person_alerts(person_id)
                   if r["handling"] != "resolved")
        r = client.post(f"/v1/alerts/{aid}/resolve", headers=auth,
                        json={"disposition": disposition, "note": "上门查看"})
        assert r.status_code == 200, r.text


def test_a_phone_that_keeps_crying_wolf_is_flagged(client, login, runtime, clock):
    auth = login("wc-cd-02")  # WC0001's officer
    clock.t = parse_ts_ms(ts("17:10")) / 1000
    first = client.get("/v1/persons/WC0001", headers=auth).json()["device_check"]
    assert first["needed"] is False and first["resolved"] == 0
    resolve_tampers(client, runtime, auth, "WC0001", ["17:00", "17:02"],
                    ["false_alarm", "device_fault"])
    clock.t = parse_ts_ms(ts("17:30")) / 1000
    two = client.get("/v1/persons/WC0001", headers=auth).json()["device_check"]
    assert two["needed"] is False and (two["false_alarm"], two["device_fault"]) == (1, 1)
    resolve_tampers(client, runtime, auth, "WC0001", ["17:04"], ["false_alarm"])
    three = client.get("/v1/persons/WC0001", headers=auth).json()["device_check"]
    assert three == {"needed": True, "since_ms": parse_ts_ms(ts("17:30")) - 30 * 86_400_000,
                     "resolved": 3, "false_alarm": 2, "device_fault": 1, "min_count": 3,
                     "min_share": 0.5}


def test_confirmed_violations_outweigh_false_alarms(client, login, runtime, clock):
    auth = login("wc-cd-02")
    resolve_tampers(client, runtime, auth, "WC0001", ["17:00", "17:02", "17:04", "17:06"],
                    ["false_alarm", "violation_confirmed", "violation_confirmed", "false_alarm"])
    resolve_tampers(client, runtime, auth, "WC0001", ["17:08", "17:10", "17:12"],
                    ["violation_confirmed", "violation_confirmed", "false_alarm"])
    clock.t = parse_ts_ms(ts("17:30")) / 1000
    check = client.get("/v1/persons/WC0001", headers=auth).json()["device_check"]
    # three false alarms, enough in number, but fewer than half of seven
    assert check["needed"] is False and check["resolved"] == 7 and check["false_alarm"] == 3
