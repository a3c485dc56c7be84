"""`lookout backtest` on a recorded demo feed: changes whose effect is known in advance, officers'
dispositions read from a real store, and bad settings files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from alerts.engine import Engine
from alerts.store import StepCommit, Store
from config.loader import load_bundle
from stream.backtest import Alert, alerts_from_updates, match, run_backtest
from stream.cli import main
from stream.decode import Decoder
from stream.simulate import simulate, write_feed

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A day of the demo with five people leaving the district (the simulator's ground truth)."""
    folder = tmp_path_factory.mktemp("backtest")
    feed = simulate(DEMO, hours=24, violations=12, seed=1)
    path = folder / "feed.jsonl.gz"
    write_feed(path, feed)
    leavers = {i.person_id for i in feed.incidents if i.kind == "leave_area"}
    assert len(leavers) >= 3
    return path, leavers


def _settings(tmp_path, text: str) -> str:
    p = tmp_path / "new.toml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_a_change_that_stops_every_exit_alert_drops_exactly_those(recorded, tmp_path):
    feed, leavers = recorded
    bt = run_backtest([str(feed)], str(DEMO), _settings(tmp_path, "confirm_fixes = 1000\n"))
    exits = [a for a in bt.current if a.key[1] == "zone_exit"]
    assert exits and {a.key[0] for a in exits} >= leavers
    assert bt.only_current == exits
    assert bt.only_proposed == []
    assert not any(b.key[1] == "zone_exit" for b in bt.proposed)
    assert len(bt.pairs) == len(bt.current) - len(exits)  # everything else still raised
    d = bt.to_dict()
    assert d["settings_changed"]["confirm_fixes"]["proposed"] == 1000
    assert d["delay_change_s"]["raised_at"]["max"] == 0.0


def test_one_more_confirming_fix_raises_exits_up_to_one_fix_later(recorded, tmp_path):
    feed, leavers = recorded
    now = load_bundle(DEMO).settings.confirm_fixes
    bt = run_backtest([str(feed)], str(DEMO), _settings(tmp_path, f"confirm_fixes = {now + 1}\n"))
    d = bt.to_dict()
    assert d["settings_changed"] == {"confirm_fixes": {"current": now, "proposed": now + 1}}
    exit_pairs = [(a, b) for a, b in bt.pairs if a.key[1] == "zone_exit"]
    assert {a.key[0] for a, _ in exit_pairs} >= leavers  # an hour away: still caught
    for a, b in exit_pairs:
        assert b.opened_at == a.opened_at  # the first fix of the run, whatever its length
        # one more fix, a minute apart; none when other evidence rules already waited longer
        assert 0 <= b.raised_at - a.raised_at <= 130_000
    later = d["delay_change_s"]["by_type"]["zone_exit"]["raised_at"]["later"]
    assert later >= len(exit_pairs) / 2
    others = [(a, b) for a, b in bt.pairs if a.key[1] != "zone_exit"]
    assert all(a.raised_at == b.raised_at for a, b in others)
    assert {m["type"] for m in d["matched_moved"]} == {"zone_exit"}


def test_no_change_changes_nothing(recorded, tmp_path):
    feed, _ = recorded
    bt = run_backtest([str(feed)], str(DEMO), _settings(tmp_path, "# nothing to change\n"))
    assert bt.changes == {}
    assert bt.only_current == bt.only_proposed == []
    assert len(bt.pairs) == len(bt.current) > 0
    assert bt.to_dict()["matched_moved"] == []


def _store_with_dispositions(feed: Path, db: Path) -> dict[str, str]:
    """Runs the demo feed through the engine as the service does, officers resolving alerts
    as they come in, and stores every version. Returns alert_id -> disposition."""
    import gzip

    bundle = load_bundle(DEMO)
    engine = Engine(bundle)
    state = engine.new_state()
    decoder = Decoder(engine.person_index, bundle.settings)
    plan = {"zone_exit": ["violation_confirmed", "false_alarm", "device_fault", "authorized"],
            "device_off": ["false_alarm"]}
    given: dict[str, str] = {}
    store = Store(db, durable=False)
    lines = gzip.open(feed).read().splitlines(keepends=True)
    seq = 0
    for start in range(0, len(lines), 200):
        batch, _ = decoder.decode(lines[start:start + 200], received_at_ms=4_102_444_800_000,
                                  first_seq=start)
        updates = [x.to_wire() for x in engine.process(state, batch, 0)]  # the store's records
        for u in list(updates):
            todo = plan.get(u["type"])
            if u["version"] == 1 and todo:
                disposition = todo.pop(0)
                updates += [x.to_wire() for x in engine.act(state, {
                    "type": "action", "person_id": u["person_id"], "alert_id": u["alert_id"],
                    "ts": u["last_event_at"], "action": "resolve", "by": "wc-cd-01",
                    "disposition": disposition, "note": "backtest test"}, 0)]
                given[u["alert_id"]] = disposition
        seq += 1
        store.commit(StepCommit(updates, lambda person_id: None, seq))
    store.close()
    assert len(given) == 5
    return given


