"""`lookout admin` against a real HTTP server in front of the live runtime."""

from __future__ import annotations

import json

import pytest
from feed.kit import serve

from alerts.timefmt import rfc3339
from stream.cli import main
from stream.service import create_app

from .kit import now_ms, password


@pytest.fixture
def admin(runtime, capsys):
    with serve(create_app(runtime)) as base:
        def run(*argv, user="adm"):
            code = main(["admin", "--url", base, "--user", user, "--password", password(user),
                         *argv])
            out, err = capsys.readouterr()
            return code, (json.loads(out) if code == 0 and out.strip() else out), err

        yield run


def test_daily_tasks_from_the_command_line(admin, runtime, bundle_dir, tmp_path):
    start, end = rfc3339(now_ms() + 3_600_000), rfc3339(now_ms() + 7_200_000)
    code, out, _ = admin("permits", "add", "--person", "P1", "--start", start, "--end", end,
                         "--destination", "杭州")
    assert code == 0 and out["after"]["destination"] == "杭州"
    permit_id = out["target"]
    code, out, _ = admin("permits", "list", "--person", "P1", user="sup1")
    assert code == 0 and [p["permit_id"] for p in out["permits"]] == [permit_id]
    assert admin("permits", "revoke", "--id", permit_id, user="sup1")[0] == 0

    code, out, _ = admin("persons", "add", "--id", "P7", "--name", "赵七", "--office", "office-1",
                         "--officer", "w1", "--zones", "home", "--risk", "high")
    assert code == 0 and "P7" in runtime.engine.person_index
    assert admin("persons", "update", "--id", "P7", "--officer", "duty1", "--clear", "risk")[0] == 0
    assert [p.officer_id for p in runtime.bundle.persons if p.person_id == "P7"] == ["duty1"]
    assert admin("persons", "release", "--id", "P7", "--reason", "期满")[0] == 0
    assert "P7" not in runtime.engine.person_index

    code, out, _ = admin("shifts", "set", "--officer", "w1", "--days", "1-5", "--start", "08:30",
                         "--end", "17:30", "--window", "6,7 09:00-12:00")
    assert code == 0 and [(w["days"], w["start"]) for w in out["after"]] == [
        ([1, 2, 3, 4, 5], "08:30"), ([6, 7], "09:00")]

    feature = tmp_path / "bar.geojson"
    feature.write_text(json.dumps({"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [120.03, 30.0]}, "properties": {
        "zone_id": "bar", "name": "酒吧", "kind": "exclusion", "radius_m": 80}},
        ensure_ascii=False), encoding="utf-8")
    assert admin("zones", "add", "--file", str(feature))[0] == 0
    code, out, _ = admin("zones", "update", "--file", str(feature))
    assert code == 0 and out["changed"] is False  # the same feature: nothing to do
    feature.write_text(feature.read_text(encoding="utf-8").replace('"radius_m": 80',
                                                                   '"radius_m": 90'))
    code, out, _ = admin("zones", "update", "--file", str(feature))
    assert code == 0 and out["changed"] is True and out["before"]["properties"]["radius_m"] == 80
    code, out, _ = admin("zones", "list")
    assert [z["zone_id"] for z in out["zones"]] == ["home", "bar"]
    assert admin("zones", "remove", "--id", "bar")[0] == 0

    code, out, _ = admin("audit", "--limit", "50")
    whats = [a["what"] for a in out["audit"]]
    for what in ("permits.add", "permits.revoke", "persons.add", "persons.update",
                 "persons.release", "shifts.set", "zones.add", "zones.update", "zones.remove"):
        assert what in whats, what


def test_refusals_exit_2_with_the_loaders_message_or_1(admin, bundle_dir):
    code, _, err = admin("permits", "add", "--person", "P1", "--start", "tomorrow",
                         "--end", "2030-01-01T00:00:00+08:00")
    assert code == 2
    assert "permits.jsonl:line 2: start: must be an RFC 3339 time" in err
    assert "部署包校验未通过" in err
    code, _, err = admin("persons", "release", "--id", "P404")
    assert code == 2 and "no such person" in err
    code, _, err = admin("persons", "add", "--id", "P8", "--office", "office-1", "--officer", "w1",
                         user="w1")
    assert code == 1 and "403" in err
    code = main(["admin", "--url", "http://127.0.0.1:9", "--user", "adm", "--password", "x",
                 "zones", "list"])
    assert code == 1
    with pytest.raises(SystemExit) as e:
        admin("shifts", "set", "--officer", "w1", "--days", "weekdays")
    assert e.value.code == 2


