"""The shift summary read from the service's store: `lookout summary --db` and GET /v1/summary
give the figures counted by hand in tests/summary/fixture.py."""

from __future__ import annotations

import json
import sqlite3
import warnings

import pytest
from summary.fixture import (
    BUNDLE,
    END,
    START,
    VERSION_TIMES,
    at,
    login,
    ms,
    records,
    write_bundle,
)

from alerts.feed.access import set_password
from alerts.store import Action, StepCommit, Store
from alerts.store.schema import BY_MODE
from alerts.summary.cli import cli_summary
from alerts.summary.source import read_store
from stream.cli import main
from stream.live import LiveRuntime
from stream.service import create_app

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient

OFFICE = {p.person_id: p.office_id for p in BUNDLE.persons}.get


def old_alert() -> list[dict]:
    """Z1: opened, resolved and cleared the day before, all written then: it cannot matter to
    the period, so the store does not even read it."""
    v1 = {**records()[0], "alert_id": "Z1", "opened_at": at("07:00").replace("16T", "15T"),
          "last_event_at": at("07:00").replace("16T", "15T")}
    v2 = {**v1, "version": 2, "handling": "resolved", "condition": "cleared",
          "cleared_at": v1["opened_at"], "resolution": {"disposition": "other", "note": "",
                                                        "by": "o-e1", "at": v1["opened_at"]}}
    return [v1, v2]


def fill(db) -> None:
    store = Store(db)
    for seq, rec in enumerate(records() + old_alert(), 1):
        # the write times the fixture knows; 0 for the rest, emptied below
        written = VERSION_TIMES.get((rec["alert_id"], rec["version"]),
                                    ms("07:30") - 86_400_000 if rec["alert_id"] == "Z1" else 0)
        store.commit(StepCommit([rec], OFFICE, seq, step_ms=written))
    # who acknowledged A3 is in the action log, not in the record (sup held it then)
    store.commit(StepCommit([], OFFICE, 99, actions=[
        Action(1, ms("10:20"), "A3", "acknowledge", "o-e1", "applied", None, "{}"),
        Action(2, ms("10:21"), "A3", "acknowledge", "sup", "no_change", None, "{}")]))
    store.close()
    with sqlite3.connect(db) as conn:  # versions written before the column existed
        conn.execute("UPDATE alert_versions SET written_at = NULL WHERE written_at = 0")


@pytest.fixture
def paths(tmp_path):
    bundle = tmp_path / "bundle"
    write_bundle(bundle)
    db = tmp_path / "lookout.db"
    fill(db)
    return bundle, db