def test_dispositions_in_the_store_say_what_the_change_would_miss_and_save(recorded, tmp_path):
    feed, _ = recorded
    db = tmp_path / "lookout.db"
    given = _store_with_dispositions(feed, db)
    bt = run_backtest([str(feed)], str(DEMO), _settings(tmp_path, "confirm_fixes = 1000\n"),
                      db=str(db))
    s = bt.to_dict()["store"]
    assert s["alerts_with_disposition"] == len(given) == 5
    assert s["confirmed_violations_missed"] == 1
    # a false alarm on a 关机 alert the change keeps is not saved; authorized is not a false alarm
    assert s["false_alarms_saved"] == 2
    assert s["false_alarms_saved_by_disposition"] == {"device_fault": 1, "false_alarm": 1}
    assert s["only_current_dispositions"]["authorized"] == 1
    dropped = sorted(a["disposition"] for a in bt.to_dict()["only_current"] if a["disposition"])
    assert dropped == ["authorized", "device_fault", "false_alarm", "violation_confirmed"]


def test_the_command_line_prints_bilingual_text_or_json(recorded, tmp_path, capsys):
    feed, _ = recorded
    new = _settings(tmp_path, "confirm_fixes = 1000\n")
    assert main(["backtest", str(feed), "--bundle", str(DEMO), "--settings", new]) == 0
    text = capsys.readouterr().out
    for heading in ("Settings changed 设置变更", "confirm_fixes", "仅当前设置产生",
                    "越界（离开活动区域） left permitted area", "检测时间变化"):
        assert heading in text
    assert main(["backtest", str(feed), "--bundle", str(DEMO), "--settings", new,
                 "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["alerts"]["proposed"].get("zone_exit", 0) == 0
    assert report["store"] is None


def test_the_proposal_outranks_the_environment(recorded, tmp_path, monkeypatch):
    feed, _ = recorded
    monkeypatch.setenv("LOOKOUT_CONFIRM_FIXES", "7")
    bt = run_backtest([str(feed)], str(DEMO), _settings(tmp_path, "confirm_fixes = 1000\n"))
    assert bt.changes == {"confirm_fixes": (7, 1000)}
    assert not any(b.key[1] == "zone_exit" for b in bt.proposed)
    import os

    assert os.environ["LOOKOUT_CONFIRM_FIXES"] == "7"  # put back


@pytest.mark.parametrize("text, where", [
    ("timezone = \"Asia/Shanghai\"\nconfirm_fixs = 3\n", ['line 2', 'confirm_fixs',
                                                          'did you mean "confirm_fixes"']),
    ("\n\nconfirm_fixes = \"three\"\n", ["line 3", "confirm_fixes", "integer"]),
    ("confirm_fixes = 0\n", ["line 1", "confirm_fixes", "greater than or equal to 1"]),
    ("[escalate_after_s]\ncritical = -5\n", ["line 1", "escalate_after_s.critical"]),
    ("confirm_fixes = = 3\n", ["line 1", "malformed TOML"]),
])
def test_a_bad_settings_file_exits_2_naming_file_line_and_setting(recorded, tmp_path, capsys,
                                                                  text, where):
    feed, _ = recorded
    new = _settings(tmp_path, text)
    assert main(["backtest", str(feed), "--bundle", str(DEMO), "--settings", new]) == 2
    err = capsys.readouterr().err
    assert new in err
    for part in where:
        assert part in err


def test_missing_feed_or_store_exits_2(recorded, tmp_path, capsys):
    feed, _ = recorded
    new = _settings(tmp_path, "confirm_fixes = 5\n")
    assert main(["backtest", str(tmp_path / "nope.jsonl"), "--bundle", str(DEMO),
                 "--settings", new]) == 2
    assert main(["backtest", str(feed), "--bundle", str(DEMO), "--settings", new,
                 "--db", str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl" in err and "nope.db" in err


def _alert(aid, person, opened, ended, typ="zone_exit"):
    return Alert(aid, (person, typ, "z" if typ == "zone_exit" else None, False), opened, opened,
                 ended, {})


def test_matching_pairs_same_key_and_overlapping_time_earliest_first():
    left = [_alert("a1", "P", 0, 100), _alert("a2", "P", 200, 300), _alert("a3", "Q", 0, None),
            _alert("a4", "P", 1000, 1100, typ="device_off")]
    right = [_alert("b2", "P", 250, None), _alert("b1", "P", 50, 60), _alert("b3", "Q", 5000, 5100),
             _alert("b4", "P", 1000, 1100)]  # same time, another type
    pairs, only_left, only_right = match(left, right)
    assert [(a.alert_id, b.alert_id) for a, b in pairs] == [("a1", "b1"), ("a2", "b2"),
                                                            ("a3", "b3")]
    assert [a.alert_id for a in only_left] == ["a4"]
    assert [b.alert_id for b in only_right] == ["b4"]


def test_an_alert_is_its_versions_last_state_with_its_first_raise():
    ups = [
        {"alert_id": "x", "version": 1, "person_id": "P", "type": "zone_exit", "zone_id": "z",
         "drill": False, "condition": "active", "opened_at": "2026-11-16T10:00:00+08:00",
         "last_event_at": "2026-11-16T10:01:00+08:00", "cleared_at": None, "resolution": None},
        {"alert_id": "x", "version": 2, "person_id": "P", "type": "zone_exit", "zone_id": "z",
         "drill": False, "condition": "cleared", "opened_at": "2026-11-16T10:00:00+08:00",
         "last_event_at": "2026-11-16T10:05:00+08:00", "cleared_at": "2026-11-16T10:05:00+08:00",
         "resolution": {"disposition": "false_alarm", "note": "", "by": "o", "at": "x"}},
    ]
    (a,) = alerts_from_updates(ups)
    assert a.raised_at - a.opened_at == 60_000
    assert a.ended_at - a.opened_at == 300_000
    assert (a.disposition, a.versions) == ("false_alarm", 2)
