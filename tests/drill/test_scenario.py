"""Scenario files: what is accepted, and errors that name the file and the field."""

from __future__ import annotations

import pytest
from drillkit import ALL_KINDS

from stream.cli import main
from stream.drill.plan import build_plan
from stream.drill.scenario import KINDS, ScenarioError, load_scenario

ONE = """
[[incidents]]
person = "P3"
kind = "tamper"
offset_s = 0
"""


def write(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message[len(str(path)) + 2:]


def test_the_full_scenario_and_its_defaults(tmp_path):
    s = load_scenario(write(tmp_path, ALL_KINDS))
    assert s.name == "每种科目各一次 / one of each"
    assert [i.kind for i in s.incidents] == ["tamper", "leave_zone", "enter_exclusion",
                                            "power_off", "go_silent", "jump"]
    assert {i.expected_type for i in s.incidents} == set(KINDS.values())
    assert all(i.targets.detect_within_s == 10 for i in s.incidents)
    assert all(i.targets.acknowledge_within_s == 120 for i in s.incidents)
    minimal = load_scenario(write(tmp_path, ONE, "minimal.toml"))
    assert minimal.name == "minimal" and minimal.base_source == "simulate"
    assert minimal.targets.detect_within_s == 60 and minimal.targets.acknowledge_within_s is None


@pytest.mark.parametrize("text, expected", [
    ("[drills]\nname = 'x'\n" + ONE, 'drills: unknown field (did you mean "drill"?)'),
    (ONE.replace('"tamper"', '"tampered"'),
     'incidents[0].kind: must be one of "leave_zone", "enter_exclusion", "power_off", '
     '"go_silent", "tamper", "jump", got "tampered"'),
    (ONE.replace("offset_s = 0", ""), "incidents[0].offset_s: is required"),
    (ONE.replace("offset_s = 0", "offset_s = -5"),
     "incidents[0].offset_s: must not be negative, got -5"),
    (ONE.replace("offset_s = 0", 'offset_s = "soon"'),
     'incidents[0].offset_s: must be a number, got "soon"'),
    (ONE.replace('person = "P3"', ""), "incidents[0].person: is required"),
    (ONE + 'ofset_s = 3\n', 'incidents[0].ofset_s: unknown field (did you mean "offset_s"?)'),
    (ONE + 'zone = "home"\n', "incidents[0].zone: only leave_zone and enter_exclusion name "
                              "a zone, not tamper"),
    (ONE + "duration_s = 10\n", "incidents[0].duration_s: a tamper is one moment: it has "
                                "no duration"),
    ("[base]\nsource = 'recorded'\n" + ONE, 'base.file: is required when source = "recorded"'),
    ("[base]\nsource = 'recorded'\nfile = 'nope.jsonl'\n" + ONE, "base.file: no such file: "),
    ("[drill]\nduration_s = 60\n" + ONE.replace("offset_s = 0", "offset_s = 60"),
     "incidents[0].offset_s: 60 s is not before the drill's end (drill.duration_s = 60)"),
    ("[targets]\ndetect_within = 5\n" + ONE,
     'targets.detect_within: unknown field (did you mean "detect_within_s"?)'),
    ("[drill]\nname = 'x'\n", "incidents: a drill needs at least one [[incidents]] entry"),
    ("[drill\n", "TOML syntax: "),
])
def test_errors_name_the_file_and_the_field(tmp_path, text, expected):
    assert error(tmp_path, text).startswith(expected)


BUNDLE_ERRORS = [
    (ONE.replace('"tamper"', '"leave_zone"') + 'zone = "bar"\n',
     'incidents[0].zone: \'bar\' is not an inclusion zone, which leave_zone needs'),
    (ONE.replace('"tamper"', '"power_off"') + "duration_s = 100\n"
     + ONE.replace('"tamper"', '"power_off"').replace("offset_s = 0", "offset_s = 50"),
     "incidents[1].offset_s: power_off of P3 starts while incidents[0] (power_off) still runs"),
    ("[drill]\nduration_s = 100\n" + ONE.replace('"tamper"', '"go_silent"'),
     "drill.duration_s: 100 s ends before incidents[0] (go_silent of P3) is over"),
]


@pytest.mark.parametrize("text, expected", BUNDLE_ERRORS)
def test_errors_that_need_the_bundle_come_when_the_drill_is_planned(tmp_path, bundle, text,
                                                                    expected):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        build_plan(load_scenario(path), bundle, 1_800_000_000_000)
    assert str(info.value).startswith(f"{path}: {expected}"), str(info.value)


def test_drill_check_prints_the_plan_or_the_error(tmp_path, bundle, capsys):
    assert main(["drill", "check", str(write(tmp_path, ALL_KINDS)), "--bundle", str(bundle)]) == 0
    out = capsys.readouterr().out
    # a trip sets off early enough to be out by its offset; the rules confirm it at the
    # third fix there, a minute after the first (confirm_fixes 3 over confirm_s 60)
    assert " leave_zone P1 home -> zone_exit, due +210 s" in out
    assert "[4] +20 s..+260 s go_silent P5 -> signal_lost, due +140 s" in out
    assert "warning" not in out
    bad = write(tmp_path, BUNDLE_ERRORS[0][0], "bad.toml")
    assert main(["drill", "check", str(bad), "--bundle", str(bundle)]) == 2
    assert "bad scenario 演练方案错误: " in capsys.readouterr().err