def test_lookout_summary_from_the_store_matches_the_hand_count(paths, tmp_path):
    bundle, db = paths
    out = tmp_path / "s.json"
    assert main(["summary", "--from", str(START), "--to", str(END), "--bundle", str(bundle),
                 "--db", str(db), "--format", "json", "--out", str(out)]) == 0
    s = json.loads(out.read_text(encoding="utf-8"))
    assert s["opened_total"] == 7 and s["drill_alerts_left_out"] == 1
    assert [a["alert_id"] for a in s["alerts"]] == ["A1", "A2", "A3", "A4", "A5", "A7", "A9"]
    assert s["by_severity"] == {"critical": 3, "high": 3, "medium": 1, "low": 0}
    assert [(o["office_id"], o["count"]) for o in s["by_office"]] == [
        ("east", 3), ("west", 3), (None, 1)]
    assert s["escalated_total"] == 2
    assert [a["alert_id"] for a in s["handover"]["open"]] == ["A4", "A3", "A9", "A8"]
    assert [a["alert_id"] for a in s["handover"]["unacknowledged"]] == ["A4", "A7", "A9", "A8"]
    ack = s["ack"]
    assert (ack["timed"]["n"], ack["unknown"], ack["pending"]) == (3, 1, 3)
    assert (ack["timed"]["median_s"], ack["timed"]["p90_s"]) == (240, 360)
    # ack_by from the actions table: o-e1 acknowledged A3, not sup who held it
    load = {o["officer_id"]: (o["routed"], o["acknowledged"], o["resolved"], o["escalated_to"])
            for o in s["officer_load"]}
    assert load == {"o-e1": (3, 3, 2, 0), "o-w1": (3, 1, 1, 0), "sup": (2, 0, 0, 2),
                    "ops": (1, 0, 0, 0)}
    assert s["resolved_total"] == 3

    # CSV and Markdown to stdout, one office
    assert main(["summary", "--from", at("08:00"), "--to", at("16:00"), "--office", "east",
                 "--bundle", str(bundle), "--db", str(db), "--format", "csv",
                 "--csv-layout", "alerts", "--out", str(tmp_path / "s.csv")]) == 0
    rows = (tmp_path / "s.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + 3 and "吴刚" not in "".join(rows)


def test_what_finished_before_the_period_is_not_read(paths):
    _, db = paths
    read = read_store(db, START)
    assert "Z1" not in {u["alert_id"] for u in read.updates}
    assert {u["alert_id"] for u in read.updates} == {f"A{i}" for i in range(1, 11)}
    assert read.version_times == VERSION_TIMES  # the emptied ones are unknown, not 0
    assert read.ack_by == {"A3": "o-e1"}
    # a period before Z1 finished reads it
    assert "Z1" in {u["alert_id"] for u in read_store(db, START - 2 * 86_400_000).updates}


def test_same_figures_with_the_loader_functions_and_with_the_store(paths, capsys):
    bundle, db = paths
    argv = ["--from", str(START), "--to", str(END), "--bundle", str(bundle), "--db", str(db),
            "--format", "json"]
    assert cli_summary(argv, source=read_store, now_ms=END + 1) == 0
    via_store = json.loads(capsys.readouterr().out)
    assert cli_summary(argv, lambda _: records(), lambda _: VERSION_TIMES, now_ms=END + 1) == 0
    via_loaders = json.loads(capsys.readouterr().out)
    # the one difference: who acknowledged A3 (the loaders know no action log)
    for s in (via_store, via_loaders):
        s.pop("officer_load")
    assert via_store == via_loaders


def test_an_old_store_gains_written_at(tmp_path):
    db = tmp_path / "old.db"
    before = BY_MODE["live"].replace("record TEXT NOT NULL, written_at INTEGER,",
                                     "record TEXT NOT NULL,")
    assert before != BY_MODE["live"]
    with sqlite3.connect(db) as conn:  # the store as the previous release left it
        conn.executescript(before)
        conn.execute("INSERT INTO alert_versions VALUES ('old', 1, '{}')")
    read_store(db, START)  # a summary of an old store reads it as it is, read-only
    with sqlite3.connect(db) as conn:
        assert "written_at" not in {r[1] for r in conn.execute("PRAGMA table_info(alert_versions)")}
    store = Store(db)
    store.commit(StepCommit([records()[0]], OFFICE, 1, step_ms=123))
    store.close()
    with sqlite3.connect(db) as conn:
        assert dict(conn.execute("SELECT alert_id, written_at FROM alert_versions")) == {
            "old": None, "A8": 123}


@pytest.fixture
def served(paths):
    bundle, db = paths
    for user in ("sup", "ops", "o-e1"):
        set_password(db, user, f"password-{user}")
    rt = LiveRuntime(bundle, db, purge_every_s=None).start()
    with TestClient(create_app(rt)) as client:
        yield client, rt
    rt.stop()


def test_the_summary_page_is_scoped_to_the_readers_offices(served):
    client, rt = served
    q = {"from": START, "to": END, "format": "json"}
    admin = client.get("/v1/summary", params=q, headers=login(client, "ops")).json()
    assert admin["opened_total"] == 7 and admin["visible_offices"] is None
    sup = login(client, "sup")
    s = client.get("/v1/summary", params=q, headers=sup).json()
    # the supervisor's offices (hq, east, west): feed_down belongs to none of them
    assert s["opened_total"] == 6 and s["visible_offices"] == ["east", "hq", "west"]
    assert s["by_type"]["feed_down"] == 0
    west = client.get("/v1/summary", params={**q, "office": "west"}, headers=sup).json()
    assert [a["alert_id"] for a in west["alerts"]] == ["A4", "A5", "A9"]
    assert client.get("/v1/summary", params={**q, "office": "north"}, headers=sup).status_code == 404
    assert client.get("/v1/summary", params=q, headers=login(client, "o-e1")).status_code == 403
    assert client.get("/v1/summary", params=q).status_code == 401
    csv = client.get("/v1/summary", params={**q, "format": "csv", "office": "west"}, headers=sup)
    assert csv.headers["content-type"].startswith("text/csv") and "孙立" not in csv.text
    assert [a["what"] for a in rt.store.audits.audit_log(20)].count("read_summary") == 4

    # the page's link: a one-time ticket instead of the token in the URL
    url = client.post("/v1/summary/link", params={"from": START, "to": END},
                      headers=sup).json()["url"]
    assert url.startswith("/v1/summary?") and "ticket=" in url
    page = client.get(url)
    assert page.status_code == 200 and "值班交接汇总" in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get(url).status_code == 401  # used up
    assert client.post("/v1/summary/link", headers=login(client, "o-e1")).status_code == 403


@pytest.mark.parametrize("path, params", [
    ("/v1/summary", {"from": 10**30}), ("/v1/summary", {"to": 2**63}),
    ("/v1/summary", {"from": -1}), ("/v1/summary", {"to": "9" * 400}),
    ("/v1/persons/{pid}/track", {"since_ms": 10**30}),
    ("/v1/persons/{pid}/track", {"until_ms": -(2**70)}),
])
def test_out_of_range_numbers_are_422_not_500(served, path, params):
    client, rt = served
    pid = BUNDLE.persons[0].person_id
    r = client.get(path.format(pid=pid), params=params, headers=login(client, "ops"))
    assert r.status_code == 422, r.text
    r = client.post("/v1/summary/link", params=params, headers=login(client, "ops"))
    assert r.status_code in (200, 422) and r.status_code != 500


def test_the_largest_accepted_times_answer(served):
    from alerts.feed.models import TS_MS_MAX

    client, rt = served
    auth = login(client, "ops")
    pid = BUNDLE.persons[0].person_id
    r = client.get("/v1/summary", params={"from": TS_MS_MAX - 86_400_000, "to": TS_MS_MAX,
                                          "format": "json"}, headers=auth)
    assert r.status_code == 200, r.text
    r = client.get(f"/v1/persons/{pid}/track", params={"since_ms": 0, "until_ms": TS_MS_MAX},
                   headers=auth)
    assert r.status_code == 200, r.text
