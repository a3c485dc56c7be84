"""/v1/admin/... against the live runtime: changes take effect without a restart, are
audited, refuse the wrong roles, and bad input comes back as the loader's file:line:field."""

from __future__ import annotations

import json

from alerts.timefmt import rfc3339

from .kit import fix, leaving, now_ms, outside, settled, wait_for


def zone_exits(rt, pid):
    return [a for a in rt.store.alerts.list_alerts(types={"zone_exit"}) if a["person_id"] == pid]


def test_a_permit_added_through_the_api_suppresses_the_next_boundary_alert(
        client, login, runtime, bundle_dir):
    adm = login("adm")
    t = now_ms() - 60_000
    r = client.post("/v1/admin/permits", headers=adm, json={
        "person_id": "P1", "start": rfc3339(t - 60_000), "end": rfc3339(now_ms() + 3_600_000),
        "destination": "杭州（就医）"})
    assert r.status_code == 201, r.text
    permit_id = r.json()["target"]
    assert permit_id.startswith("QJ-") and r.json()["after"]["destination"] == "杭州（就医）"
    assert permit_id in (bundle_dir / "permits.jsonl").read_text(encoding="utf-8")
    # no restart: the running engine has it
    assert any(p.permit_id == permit_id for p in runtime.bundle.permits)

    runtime.submit_events([*leaving("P1", t),  # on leave: nothing
                           *leaving("P2", t)])  # the control: 越界
    wait_for(lambda: zone_exits(runtime, "P2"))
    settled(runtime)
    assert zone_exits(runtime, "P1") == []

    # revoked: the zone applies again, and the person still away raises it
    r = client.post(f"/v1/admin/permits/{permit_id}/revoke", headers=adm, json={})
    assert r.status_code == 200, r.text
    assert r.json()["after"]["revoked_at"]
    later = now_ms()
    runtime.submit_events([*leaving("P1", later)])
    wait_for(lambda: zone_exits(runtime, "P1"))


def test_a_released_person_stops_raising_alerts_and_their_open_alert_stays(
        client, login, runtime, bundle_dir):
    t = now_ms() - 60_000
    runtime.submit_events([*leaving("P3", t)])
    [alert] = wait_for(lambda: zone_exits(runtime, "P3"))

    r = client.post("/v1/admin/persons/P3/release", headers=login("adm"),
                    json={"reason": "期满解矫"})
    assert r.status_code == 200, r.text
    assert r.json()["before"]["person"]["person_id"] == "P3"
    assert [p["permit_id"] for p in r.json()["before"]["permits"]] == ["QJ-P3"]  # went with them
    assert "P3" not in (bundle_dir / "persons.jsonl").read_text(encoding="utf-8")
    assert "QJ-P3" not in (bundle_dir / "permits.jsonl").read_text(encoding="utf-8")

    # no longer supervised: their events are refused, and nothing new opens
    accepted, rejected = runtime.submit_events([fix("P3", t + 2), outside("P3", t + 3)])
    assert (accepted, rejected) == (0, {"unknown_person": 2})
    settled(runtime)
    assert [a["alert_id"] for a in runtime.store.alerts.list_alerts()] == [alert["alert_id"]]

    # their office still sees the open alert, with the name, and can close the case
    w2 = login("w2")
    listed = client.get("/v1/alerts", headers=w2).json()["alerts"]
    assert [(a["alert_id"], a["person_name"], a["office_id"]) for a in listed] == [
        (alert["alert_id"], "王三", "office-2")]
    sup2 = login("sup2")
    assert client.get("/v1/alerts", headers=sup2).json()["alerts"][0]["alert_id"] == alert["alert_id"]
    r = client.post(f"/v1/alerts/{alert['alert_id']}/resolve", headers=w2,
                    json={"disposition": "other", "note": "已解除矫正"})
    assert r.status_code == 200 and r.json()["alert"]["handling"] == "resolved", r.text
    assert runtime.store.alerts.list_alerts(office_ids={"office-2"})[0]["handling"] == "resolved"
    # and it is still counted as their office's in the shift summary
    s = client.get("/v1/summary", params={"format": "json", "from": t - 60_000},
                   headers=sup2).json()
    assert [(a["alert_id"], a["office_id"], a["person_name"]) for a in s["alerts"]] == [
        (alert["alert_id"], "office-2", "王三")]
    person = client.get("/v1/persons/P3", headers=sup2).json()
    assert person["released"] is True and person["status"] is None
    assert client.get("/v1/persons/P3", headers=login("sup1")).status_code == 404

    # enrolled again later: supervised again
    r = client.post("/v1/admin/persons", headers=login("adm"), json={
        "person_id": "P3", "name": "王三", "office_id": "office-2", "officer_id": "w2",
        "zones": ["home"]})
    assert r.status_code == 201, r.text
    assert runtime.submit_events([fix("P3", now_ms())]) == (1, {})
    assert "P3" not in runtime.former_persons


