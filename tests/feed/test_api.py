"""The feed's HTTP API against a fake runtime holding real engine alerts in two offices:
城东 (office A: wc-cd-*) and 江南 (office B: wc-jn-*)."""

from __future__ import annotations

import pytest

from alerts.feed.access import demo_password


def ids(resp) -> set[str]:
    assert resp.status_code == 200, resp.text
    return {a["alert_id"] for a in resp.json()["alerts"]}


# -- login ------------------------------------------------------------------------------------


def test_login_me_logout(client):
    r = client.post("/v1/login", json={"officer_id": "wc-cd-01", "password": demo_password("wc-cd-01")})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "bearer" and body["me"]["officer"]["name"] == "叶晓琳"
    auth = {"Authorization": f"Bearer {body['token']}"}
    me = client.get("/v1/me", headers=auth).json()
    assert me["officer"]["role"] == "officer" and me["offices"] == ["wucheng-chengdong"]
    assert not me["sees_everything"]
    assert client.post("/v1/logout", headers=auth).status_code == 204
    assert client.get("/v1/me", headers=auth).status_code == 401


def test_bad_password_unknown_officer_and_no_token(client):
    for body in ({"officer_id": "wc-cd-01", "password": "wrong-password"},
                 {"officer_id": "no-such-officer", "password": "wrong-password"}):
        r = client.post("/v1/login", json=body)
        assert r.status_code == 401
        assert r.json()["detail"] == {"code": "bad_credentials", "zh": "工号或密码错误",
                                      "en": "wrong officer id or password"}
    r = client.get("/v1/alerts")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/alerts", headers={"Authorization": "Bearer forged"}).status_code == 401


def test_too_many_wrong_passwords_lock_the_login(client):
    for _ in range(5):
        assert client.post("/v1/login", json={"officer_id": "wc-cd-01", "password": "guess-guess"}).status_code == 401
    r = client.post("/v1/login", json={"officer_id": "wc-cd-01", "password": demo_password("wc-cd-01")})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "zh" in r.json()["detail"]


def test_sessions_expire_after_twelve_hours(client, login, clock):
    auth = login("wc-cd-01")
    clock.t += 12 * 3600 - 1
    assert client.get("/v1/me", headers=auth).status_code == 200
    clock.t += 1
    assert client.get("/v1/me", headers=auth).status_code == 401
    assert client.get("/v1/alerts", headers=auth).status_code == 401


def test_a_token_in_the_query_is_only_for_the_stream(client, login):
    token = login("wc-cd-01")["Authorization"].split()[1]
    assert client.get(f"/v1/alerts?token={token}").status_code == 401


# -- scope: list ------------------------------------------------------------------------------


def test_each_role_lists_exactly_its_scope(client, login, day):
    a_real = {day[k]["alert_id"] for k in ("a_tamper", "a_off", "a_duty")}
    b_real = {day[k]["alert_id"] for k in ("b_enter", "b_tamper")}
    # an officer: routed to them, or to their office's duty officer
    assert ids(client.get("/v1/alerts", headers=login("wc-cd-01"))) == {
        day["a_off"]["alert_id"], day["a_duty"]["alert_id"]}
    assert ids(client.get("/v1/alerts", headers=login("wc-cd-02"))) == {
        day["a_tamper"]["alert_id"], day["a_duty"]["alert_id"]}
    assert ids(client.get("/v1/alerts", headers=login("wc-jn-01"))) == {day["b_tamper"]["alert_id"]}
    # duty: the whole office; the supervisor: every office under them
    assert ids(client.get("/v1/alerts", headers=login("wc-cd-duty"))) == a_real
    assert ids(client.get("/v1/alerts", headers=login("wc-zh-01"))) == a_real | b_real
    # the centre's night desk answers for every office under it, persons included
    night = login("wc-zh-night")
    assert ids(client.get("/v1/alerts", headers=night)) == a_real | b_real
    assert client.get("/v1/persons/WC0011", headers=night).status_code == 200
    assert client.get("/v1/me", headers=night).json()["offices"] == [
        "wucheng-chengdong", "wucheng-jiangnan", "wucheng-xiguan", "wucheng-zhihui"]


