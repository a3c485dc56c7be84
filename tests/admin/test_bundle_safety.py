"""Changes that would leave the service unable to supervise are refused, with a reason in 中文
and English, and nothing is written: no admin left, or an office with persons and no officer.
The same rule holds for hand edits taken up by reload and for edits through the API."""

from __future__ import annotations

import json

import pytest

from alerts.admin.safety import UnsafeChange

from .kit import fix, now_ms, settled


def _write_officers(bundle_dir, officers) -> str:
    text = json.dumps({"officers": officers}, ensure_ascii=False)
    (bundle_dir / "officers.json").write_text(text, encoding="utf-8")
    return text


def _officers(bundle_dir) -> list[dict]:
    return json.loads((bundle_dir / "officers.json").read_text(encoding="utf-8"))["officers"]


def test_a_reload_of_an_officers_json_with_no_officers_is_refused_and_logins_still_work(
        client, login, runtime, bundle_dir):
    adm = login("adm")
    running = runtime.bundle_texts["officers.json"]
    _write_officers(bundle_dir, [])
    r = client.post("/v1/admin/reload", headers=adm)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail["code"] == "unsafe_change"
    assert "admin" in detail["en"] and "系统管理员" in detail["zh"]
    assert detail["file"] == "officers.json"
    assert runtime.bundle_texts["officers.json"] == running  # still runs on the old one
    assert {o.officer_id for o in runtime.bundle.officers} >= {"adm", "w1", "w2"}
    # everyone can still log in, and the admin's session goes on
    assert client.get("/v1/me", headers=adm).status_code == 200
    assert client.post("/v1/login", json={"officer_id": "w1", "password": "pw-w1-secret"}
                       ).status_code == 200


def test_a_reload_that_drops_the_only_admin_is_refused(client, login, runtime, bundle_dir):
    adm = login("adm")
    _write_officers(bundle_dir, [o for o in _officers(bundle_dir) if o["role"] != "admin"])
    r = client.post("/v1/admin/reload", headers=adm)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["field"] == "officers"
    assert any(o.role == "admin" for o in runtime.bundle.officers)


def test_a_reload_that_leaves_an_office_with_persons_and_no_officer_is_refused(
        client, login, runtime, bundle_dir):
    adm = login("adm")
    # office-2 has P3; w2 is its only officer
    _write_officers(bundle_dir, [o for o in _officers(bundle_dir) if o["officer_id"] != "w2"])
    r = client.post("/v1/admin/reload", headers=adm)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "office-2" in detail["en"] and "office-2" in detail["zh"]
    assert "没有工作人员" in detail["zh"]
    assert "w2" in {o.officer_id for o in runtime.bundle.officers}
    # a second officer in office-2 first: then w2 may go
    officers = _officers(bundle_dir)
    officers.append({"officer_id": "w3", "name": "新民警", "office_id": "office-2",
                     "role": "officer"})
    _write_officers(bundle_dir, officers)
    assert client.post("/v1/admin/reload", headers=adm).status_code == 200
    _write_officers(bundle_dir, [o for o in _officers(bundle_dir) if o["officer_id"] != "w2"])
    assert client.post("/v1/admin/reload", headers=adm).status_code == 200
    assert "w2" not in {o.officer_id for o in runtime.bundle.officers}


def test_an_api_edit_that_enrols_a_person_in_an_office_without_officers_is_refused(
        client, login, runtime, bundle_dir):
    adm = login("adm")
    before = (bundle_dir / "persons.jsonl").read_bytes()
    r = client.post("/v1/admin/persons", headers=adm, json={
        "person_id": "P9", "name": "赵九", "office_id": "office-9", "officer_id": "w1",
        "zones": ["home"]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "unsafe_change"
    assert (bundle_dir / "persons.jsonl").read_bytes() == before  # nothing written
    assert "P9" not in {p.person_id for p in runtime.bundle.persons}


def test_the_runtime_refuses_it_too_without_the_http_api(runtime, bundle_dir):
    _write_officers(bundle_dir, [])
    with pytest.raises(UnsafeChange):
        runtime.reload()
    runtime.submit_events([fix("P1", now_ms())])
    settled(runtime)
    assert runtime.alive
