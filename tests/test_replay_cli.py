"""`lookout replay` as a user runs it: files in, alerts and dead letters out, exit codes."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from stream.cli import main

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo"


def write_bundle(tmp: Path) -> Path:
    b = tmp / "bundle"
    b.mkdir()
    zones = {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[119.9, 29.9], [120.1, 29.9], [120.1, 30.1],
                                                          [119.9, 30.1], [119.9, 29.9]]]},
        "properties": {"zone_id": "home", "name": "家", "kind": "inclusion"},
    }]}
    (b / "zones.geojson").write_text(json.dumps(zones))
    (b / "persons.jsonl").write_text(json.dumps({
        "person_id": "P1", "name": "张三", "office_id": "o1", "officer_id": "w1", "zones": ["home"],
    }) + "\n")
    return b


def events() -> list[bytes]:
    rows = [
        # three clearly-outside fixes over two minutes: a zone_exit (SPEC §3)
        {"type": "fix", "person_id": "P1", "ts": "2026-11-27T10:00:00+08:00", "lat": 30.0, "lon": 120.102},
        {"type": "fix", "person_id": "P1", "ts": "2026-11-27T10:01:00+08:00", "lat": 30.0, "lon": 120.102},
        {"type": "fix", "person_id": "P1", "ts": "2026-11-27T10:02:00+08:00", "lat": 30.0, "lon": 120.102},
        {"type": "fix", "person_id": "P9", "ts": "2026-11-27T10:03:00+08:00", "lat": 30.0, "lon": 120.0},
        {"type": "fix", "person_id": "P1", "ts": "2026-11-27T10:02:00+08:00", "lat": 30.0, "lon": 120.102},
    ]
    lines = [orjson.dumps(r) for r in rows]
    lines.insert(2, b"{not json")
    lines.append(b'{"type": "fix", "person_id": "P1", "ts": 1, "lat": 95, "lon": 120}')
    return lines


def test_replay_writes_alerts_dead_letters_and_a_summary(tmp_path, capsys):
    b = write_bundle(tmp_path)
    feed = tmp_path / "feed.jsonl.gz"
    with gzip.open(feed, "wb") as fh:
        fh.write(b"\n".join(events()) + b"\n")
    out, dead = tmp_path / "alerts.jsonl", tmp_path / "dead.jsonl"
    code = main(["replay", str(feed), "--bundle", str(b), "--out", str(out),
                 "--dead-letter", str(dead), "--until", "2026-11-27T11:00:00+08:00"])
    assert code == 0
    updates = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [(u["type"], u["version"], u["escalated"]) for u in updates] == [
        ("zone_exit", 1, False),
        ("zone_exit", 2, True),  # high: nobody acknowledged within 900 s
        ("signal_lost", 1, False),
        ("signal_lost", 2, True),
    ]
    assert updates[0]["opened_at"] == "2026-11-27T10:00:00.000+08:00"
    assert updates[0]["message"] == {"zh": "张三：越界（离开活动区域）（家），未解除",
                                     "en": "张三: left permitted area (家), active"}
    # --until moved the clock: silence fired 30 min after the last fix
    assert updates[2]["opened_at"] == "2026-11-27T10:32:00.000+08:00"
    letters = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    assert sorted(d["reason"] for d in letters) == ["invalid_field", "malformed_json", "unknown_person"]
    assert all(set(d) == {"received_at", "reason", "detail", "raw"} for d in letters)
    err = capsys.readouterr().err
    assert "events read 读取事件: 7" in err
    assert "duplicate 重复 1" in err
    assert "invalid_field 1, malformed_json 1, unknown_person 1" in err
    assert "zone_exit 1" in err


def test_bad_bundle_exits_2_naming_file_line_and_field(tmp_path, capsys):
    b = write_bundle(tmp_path)
    (b / "persons.jsonl").write_text('{"person_id": "P1", "office_id": "o1", "officer_id": "w1", '
                                     '"zones": ["nowhere"]}\n')
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"")
    assert main(["replay", str(feed), "--bundle", str(b)]) == 2
    assert 'persons.jsonl:line 1: zones[0]: unknown zone "nowhere"' in capsys.readouterr().err


def test_a_rota_with_a_gap_is_warned_about_at_load_and_the_replay_goes_on(tmp_path, capsys):
    b = write_bundle(tmp_path)
    (b / "officers.json").write_text(json.dumps({
        "offices": [{"office_id": "o1", "name": "城东司法所", "parent_id": "c"},
                    {"office_id": "c", "name": "婺城区社区矫正指挥中心"}],
        "officers": [{"officer_id": "w1", "name": "李四", "office_id": "o1", "role": "officer"},
                     {"officer_id": "s1", "name": "王五", "office_id": "c", "role": "supervisor"}],
        "shifts": [{"officer_id": "w1", "days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"},
                   {"officer_id": "s1", "days": [1, 2, 3, 4, 5, 6], "start": "08:00",
                    "end": "20:00"}]}, ensure_ascii=False), encoding="utf-8")
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"")
    assert main(["replay", str(feed), "--bundle", str(b)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "coverage gap" in line]
    assert len(warnings) == 2  # nobody to receive alerts, no supervisor to escalate to
    assert "城东司法所 (o1): 无人值班" in warnings[0] and "无值班长在岗" in warnings[1]
    # Mon-Sat 08:00-20:00 covered: nights, and Saturday night through Sunday to Monday
    assert "周六 20:00–周一 08:00" in warnings[0] and "Sat 20:00–Mon 08:00" in warnings[0]
    assert "（每周 96 小时）" in warnings[0] and "(96 h a week)" in warnings[0]


def test_the_demo_bundle_loads_without_a_coverage_warning(tmp_path, capsys):
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"")
    assert main(["replay", str(feed), "--bundle", str(DEMO)]) == 0
    assert "coverage gap" not in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["replay", "x.jsonl", "--speed", "fast"],
     "argument --speed: expected max or a number greater than 0, got 'fast'"),
    (["replay", "x.jsonl", "--speed", "0"],
     "argument --speed: expected max or a number greater than 0, got '0'"),
    (["worker", "--kafka", "127.0.0.1:1", "--batch", "0"],
     "argument --batch: must be at least 1, got '0'"),
    (["worker", "--kafka", "127.0.0.1:1", "--within", "soon"],
     "argument --within: expected a number, got 'soon'"),
    (["worker", "--kafka", "127.0.0.1:1", "--checkpoint", "nan"],
     "argument --checkpoint: must be greater than 0, got 'nan'"),
])
def test_bad_flags_exit_2_naming_the_flag(tmp_path, capsys, argv, message):
    b = write_bundle(tmp_path)
    with pytest.raises(SystemExit) as e:
        main([*argv, "--bundle", str(b)])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_feed_exits_2(tmp_path):
    b = write_bundle(tmp_path)
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--bundle", str(b)]) == 2


def test_drill_replay_marks_every_alert_as_drill(tmp_path):
    b = write_bundle(tmp_path)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(events()))
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(feed), "--bundle", str(b), "--out", str(out), "--drill"]) == 0
    updates = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert updates and all(u["drill"] for u in updates)


def test_console_script_runs_from_stdin(tmp_path):
    exe = Path(sys.executable).parent / "lookout"
    if not exe.exists():
        exe = shutil.which("lookout")
    b = write_bundle(tmp_path)
    proc = subprocess.run([str(exe), "replay", "-", "--bundle", str(b)], input=b"\n".join(events()),
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b'"type":"zone_exit"' in proc.stdout


def test_console_script_leaves_at_once_with_every_update_written_and_its_exit_code(tmp_path):
    """replay ends without the interpreter's teardown: what it wrote to a pipe is all there,
    the same as an in-process run's file, and a bad bundle still exits 2."""
    exe = Path(sys.executable).parent / "lookout"
    if not exe.exists():
        exe = shutil.which("lookout")
    b = write_bundle(tmp_path)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(events()))
    proc = subprocess.run([str(exe), "replay", str(feed), "--bundle", str(b)],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "in-process.jsonl"
    assert main(["replay", str(feed), "--bundle", str(b), "--out", str(out)]) == 0

    def alerts(raw: bytes) -> list[dict]:
        return [{k: v for k, v in orjson.loads(x).items() if k != "detected_at"}
                for x in raw.splitlines()]

    assert alerts(proc.stdout) == alerts(out.read_bytes()) != []
    assert b"events read" in proc.stderr  # the summary, written last, is flushed too
    bad = subprocess.run([str(exe), "replay", str(feed), "--bundle", str(tmp_path / "none")],
                         capture_output=True, timeout=120)
    assert bad.returncode == 2


def test_paced_replay_gives_the_same_alerts_as_max_speed(tmp_path):
    b = write_bundle(tmp_path)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(events()))
    fast, paced = tmp_path / "fast.jsonl", tmp_path / "paced.jsonl"
    assert main(["replay", str(feed), "--bundle", str(b), "--out", str(fast)]) == 0
    # two minutes of event time at 1200x: a tenth of a second
    assert main(["replay", str(feed), "--bundle", str(b), "--out", str(paced), "--speed", "1200"]) == 0

    def strip(path):
        return [{k: v for k, v in orjson.loads(x).items() if k != "detected_at"}
                for x in path.read_bytes().splitlines()]

    assert strip(fast) == strip(paced) and strip(fast)


def test_replay_writes_prometheus_metrics_that_count_exactly(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    b = write_bundle(tmp_path)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(events()))
    metrics = tmp_path / "metrics.prom"
    assert main(["replay", str(feed), "--bundle", str(b), "--out", str(tmp_path / "a.jsonl"),
                 "--metrics-file", str(metrics)]) == 0
    samples = {}
    for fam in text_string_to_metric_families(metrics.read_text()):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    rejected = {k[1]: v for k, v in samples.items() if k[0] == "lookout_events_rejected_total"}
    assert sum(rejected.values()) == 3
    opened = [v for k, v in samples.items() if k[0] == "lookout_alerts_opened_total"
              and dict(k[1]).get("type") == "zone_exit"]
    assert opened == [1.0]