def test_feed_down_is_for_the_admin(client, login, day, runtime):
    (down,) = runtime.feed_down("2026-11-23T17:36:00+08:00")
    admin = ids(client.get("/v1/alerts", headers=login("ops-admin")))
    assert down["alert_id"] in admin and day["b_enter"]["alert_id"] in admin
    for officer in ("wc-cd-01", "wc-cd-duty", "wc-zh-01"):
        assert down["alert_id"] not in ids(client.get("/v1/alerts", headers=login(officer)))
    assert client.get(f"/v1/alerts/{down['alert_id']}", headers=login("wc-zh-01")).status_code == 404


def test_office_filter_cannot_widen_the_scope(client, login, day):
    b = login("wc-jn-01")
    assert ids(client.get("/v1/alerts?office=wucheng-chengdong", headers=b)) == set()
    sup = login("wc-zh-01")
    assert ids(client.get("/v1/alerts?office=wucheng-jiangnan", headers=sup)) == {
        day["b_enter"]["alert_id"], day["b_tamper"]["alert_id"]}
    assert ids(client.get("/v1/alerts?type=tamper&office=wucheng-chengdong", headers=sup)) == {
        day["a_tamper"]["alert_id"]}


def test_drill_alerts_only_in_the_drill_view(client, login, day):
    auth = login("wc-cd-02")
    assert day["a_drill"]["alert_id"] not in ids(client.get("/v1/alerts", headers=auth))
    r = client.get("/v1/alerts?drill=true", headers=auth)
    assert ids(r) == {day["a_drill"]["alert_id"]} and r.json()["drill"] is True
    assert r.json()["alerts"][0]["message"]["zh"].startswith("【演练】")


def test_list_rows_carry_names_for_the_page(client, login, day):
    (row,) = [a for a in client.get("/v1/alerts", headers=login("wc-jn-01")).json()["alerts"]]
    assert row["person_name"] == "赵文斌" and row["office_id"] == "wucheng-jiangnan"
    assert row["type"] == "tamper" and row["severity"] == "critical"
    # 17:15, escalated at 17:20 (critical) to the officer's 值班长
    assert [(s["officer_id"], s["name"]) for s in row["route"]] == [
        ("wc-jn-01", "潘志强"), ("wc-zh-01", "金卫东")]
    assert (row["office_name"], row["officer_name"]) == ("江南司法所", "金卫东")


def test_names_on_routes_and_resolutions_stay_out_of_the_records(client, login, day, runtime):
    aid = day["a_duty"]["alert_id"]  # 17:35, after the officers' shift: the office's duty
    auth = login("wc-cd-duty")
    r = client.post(f"/v1/alerts/{aid}/resolve", headers=auth,
                    json={"disposition": "device_fault", "note": "电池耗尽"})
    assert r.status_code == 200, r.text
    alert = r.json()["alert"]
    assert alert["route"][0] | {"at": None} == {
        "officer_id": "wc-cd-duty", "name": "汪丽华", "role": "duty",
        "reason": "officer_off_shift", "at": None}
    assert alert["resolution"]["by"] == "wc-cd-duty" and alert["resolution"]["by_name"] == "汪丽华"
    # the engine's record (SPEC §4) keeps ids only
    record = runtime.store.alerts.latest(aid)
    assert "name" not in record["route"][0] and "by_name" not in record["resolution"]
    assert "office_name" not in record


def test_me_names_the_offices(client, login):
    me = client.get("/v1/me", headers=login("wc-cd-01")).json()
    assert me["officer"]["office_name"] == "城东司法所"
    assert me["officer"]["phone"] == "0579-82310201"
    assert me["office_list"] == [{"office_id": "wucheng-chengdong", "name": "城东司法所",
                                  "parent_id": "wucheng-zhihui"}]


# -- scope: every endpoint by id --------------------------------------------------------------


def test_office_b_cannot_read_stream_or_act_on_office_a_by_id(client, login, day, runtime):
    b = login("wc-jn-01")
    missing = client.get("/v1/alerts/al-does-not-exist", headers=b)
    assert missing.status_code == 404
    for key in ("a_tamper", "a_off", "a_duty", "a_drill"):
        aid = day[key]["alert_id"]
        for resp in (
            client.get(f"/v1/alerts/{aid}", headers=b),
            client.post(f"/v1/alerts/{aid}/acknowledge", headers=b),
            client.post(f"/v1/alerts/{aid}/resolve", headers=b,
                        json={"disposition": "false_alarm", "note": "x"}),
        ):
            assert resp.status_code == 404
            assert resp.json() == missing.json()  # indistinguishable from a made-up id
    for pid in ("WC0001", "WC0002", "WC0004"):
        r = client.get(f"/v1/persons/{pid}/track", headers=b)
        assert r.status_code == 404
    assert {p["person_id"] for p in client.get("/v1/persons", headers=b).json()} == {
        f"WC{n:04d}" for n in range(8, 15)}
    # nothing changed in office A, and nobody's track was read
    assert runtime.store.alerts.latest(day["a_tamper"]["alert_id"])["handling"] == "new"
    assert [e for e in runtime.audits() if e["what"] in ("read_track", "acknowledge", "resolve")] == []


