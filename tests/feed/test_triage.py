"""The triage list, unread state and bulk actions over the real SQLite store (alerts/store/):
1,200 alerts, sorted, paged and counted by the store's SQL, through the HTTP API."""

from __future__ import annotations

import sqlite3

import pytest

from alerts.store import Store
from alerts.triage import AlertQuery

from .kit import DAY0_MS, fill, status

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def key(a: dict) -> tuple:
    urgent = a["handling"] == "new" and (a["escalated"] or a["severity"] == "critical")
    return (not urgent, SEVERITY_RANK[a["severity"]], -_ms(a["opened_at"]), a["alert_id"])


def _ms(text: str) -> int:
    from config.loader import parse_ts_ms

    return parse_ts_ms(text)


@pytest.fixture
def many(runtime):
    return fill(runtime.store)


def get(client, auth, **params):
    r = client.get("/v1/alerts", headers=auth, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_critical_escalated_tamper_is_first_among_1200(client, login, many):
    admin = login("ops-admin")
    body = get(client, admin, limit=50)
    assert body["alerts"][0]["alert_id"] == many["needle"]["alert_id"]
    assert len(body["alerts"]) == 50
    # totals, not the page cap
    recs = many["records"]
    assert body["total"] == 1200
    assert body["counts"] == {h: sum(r["handling"] == h for r in recs)
                              for h in ("new", "acknowledged", "resolved")}
    assert body["attention"]["critical_new"] == 1
    # after the one urgent alert: severity, then newest first
    assert [a["alert_id"] for a in body["alerts"]] == [
        r["alert_id"] for r in sorted(recs, key=key)[:50]]


def test_pages_walk_the_whole_order_once(client, login, many):
    admin = login("ops-admin")
    seen = []
    for offset in range(0, 1200, 500):
        body = get(client, admin, handling=["new", "acknowledged"], limit=500, offset=offset)
        seen += [a["alert_id"] for a in body["alerts"]]
        assert body["total"] == 1200 - body["counts"]["resolved"]
    expected = [r["alert_id"] for r in sorted(many["records"], key=key)
                if r["handling"] != "resolved"]
    assert seen == expected


def test_each_filter(client, login, many):
    recs = many["records"]
    admin = login("ops-admin")

    def total(**params) -> int:
        return get(client, admin, limit=1, **params)["total"]

    assert total(handling="resolved") == sum(r["handling"] == "resolved" for r in recs)
    assert total(type="tamper") == sum(r["type"] == "tamper" for r in recs)
    assert total(severity=["high", "medium"]) == sum(
        r["severity"] in ("high", "medium") for r in recs)
    assert total(office="wucheng-xiguan") == sum(r["person_id"] >= "WC0015" for r in recs)
    assert total(person="WC0003") == sum(r["person_id"] == "WC0003" for r in recs)
    assert total(person="李国") == total(person="wc0003")  # a part of a name, any case of an id
    assert total(person="nobody-by-that-name") == 0
    since, until = DAY0_MS + 86_400_000, DAY0_MS + 3 * 86_400_000
    assert total(since_ms=since, until_ms=until) == sum(
        since <= _ms(r["opened_at"]) < until for r in recs)
    # filters combine, and counts stay per handling state under the other filters
    body = get(client, admin, type="tamper", office="wucheng-chengdong", limit=1)
    tampers_a = [r for r in recs if r["type"] == "tamper" and r["person_id"] <= "WC0007"]
    assert body["total"] == len(tampers_a)
    assert sum(body["counts"].values()) == len(tampers_a)

    # mine: the alerts whose current officer is the caller
    mine = get(client, login("wc-cd-01"), mine=True, limit=1000)
    assert {a["officer_id"] for a in mine["alerts"]} == {"wc-cd-01"}
    assert mine["total"] == sum(r["officer_id"] == "wc-cd-01" for r in recs)


def test_scope_holds_for_totals_too(client, login, many):
    recs = many["records"]
    body = get(client, login("wc-jn-01"), limit=1000)
    mine = [r for r in recs if r["officer_id"] == "wc-jn-01"]
    assert body["total"] == len(mine) and {a["officer_id"] for a in body["alerts"]} == {"wc-jn-01"}
    # the needle went to the supervisor: 城东's duty officer sees it by office, 江南 does not
    assert many["needle"]["alert_id"] in {
        a["alert_id"] for a in get(client, login("wc-cd-duty"), limit=5)["alerts"]}
    assert get(client, login("wc-jn-01"), person="WC0003")["total"] == 0


def test_unread_is_kept_per_officer_across_a_restart(client, login, many, runtime):
    duty, sup = login("wc-cd-duty"), login("wc-zh-01")
    needle = many["needle"]["alert_id"]
    before = get(client, duty, limit=1)
    assert before["alerts"][0] == {**before["alerts"][0], "alert_id": needle, "unread": True}
    assert client.get(f"/v1/alerts/{needle}", headers=duty).status_code == 200
    after = get(client, duty, limit=1)
    assert after["alerts"][0]["unread"] is False
    assert after["attention"]["unread"] == before["attention"]["unread"] - 1
    # someone else's unread is their own
    assert get(client, sup, limit=1)["alerts"][0]["unread"] is True
    # a fresh store over the same file (a restart) still knows
    again = Store(runtime.store.path)
    try:
        page = again.alerts.triage(_scope_all(), "wc-cd-duty", limit=1)
        assert page.alerts[0]["alert_id"] == needle and page.alerts[0]["unread"] is False
        assert again.alerts.triage(_scope_all(), "wc-zh-01", limit=1).alerts[0]["unread"] is True
    finally:
        again.close()


def _scope_all():
    return AlertQuery()


# -- bulk actions over real engine alerts -------------------------------------------------------


def test_bulk_acknowledge_and_resolve_each_alert_audited(client, login, runtime, day):
    duty = login("wc-cd-duty")
    ids = [day[k]["alert_id"] for k in ("a_tamper", "a_off", "a_duty")]
    r = client.post("/v1/alerts/bulk", headers=duty,
                    json={"alert_ids": ids, "action": "acknowledge"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] == 3 and body["failed"] == 0
    assert {o["alert"]["handling"] for o in body["results"]} == {"acknowledged"}
    acks = [a for a in runtime.audits() if a["what"] == "acknowledge"]
    assert sorted(a["target"] for a in acks) == sorted(ids)
    assert {a["after"]["handling"] for a in acks} == {"acknowledged"}
    for alert_id in ids:
        assert runtime.store.alerts.latest(alert_id)["handling"] == "acknowledged"

    # one disposition and note for all; a tamper without a note is refused alone
    r = client.post("/v1/alerts/bulk", headers=duty, json={
        "alert_ids": ids, "action": "resolve", "disposition": "device_fault"})
    body = r.json()
    outcome = {o["alert_id"]: o for o in body["results"]}
    assert outcome[day["a_tamper"]["alert_id"]]["problem"]["code"] == "note_required"
    assert outcome[day["a_tamper"]["alert_id"]]["status"] == 422
    assert body["ok"] == 2 and body["failed"] == 1
    assert runtime.store.alerts.latest(day["a_off"]["alert_id"])["handling"] == "resolved"
    assert runtime.store.alerts.latest(day["a_tamper"]["alert_id"])["handling"] == "acknowledged"
    resolves = [a for a in runtime.audits() if a["what"] == "resolve"]
    assert len(resolves) == 3  # two done, one refused: each alert its own line


def test_bulk_refuses_what_the_caller_cannot_see_item_by_item(client, login, day):
    other = login("wc-jn-01")
    ids = [day["a_tamper"]["alert_id"], day["b_tamper"]["alert_id"]]
    body = client.post("/v1/alerts/bulk", headers=other,
                       json={"alert_ids": ids, "action": "acknowledge"}).json()
    outcome = {o["alert_id"]: o for o in body["results"]}
    assert outcome[ids[0]]["status"] == 404 and not outcome[ids[0]]["ok"]
    assert outcome[ids[1]]["ok"]
    r = client.post("/v1/alerts/bulk", headers=other, json={"alert_ids": ids, "action": "resolve"})
    assert r.status_code == 422  # resolve needs a disposition


def test_a_live_engine_alert_is_sorted_by_the_store(client, login, runtime, day):
    # a low battery after the day's alerts is newest, yet it sits below the tamper
    runtime.feed(status("WC0006", "17:40", "low_battery"))
    rows = get(client, login("wc-cd-duty"), limit=10)["alerts"]
    assert (rows[0]["person_id"], rows[0]["type"]) == ("WC0001", "tamper")
    assert (rows[-1]["person_id"], rows[-1]["type"]) == ("WC0006", "low_battery")


def test_a_store_from_before_the_route_table_fills_it_when_opened(tmp_path):
    store = Store(tmp_path / "old.db", durable=False)
    many = fill(store, 60)
    store.close()
    with sqlite3.connect(tmp_path / "old.db") as c:  # as written by a version without alert_routes
        c.execute("DELETE FROM alert_routes")
    again = Store(tmp_path / "old.db", durable=False)
    try:
        routed = AlertQuery(routed_to=frozenset({"wc-zh-01"}), of_offices=frozenset())
        page = again.alerts.triage(routed, "wc-zh-01")
        assert [a["alert_id"] for a in page.alerts] == [many["needle"]["alert_id"]]
        mine = AlertQuery(routed_to=frozenset({"wc-jn-01"}), of_offices=frozenset())
        assert again.alerts.triage(mine, "x").total == sum(
            r["officer_id"] == "wc-jn-01" for r in many["records"])
    finally:
        again.close()