def test_admin_endpoints_refuse_everyone_but_admins(client, login):
    permit = {"person_id": "P1", "start": "2030-01-01T08:00:00+08:00",
              "end": "2030-01-01T18:00:00+08:00"}
    person = {"person_id": "P9", "office_id": "office-1", "officer_id": "w1"}
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120, 30]},
               "properties": {"zone_id": "z9", "kind": "exclusion", "radius_m": 50}}
    calls = [("post", "/v1/admin/persons", person), ("patch", "/v1/admin/persons/P1", {"risk": "high"}),
             ("post", "/v1/admin/persons/P1/release", {}), ("get", "/v1/admin/persons", None),
             ("post", "/v1/admin/zones", feature), ("delete", "/v1/admin/zones/home", None),
             ("put", "/v1/admin/shifts/w1", {"shifts": []}), ("get", "/v1/admin/audit", None),
             ("post", "/v1/admin/purge", None),
             ("put", "/v1/admin/officers/w1/password", {"password": "new-password-1"})]
    for user in ("w1", "duty1", "sup1"):
        headers = login(user)
        for method, path, body in calls:
            kw = {"json": body} if body is not None else {}
            r = client.request(method.upper(), path, headers=headers, **kw)
            assert r.status_code == 403, (user, path, r.text)
            assert r.json()["detail"]["code"] == "forbidden"
    for user in ("w1", "duty1"):  # permits: supervisors and admins only
        r = client.post("/v1/admin/permits", headers=login(user), json=permit)
        assert r.status_code == 403, r.text
        assert client.get("/v1/admin/permits", headers=login(user)).status_code == 403
    for method, path, body in calls:
        r = client.request(method.upper(), path, **({"json": body} if body else {}))
        assert r.status_code == 401, path

    # a supervisor approves leave for their own offices, and nobody else's exist for them
    sup1 = login("sup1")
    assert client.post("/v1/admin/permits", headers=sup1, json=permit).status_code == 201
    r = client.post("/v1/admin/permits", headers=sup1, json={**permit, "person_id": "P3"})
    assert r.status_code == 404
    assert client.post("/v1/admin/permits/QJ-P3/revoke", headers=sup1, json={}).status_code == 404
    listed = client.get("/v1/admin/permits", headers=sup1).json()["permits"]
    assert {p["person_id"] for p in listed} == {"P1"}
    assert {p["person_id"] for p in client.get("/v1/admin/permits", headers=login("sup2"))
            .json()["permits"]} == {"P3"}


def test_bad_input_comes_back_as_the_loaders_message_and_nothing_changes(
        client, login, runtime, bundle_dir):
    adm = login("adm")
    before = {p.name: p.read_bytes() for p in bundle_dir.iterdir()}
    bundle = runtime.bundle

    def refused(method, path, body):
        r = client.request(method, path, headers=adm, json=body)
        assert r.status_code == 422, r.text
        d = r.json()["detail"]
        assert d["code"] == "bad_bundle" and d["message"] in d["zh"] and d["message"] in d["en"]
        return d["message"]

    assert refused("POST", "/v1/admin/permits", {
        "person_id": "P1", "start": "2026-13-45 08:00", "end": "2030-01-01T18:00:00+08:00",
    }).startswith("permits.jsonl:line 2: start: must be an RFC 3339 time")
    assert refused("POST", "/v1/admin/permits", {
        "person_id": "P7", "start": "2030-01-01T08:00:00+08:00",
        "end": "2030-01-01T18:00:00+08:00"}) == \
        'permits.jsonl:line 2: person_id: unknown person "P7" (not in persons.jsonl)'
    assert refused("POST", "/v1/admin/persons", {
        "person_id": "P9", "office_id": "office-1", "officer_id": "w1", "zones": ["nowhere"]}) == \
        'persons.jsonl:line 4: zones[0]: unknown zone "nowhere" (not in zones.geojson)'
    assert refused("POST", "/v1/admin/persons", {
        "person_id": "P1", "office_id": "office-1", "officer_id": "w1"}) == \
        'persons.jsonl:line 4: person_id: duplicate "P1" (first used at line 1)'
    assert refused("PATCH", "/v1/admin/persons/P2", {"silence_timeout": 60}).startswith(
        "persons.jsonl:line 2: silence_timeout: unknown field")
    assert refused("DELETE", "/v1/admin/zones/home", None) == \
        'persons.jsonl:line 1: zones[0]: unknown zone "home" (not in zones.geojson)'
    assert refused("PUT", "/v1/admin/shifts/w1", {"shifts": [
        {"days": [1, 2, 3], "start": "25:00", "end": "17:30"}]}).startswith(
        "officers.json:shifts[0]: start: must be a time")
    assert refused("POST", "/v1/admin/zones", {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [120.0, 30.0]},
        "properties": {"zone_id": "bar", "kind": "exclusion"}}) == \
        "zones.geojson:feature #2: properties.radius_m: is required for a Point zone " \
        "(the circle's radius in metres)"

    # ids that do not exist are not the loader's business
    assert client.patch("/v1/admin/persons/P8", headers=adm, json={}).status_code == 404
    assert client.post("/v1/admin/permits/QJ-none/revoke", headers=adm, json={}).status_code == 404

    assert {p.name: p.read_bytes() for p in bundle_dir.iterdir()} == before
    assert runtime.bundle is bundle
    assert not [a for a in runtime.store.audits.audit_log() if a["what"].startswith(("permits", "persons",
                                                                            "zones", "shifts"))]