def test_an_officer_does_not_see_a_colleagues_alerts(client, login, day):
    aid = day["a_tamper"]["alert_id"]  # routed to wc-cd-02
    assert client.get(f"/v1/alerts/{aid}", headers=login("wc-cd-01")).status_code == 404
    assert client.get(f"/v1/alerts/{aid}", headers=login("wc-cd-duty")).status_code == 200


# -- detail, track and audit ------------------------------------------------------------------


def test_detail_has_history_zone_and_track_and_reading_it_is_audited(client, login, day, runtime):
    aid = day["b_enter"]["alert_id"]
    r = client.get(f"/v1/alerts/{aid}", headers=login("wc-jn-02"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["alert"]["alert_id"] == aid and d["alert"]["zone_name"].startswith("被害人住所")
    assert [v["version"] for v in d["history"]] == sorted(v["version"] for v in d["history"])
    assert d["history"][-1]["version"] == d["alert"]["version"]
    zone = d["zone"]
    assert zone["properties"]["zone_id"] == "victim-home-wc0011" and zone["geometry"]["type"] == "Polygon"
    ring = zone["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    # a 200 m circle around (119.612, 29.073), WGS-84
    assert 119.609 < min(lons) < 119.611 and 119.613 < max(lons) < 119.615
    assert 29.071 < min(lats) < 29.0715 and 29.0745 < max(lats) < 29.075
    assert [p["lon"] for p in d["track"]["points"]] == pytest.approx([119.616, 119.614, 119.6123])
    (entry,) = [e for e in runtime.audits() if e["what"] == "read_track"]
    assert entry["who"] == "wc-jn-02" and entry["target"] == "WC0011"
    assert entry["after"]["alert_id"] == aid and entry["after"]["points"] == 3
    assert entry["before"] is None and entry["at"] > 0


def test_person_track_is_audited(client, login, day, runtime):
    r = client.get("/v1/persons/WC0011/track?since_ms=0&until_ms=9999999999999", headers=login("wc-jn-01"))
    assert r.status_code == 200 and len(r.json()["points"]) == 3
    assert runtime.audits()[-1]["what"] == "read_track" and runtime.audits()[-1]["who"] == "wc-jn-01"


def test_acknowledge_goes_through_the_engine_and_is_audited(client, login, day, runtime):
    aid = day["a_duty"]["alert_id"]
    auth = login("wc-cd-01")  # the office's duty alert: the officer may take it
    r = client.post(f"/v1/alerts/{aid}/acknowledge", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["changed"] and r.json()["alert"]["handling"] == "acknowledged"
    assert runtime.store.alerts.latest(aid)["handling"] == "acknowledged"
    entry = runtime.audits()[-1]
    assert (entry["who"], entry["what"], entry["target"]) == ("wc-cd-01", "acknowledge", aid)
    assert entry["before"]["handling"] == "new" and entry["after"]["handling"] == "acknowledged"
    assert entry["after"]["version"] == entry["before"]["version"] + 1
    again = client.post(f"/v1/alerts/{aid}/acknowledge", headers=auth)
    assert again.status_code == 200 and not again.json()["changed"]


def test_tamper_cannot_be_resolved_without_a_note(client, login, day, runtime):
    aid = day["a_tamper"]["alert_id"]
    auth = login("wc-cd-02")
    for note in ("", "   "):
        r = client.post(f"/v1/alerts/{aid}/resolve", headers=auth,
                        json={"disposition": "device_fault", "note": note})
        assert r.status_code == 422
        assert r.json()["detail"]["code"] == "note_required"
        assert "防拆报警" in r.json()["detail"]["zh"] and "note" in r.json()["detail"]["en"]
    assert runtime.store.alerts.latest(aid)["handling"] == "new"
    assert runtime.audits()[-1]["after"] == {"refused": "note_required"}
    r = client.post(f"/v1/alerts/{aid}/resolve", headers=auth,
                    json={"disposition": "device_fault", "note": "腕带松脱，已上门复位"})
    assert r.status_code == 200, r.text
    rec = r.json()["alert"]
    assert rec["handling"] == "resolved" and rec["resolution"]["note"] == "腕带松脱，已上门复位"
    assert rec["resolution"]["by"] == "wc-cd-02" and rec["resolution"]["disposition"] == "device_fault"
    entry = runtime.audits()[-1]
    assert entry["what"] == "resolve" and entry["before"]["resolution"] is None
    assert entry["after"]["resolution"]["disposition"] == "device_fault"


def test_other_alerts_resolve_without_a_note(client, login, day, runtime):
    aid = day["a_off"]["alert_id"]
    r = client.post(f"/v1/alerts/{aid}/resolve", headers=login("wc-cd-01"),
                    json={"disposition": "other", "note": "  "})
    assert r.status_code == 200, r.text
    rec = r.json()["alert"]
    assert rec["handling"] == "resolved" and rec["resolution"]["note"] == ""
    assert runtime.store.alerts.latest(aid)["handling"] == "resolved"


def test_resolve_rejects_unknown_dispositions_and_the_engine_refusals_are_bilingual(client, login, day, runtime):
    aid = day["a_off"]["alert_id"]
    auth = login("wc-cd-01")
    assert client.post(f"/v1/alerts/{aid}/resolve", headers=auth,
                       json={"disposition": "lost_interest"}).status_code == 422

    def refuse(action):
        from alerts.actions import ActionError

        raise ActionError("invalid_field", "note: must be a non-empty string")

    runtime.submit_action = refuse
    r = client.post(f"/v1/alerts/{aid}/resolve", headers=auth, json={"disposition": "other"})
    assert r.status_code == 422 and set(r.json()["detail"]) == {"code", "zh", "en"}
    assert runtime.audits()[-1]["after"] == {"refused": "invalid_field"}


def test_drill_alerts_can_be_acknowledged_in_the_drill_view(client, login, day, runtime):
    aid = day["a_drill"]["alert_id"]
    r = client.post(f"/v1/alerts/{aid}/acknowledge", headers=login("wc-cd-02"))
    assert r.status_code == 200 and r.json()["alert"]["drill"] is True
    assert r.json()["alert"]["handling"] == "acknowledged"


# -- the page and the description -------------------------------------------------------------


def test_the_page_and_its_files_are_served_with_a_strict_policy(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert 'src="/assets/app.js"' in r.text
    for name in ("app.js", "app.css", "map.js", "i18n.js", "core.js", "list.js", "detail.js",
                 "attention.js", "bulk.js"):
        assert client.get(f"/assets/{name}").status_code == 200
    assert client.get("/assets/..%2Fapi.py").status_code == 404
    assert client.get("/assets/nope.js").status_code == 404


def test_openapi_describes_the_endpoints(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/login", "/v1/me", "/v1/alerts", "/v1/alerts/{alert_id}",
                 "/v1/alerts/{alert_id}/acknowledge", "/v1/alerts/{alert_id}/resolve",
                 "/v1/alerts/bulk", "/v1/stream", "/v1/persons/{person_id}/track"):
        assert path in spec["paths"], path
    assert {"AlertDetail", "AlertList", "BulkBody", "BulkResult"} <= set(spec["components"]["schemas"])
    assert "/" not in spec["paths"]


def test_words_follow_the_spec(client):
    w = client.get("/v1/words").json()
    assert w["types"]["zone_exit"] == {"zh": "越界（离开活动区域）", "en": "left permitted area"}
    assert w["actions"]["acknowledge"]["zh"] == "签收" and w["actions"]["resolve"]["zh"] == "处置"
    assert w["dispositions"]["authorized"]["zh"] == "已批准外出"
    assert w["handling"]["acknowledged"] == {"zh": "已签收", "en": "acknowledged"}
    assert w["other"]["drill"] == {"zh": "演练", "en": "drill"}


def test_a_drill_alert_shows_the_drills_track_only(client, login, day, runtime):
    from .kit import fix

    runtime.feed(fix("WC0003", "17:17", 119.65, 29.09, drill=True))
    runtime.feed(fix("WC0003", "17:18", 119.60, 29.05))  # real life goes on meanwhile
    d = client.get(f"/v1/alerts/{day['a_drill']['alert_id']}", headers=login("wc-cd-02")).json()
    assert [(p["lon"], p["lat"]) for p in d["track"]["points"]] == [(119.65, 29.09)]
    assert runtime.audits()[-1]["after"]["drill"] is True
