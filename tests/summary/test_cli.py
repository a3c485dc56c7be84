"""`lookout summary` through cli_summary, with the store replaced by a loader function."""

from __future__ import annotations

import json

import pytest

from alerts.summary import cli_summary

from .fixture import END, START, VERSION_TIMES, at, records, write_bundle


@pytest.fixture
def paths(tmp_path):
    write_bundle(tmp_path / "bundle")
    db = tmp_path / "lookout.db"
    db.write_bytes(b"")  # the loader below never opens it; the CLI only checks it exists
    return tmp_path / "bundle", db


def run(paths, *extra, times=True):
    bundle, db = paths
    seen = []

    def load(path):
        seen.append(path)
        return iter(records())

    code = cli_summary(["--bundle", str(bundle), "--db", str(db), *extra], load,
                       (lambda path: VERSION_TIMES) if times else None, now_ms=END + 1)
    return code, seen


def test_markdown_to_stdout_for_one_office(paths, capsys):
    code, seen = run(paths, "--from", at("08:00"), "--to", at("16:00"), "--office", "east",
                     "--lang", "zh")
    assert code == 0 and seen == [str(paths[1])]
    out = capsys.readouterr().out
    assert "## 值班交接汇总" in out and "- **司法所**: east" in out
    assert "- 合计: **3**" in out  # A1 A2 A3
    assert "吴刚" not in out  # west


def test_html_and_json_to_a_file(paths, tmp_path):
    out = tmp_path / "s.html"
    code, _ = run(paths, "--from", str(START), "--to", str(END), "--format", "html",
                  "--out", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    assert "值班交接汇总 / Shift handover summary" in html and html.count("<img") == 3
    out = tmp_path / "s.json"
    assert run(paths, "--from", str(START), "--to", str(END), "--format", "json",
               "--out", str(out))[0] == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["opened_total"] == 7 and data["ack"]["timed"]["n"] == 3
    # without the store's write times only A2 (resolved straight away) is timed
    assert run(paths, "--from", str(START), "--to", str(END), "--format", "json",
               "--out", str(out), times=False)[0] == 0
    assert json.loads(out.read_text(encoding="utf-8"))["ack"]["timed"]["n"] == 1


def test_csv_flat(paths, tmp_path):
    out = tmp_path / "s.csv"
    code, _ = run(paths, "--from", str(START), "--to", str(END), "--format", "csv",
                  "--csv-layout", "alerts", "--out", str(out))
    assert code == 0
    lines = out.read_bytes().decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 7


def test_bad_input_exits_2(paths, capsys, tmp_path):
    assert run(paths, "--from", str(END), "--to", str(START))[0] == 2
    assert run(paths, "--from", str(START), "--to", str(END), "--office", "north")[0] == 2
    assert "north" in capsys.readouterr().err
    bundle, _ = paths
    code = cli_summary(["--bundle", str(bundle), "--db", str(tmp_path / "missing.db"),
                        "--from", str(START), "--to", str(END)], lambda p: [])
    assert code == 2 and "missing.db" in capsys.readouterr().err
    code = cli_summary(["--bundle", str(tmp_path / "nobundle"), "--from", str(START),
                        "--to", str(END)], lambda p: [])
    assert code == 2
    with pytest.raises(SystemExit) as e:
        run(paths, "--from", "yesterday", "--to", str(END))
    assert e.value.code == 2