def test_changes_are_audited_with_before_and_after(client, login, runtime, bundle_dir):
    adm = login("adm")
    r = client.patch("/v1/admin/persons/P2", headers=adm, json={"risk": "high", "groups": ["夜归"]})
    assert r.status_code == 200, r.text
    assert runtime.engine.caseload.bundle.persons[1].risk == "high"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.03, 30.0]},
               "properties": {"zone_id": "bar", "name": "酒吧", "kind": "exclusion",
                              "radius_m": 100, "applies_to": {"groups": ["夜归"]}}}
    assert client.post("/v1/admin/zones", headers=adm, json=feature).status_code == 201
    feature["properties"]["radius_m"] = 150
    assert client.put("/v1/admin/zones/bar", headers=adm, json=feature).status_code == 200
    r = client.put("/v1/admin/shifts/w1", headers=adm, json={"shifts": [
        {"days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"}]})
    assert r.status_code == 200, r.text
    saturday_noon = 1795838400000  # 2026-11-28 12:00 +08:00
    assert not runtime.engine.caseload.router.on_shift("w1", saturday_noon)
    assert [z.radius_m for z in runtime.bundle.zones if z.zone_id == "bar"] == [150]

    # P2 walks into the new bar: the new zone is live
    t = now_ms() - 5_000
    runtime.submit_events([fix("P2", t, lon=120.03)])
    wait_for(lambda: runtime.store.alerts.list_alerts(types={"zone_enter"}))

    log = {a["what"]: a for a in runtime.store.audits.audit_log() if a["who"] == "adm"}
    assert set(log) >= {"persons.update", "zones.add", "zones.update", "shifts.set"}
    upd = log["persons.update"]
    assert (upd["target"], upd["before"]["risk"] if "risk" in upd["before"] else None,
            upd["after"]["risk"]) == ("P2", None, "high")
    assert log["zones.update"]["before"]["properties"]["radius_m"] == 100
    assert log["shifts.set"]["before"] == [] and log["shifts.set"]["after"][0]["start"] == "08:30"
    assert all(a["at"] > 0 for a in log.values())
    # the API reads the same log, for admins
    listed = client.get("/v1/admin/audit", headers=adm).json()["audit"]
    assert {"persons.update", "zones.update"} <= {a["what"] for a in listed}

    # officers.json keeps one officer or shift per line
    text = (bundle_dir / "officers.json").read_text(encoding="utf-8")
    assert '\n    {"officer_id": "w1", "days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"}' in text
    assert json.loads(text)["officers"][0]["officer_id"] == "adm"


def test_hand_edits_are_taken_up_by_reload(client, login, runtime, bundle_dir):
    adm = login("adm")
    path = bundle_dir / "officers.json"
    top = json.loads(path.read_text(encoding="utf-8"))
    top["officers"].append({"officer_id": "w3", "name": "新民警", "office_id": "office-2",
                            "role": "officer", "supervisor_id": "sup2"})
    path.write_text(json.dumps(top, ensure_ascii=False), encoding="utf-8")
    r = client.post("/v1/admin/reload", headers=adm)
    assert r.json() == {"what": "bundle.reload", "changed": True, "files": ["officers.json"]}
    assert client.put("/v1/admin/officers/w3/password", headers=adm,
                      json={"password": "w3-password"}).status_code == 204
    assert client.post("/v1/login", json={"officer_id": "w3", "password": "w3-password"}
                       ).status_code == 200
    assert client.post("/v1/admin/reload", headers=adm).json()["changed"] is False

    broken = path.read_text(encoding="utf-8").replace('"role": "officer"', '"role": "chief"', 1)
    path.write_text(broken, encoding="utf-8")
    r = client.post("/v1/admin/reload", headers=adm)
    assert r.status_code == 422
    assert r.json()["detail"]["message"].startswith("officers.json:officers[3]: role: must be")
    assert path.read_text(encoding="utf-8") == broken  # left for the editor to fix
    assert client.post("/v1/admin/reload", headers=login("sup1")).status_code == 403
    assert [a["what"] for a in runtime.store.audits.audit_log() if a["what"] == "bundle.reload"] == [
        "bundle.reload"]