def test_passwords_online_and_for_the_first_admin(admin, runtime, client, tmp_path):
    code, out, err = admin("password", "--officer", "w2", "--new-password", "a-new-password-2")
    assert code == 0, err
    r = client.post("/v1/login", json={"officer_id": "w2", "password": "a-new-password-2"})
    assert r.status_code == 200
    assert admin("password", "--officer", "w2", "--new-password", "short")[0] == 2
    assert admin("password", "--officer", "nobody", "--new-password", "long-enough-1")[0] == 2
    assert admin("password", "--officer", "w1", "--new-password", "long-enough-1",
                 user="sup1")[0] == 1
    entry = next(a for a in runtime.store.audits.audit_log() if a["what"] == "officers.password")
    assert entry["target"] == "w2" and "a-new-password" not in json.dumps(entry)

    # the first admin of a new store: written on the server, no login needed
    db = tmp_path / "new.db"
    db.write_bytes(b"")
    assert main(["admin", "password", "--db", str(db), "--officer", "adm",
                 "--new-password", "first-admin-pw"]) == 0
    from alerts.feed.access import Access
    from config.model import OfficerSpec

    access = Access(db, lambda oid: OfficerSpec(oid, oid, "hq", "admin"))
    assert access.login("adm", "first-admin-pw").officer.officer_id == "adm"


def test_a_rota_that_leaves_hours_uncovered_is_warned_about(admin, runtime):
    code, out, err = admin("shifts", "set", "--officer", "w1", "--days", "1-5", "--start",
                           "08:30", "--end", "17:30")
    assert code == 0 and out["coverage_gaps"] == [] and err == ""  # duty1 has no rota: always on
    code, out, err = admin("shifts", "set", "--officer", "duty1", "--days", "1-7", "--start",
                           "08:00", "--end", "22:00")
    assert code == 0
    (gap,) = out["coverage_gaps"]
    assert (gap["office_id"], gap["need"], gap["hours_a_week"]) == ("office-1", "alert", 70)
    assert "warning 警告: 值班空档 coverage gap: office-1: 无人值班" in err
    assert "每天 22:00–08:00（每周 70 小时）" in err and "daily 22:00–08:00 (70 h a week)" in err
    code, out, err = admin("shifts", "list")
    assert code == 0 and [g["office_id"] for g in out["coverage_gaps"]] == ["office-1"]
    assert "office-1" in err
    # and the running service's metric follows the bundle it now runs on
    exposed = runtime.metrics.render().decode()
    assert ('lookout_coverage_gap_hours{need="alert",office="office-1",office_name="office-1"} '
            '70.0') in exposed
    # a night desk closes the gap
    code, out, err = admin("shifts", "set", "--officer", "w1", "--days", "1-7", "--start",
                           "22:00", "--end", "08:00")
    assert code == 0 and out["coverage_gaps"] == [] and err == ""


def test_phone_and_address_are_set_and_cleared_like_any_field(admin, runtime):
    code, out, _ = admin("persons", "update", "--id", "P1", "--phone", "13905791037",
                         "--address", "金华市婺城区清风路10号")
    assert code == 0 and out["after"]["phone"] == "13905791037"
    (p1,) = [p for p in runtime.bundle.persons if p.person_id == "P1"]
    assert (p1.phone, p1.address) == ("13905791037", "金华市婺城区清风路10号")
    code, _, err = admin("persons", "update", "--id", "P1", "--phone", "1" * 40)
    assert code == 2 and "persons.jsonl:line 1: phone: must be a phone number" in err
    assert admin("persons", "update", "--id", "P1", "--clear", "phone")[0] == 0
    (p1,) = [p for p in runtime.bundle.persons if p.person_id == "P1"]
    assert (p1.phone, p1.address) == (None, "金华市婺城区清风路10号")
