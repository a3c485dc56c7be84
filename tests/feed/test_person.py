"""GET /v1/persons/{person_id} against the fake runtime's afternoon in 城东 and 江南."""

from __future__ import annotations

from config.loader import parse_ts_ms

from .kit import ts


def at(clock, hhmm: str) -> None:
    clock.t = parse_ts_ms(ts(hhmm)) / 1000


def test_only_persons_of_the_callers_offices(client, login, day, clock, runtime):
    at(clock, "18:00")
    duty = login("wc-cd-duty")  # 城东
    r = client.get("/v1/persons/WC0011", headers=duty)  # 江南
    assert r.status_code == 404 and r.json()["detail"]["code"] == "not_found"
    assert client.get("/v1/persons/NOBODY", headers=duty).status_code == 404
    assert client.get("/v1/persons/WC0001").status_code == 401
    r = client.get("/v1/persons/WC0001", headers=duty)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["person"]["name"] == "陈建军" and body["released"] is False
    # phone and address only here, where the read is audited; names, not ids
    assert (body["person"]["phone"], body["person"]["address"]) == (
        "13805790001", "浙江省金华市婺城区城东街道八一南街38号（虚构）")
    assert (body["person"]["office_name"], body["person"]["officer_name"]) == ("城东司法所", "蒋文杰")
    assert [a["alert_id"] for a in body["alerts"]] == [day["a_tamper"]["alert_id"]]
    # reading a person is reading personal data: audited
    read = [a for a in runtime.audits() if a["what"] == "read_person"]
    assert [(a["who"], a["target"]) for a in read] == [("wc-cd-duty", "WC0001")]


def test_an_officer_sees_the_person_but_only_the_alerts_routed_to_them(client, login, day, clock):
    at(clock, "18:00")
    # WC0001's tamper went to wc-cd-02; wc-cd-01 is in the same office
    body = client.get("/v1/persons/WC0001", headers=login("wc-cd-01")).json()
    assert body["person"]["person_id"] == "WC0001" and body["alerts"] == []
    assert client.get("/v1/persons/WC0001", headers=login("wc-cd-02")).json()["alerts"][0][
        "type"] == "tamper"


def test_status_track_zone_and_timeline(client, login, day, clock):
    at(clock, "18:00")
    off = client.get("/v1/persons/WC0002", headers=login("wc-cd-duty")).json()
    assert off["status"]["device_off"] is True and off["status"]["silent"] is False
    assert off["alerts"][0]["type"] == "device_off"

    body = client.get("/v1/persons/WC0011", headers=login("wc-jn-02")).json()
    assert len(body["track"]["points"]) == 3
    assert body["status"]["last_fix"]["ts_ms"] == parse_ts_ms(ts("17:14"))
    assert body["zone"]["properties"]["kind"] == "inclusion"
    opened = [e for e in body["timeline"] if e["kind"] == "alert"]
    # newest first: nobody acknowledged the critical 禁入 within 5 minutes
    assert [(e["type"], e["change"]) for e in opened] == [("zone_enter", "escalated"),
                                                          ("zone_enter", "opened")]
    assert opened[1]["at"] == day["b_enter"]["opened_at"]
    assert opened[0]["at_ms"] == opened[1]["at_ms"] + 300_000
    assert body["permits"] == []
    # the span is the caller's to choose, within reason
    assert client.get("/v1/persons/WC0011?hours=0", headers=login("wc-jn-02")).status_code == 422
