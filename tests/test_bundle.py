"""The bundle loader (SPEC §2): a good bundle loads with defaults, a bad one names file/place/field."""

from __future__ import annotations

import json
import pickle

import pytest

from config.loader import BundleError, load_bundle, parse_hhmm, parse_ts_ms
from config.model import Window
from config.offices import Offices

SQUARE = [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.1], [121.0, 31.0]]]


def feature(zone_id="home", kind="inclusion", geometry=None, **props):
    return {
        "type": "Feature",
        "properties": {"zone_id": zone_id, "kind": kind, **props},
        "geometry": geometry or {"type": "Polygon", "coordinates": SQUARE},
    }


def good_zones():
    return [
        feature("home", "inclusion", name="浦东新区"),
        feature("victim", "exclusion", {"type": "Point", "coordinates": [121.05, 31.05]},
                radius_m=200),
        feature("curfew", "inclusion", schedule=[{"days": [1, 2, 3, 4, 5], "start": "22:00",
                                                  "end": "06:00"}], applies_to={"all": True}),
    ]


def person(pid="p1", **extra):
    return {"person_id": pid, "name": "张三", "office_id": "o1", "officer_id": "w1",
            "zones": ["home"], **extra}


OFFICERS = {
    "officers": [
        {"officer_id": "w1", "name": "李四", "office_id": "o1", "role": "officer",
         "supervisor_id": "s1"},
        {"officer_id": "s1", "name": "王五", "office_id": "county", "role": "supervisor"},
    ],
    "shifts": [{"officer_id": "w1", "days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"}],
    "escalate_after_s": {"high": 600},
}


def write(tmp_path, zones=None, persons=None, officers=None, permits=None, toml=None):
    """Writes a bundle; the persons and permits arguments may be raw JSONL text."""
    fc = {"type": "FeatureCollection", "features": good_zones() if zones is None else zones}
    (tmp_path / "zones.geojson").write_text(json.dumps(fc, ensure_ascii=False), "utf-8")
    files = {"persons.jsonl": [person()] if persons is None else persons, "permits.jsonl": permits}
    for name, rows in files.items():
        if rows is not None:
            text = rows if isinstance(rows, str) else "\n".join(json.dumps(r) for r in rows)
            (tmp_path / name).write_text(text + "\n", "utf-8")
    if officers is not None:
        (tmp_path / "officers.json").write_text(json.dumps(officers), "utf-8")
    if toml is not None:
        (tmp_path / "settings.toml").write_text(toml, "utf-8")
    return tmp_path


def error(tmp_path, **files) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(write(tmp_path, **files))
    return str(info.value)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("LOOKOUT_SILENCE_TIMEOUT_S", "LOOKOUT_CONFIRM_FIXES", "LOOKOUT_CONFIRM_S",
                 "LOOKOUT_ACCURACY_SIGMAS", "LOOKOUT_TIMEZONE",
                 "LOOKOUT_ESCALATE_AFTER_S", "LOOKOUT_DEFAULT_BUFFER_INCLUSION_M"):
        monkeypatch.delenv(name, raising=False)


def test_good_bundle_applies_defaults(tmp_path):
    permit = {"permit_id": "L1", "person_id": "p1", "start": "2024-05-01T08:00:00+08:00",
              "end": 1714608000000, "destination": "苏州"}
    b = load_bundle(write(tmp_path, officers=OFFICERS, permits=[permit]))
    home, victim, curfew = b.zones
    assert (home.name, home.buffer_m, home.severity, home.crs) == ("浦东新区", 100, "high", "wgs84")
    assert (victim.buffer_m, victim.severity, victim.radius_m) == (50, "critical", 200)
    assert victim.geometry.geom_type == "Point" and home.schedule is None
    assert curfew.name == "curfew" and curfew.applies_to_all
    assert curfew.schedule == (Window((1, 2, 3, 4, 5), 22 * 60, 6 * 60),)
    assert victim.source == "zones.geojson feature #2"
    (p,) = b.persons
    assert (p.silence_timeout_s, p.risk, p.zones, p.groups) == (1800, "medium", ("home",), ())
    assert [o.supervisor_id for o in b.officers] == ["s1", None]
    assert (b.shifts[0].start_min, b.shifts[0].end_min) == (510, 1050)
    (permit,) = b.permits
    assert (permit.start, permit.end, permit.suspend_zones) == (1714521600000, 1714608000000, None)
    assert b.settings.timezone == "Asia/Shanghai"
    assert (b.settings.escalate_after_s.high, b.settings.escalate_after_s.critical) == (600, 300)


def test_optional_files_may_be_absent(tmp_path):
    b = load_bundle(write(tmp_path))
    assert (b.officers, b.shifts, b.permits) == ([], [], [])
    s = b.settings
    assert (s.confirm_fixes, s.confirm_s, s.clear_fixes, s.accuracy_sigmas) == (3, 60, 2, 2)
    assert all(z.confirm_fixes is None and z.accuracy_sigmas is None for z in b.zones)


def test_zone_evidence_overrides_load_and_apply_to_that_zone_only(tmp_path):
    zones = good_zones()
    zones[1]["properties"].update(confirm_fixes=1, confirm_s=0, accuracy_sigmas=1.5)
    home, victim, _ = load_bundle(write(tmp_path, zones=zones)).zones
    assert (victim.confirm_fixes, victim.confirm_s, victim.accuracy_sigmas) == (1, 0, 1.5)
    assert (home.confirm_fixes, home.confirm_s, home.accuracy_sigmas) == (None, None, None)


@pytest.mark.parametrize("field, value, problem", [
    ("confirm_fixes", 0, "must be a whole number of fixes, at least 1, got 0"),
    ("confirm_fixes", 2.5, "must be a whole number of fixes, at least 1, got 2.5"),
    ("confirm_fixes", "3", 'must be a whole number of fixes, at least 1, got "3"'),
    ("confirm_s", -1, "must not be negative"),
    ("accuracy_sigmas", "two", 'must be a number, got "two"'),
])
def test_bad_zone_evidence_override_names_file_feature_and_field(tmp_path, field, value, problem):
    zones = good_zones()
    zones[2]["properties"][field] = value
    assert error(tmp_path, zones=zones) == f"zones.geojson:feature #3: properties.{field}: {problem}"


def test_overlapping_multipolygon_alternatives_are_dissolved(tmp_path):
    other = [[[121.1, 31.0], [121.2, 31.0], [121.2, 31.1], [121.1, 31.1], [121.1, 31.0]]]
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE, other]}  # they share an edge
    (zone,) = load_bundle(write(tmp_path, zones=[feature(geometry=multi)])).zones
    assert zone.geometry.is_valid and zone.geometry.area == pytest.approx(0.02)


BOW_TIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


@pytest.mark.parametrize("zones, expected", [
    ([feature(), feature("x", "inclsion")],
     'zones.geojson:feature #2: properties.kind: must be "inclusion" or "exclusion", got "inclsion"'),
    ([feature(), feature()],
     'zones.geojson:feature #2: properties.zone_id: duplicate "home" (first used at feature #1)'),
    ([feature(geometry={"type": "Point", "coordinates": [121, 31]})],
     "zones.geojson:feature #1: properties.radius_m: is required for a Point zone "
     "(the circle's radius in metres)"),
    ([feature(radius_m=100)],
     "zones.geojson:feature #1: properties.radius_m: is only allowed with a Point or LineString "
     "geometry, not a Polygon"),
    ([feature(schedule=[{"days": [1], "start": "25:00", "end": "06:00"}])],
     'zones.geojson:feature #1: properties.schedule[0].start: must be a time "HH:MM" '
     'from 00:00 to 23:59, got "25:00"'),
    ([feature(schedule=[{"days": [6], "start": "00:00", "end": "24:00"},
                        {"days": [1], "start": "08:00", "end": "08:00"}])],
     'zones.geojson:feature #1: properties.schedule[1]: a window must not be empty '
     '(start and end are both "08:00")'),
    ([feature(schedule=[{"days": [0, 1], "start": "08:00", "end": "09:00"}])],
     "zones.geojson:feature #1: properties.schedule[0].days: must be a non-empty list of ISO "
     "weekdays, 1 (Monday) to 7 (Sunday), got [0, 1]"),
    ([feature(geometry=BOW_TIE)],
     "zones.geojson:feature #1: geometry.coordinates: is not a valid polygon: "
     "Self-intersection[0.5 0.5]"),
    ([feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [200, 1], [0, 0]]]})],
     "zones.geojson:feature #1: geometry.coordinates[0][2]: longitude 200 is outside [-180, 180]"),
    ([feature(geometry={"type": "MultiPoint", "coordinates": [[0, 0]]})],
     'zones.geojson:feature #1: geometry.type: must be "Polygon", "MultiPolygon", "Point" or '
     '"LineString", got "MultiPoint"'),
    ([feature(buffer_m=-5)], "zones.geojson:feature #1: properties.buffer_m: must not be negative"),
    ([feature(applies_to={"all": False})],
     'zones.geojson:feature #1: properties.applies_to: must be {"all": true} or '
     '{"groups": [...]}, got {"all": false}'),
])
def test_bad_zones(tmp_path, zones, expected):
    assert error(tmp_path, zones=zones) == expected


@pytest.mark.parametrize("persons, expected", [
    ([person("p1"), person("p2"), person("p3", zones=["home", "z9"])],
     'persons.jsonl:line 3: zones[1]: unknown zone "z9" (not in zones.geojson)'),
    (json.dumps(person()) + '\n\n{"person_id": "p2",, }',
     "persons.jsonl:line 3: (line): malformed JSON: Expecting property name enclosed in double "
     "quotes at column 20"),
    ([person(), person("p2", silence_timeout_s=0)],
     "persons.jsonl:line 2: silence_timeout_s: must be greater than 0"),
    ([person(), person()], 'persons.jsonl:line 2: person_id: duplicate "p1" (first used at line 1)'),
    ([person("p" * 65)],
     f'persons.jsonl:line 1: person_id: must be a string of 1 to 64 characters, got "{"p" * 56}...'),
    ([{"person_id": "p1", "office_id": "o1"}], "persons.jsonl:line 1: officer_id: is required"),
    ([person(silence_timeout=60)],
     'persons.jsonl:line 1: silence_timeout: unknown field (did you mean "silence_timeout_s"?)'),
    ([person(risk="extreme")],
     'persons.jsonl:line 1: risk: must be "low", "medium" or "high", got "extreme"'),
])
def test_bad_persons(tmp_path, persons, expected):
    assert error(tmp_path, persons=persons) == expected


def with_officers(**changes):
    return {**OFFICERS, **changes}


@pytest.mark.parametrize("officers, expected", [
    (with_officers(officers=[{**OFFICERS["officers"][0], "supervisor_id": "s9"}]),
     'officers.json:officers[0]: supervisor_id: unknown officer "s9" (not in officers.json)'),
    (with_officers(shifts=[{"officer_id": "w2", "days": [1], "start": "08:00", "end": "12:00"}]),
     'officers.json:shifts[0]: officer_id: unknown officer "w2" (not in officers.json)'),
    (with_officers(officers=[*OFFICERS["officers"], {"officer_id": "x", "office_id": "o1",
                                                     "role": "boss"}]),
     'officers.json:officers[2]: role: must be "officer", "supervisor", "duty" or "admin", '
     'got "boss"'),
    (with_officers(escalate_after_s={"urgent": 60}),
     'officers.json: escalate_after_s.urgent: unknown field'),
])
def test_bad_officers(tmp_path, officers, expected):
    assert error(tmp_path, officers=officers) == expected


CENTRE = {"office_id": "county", "name": "婺城区社区矫正指挥中心"}


@pytest.mark.parametrize("offices, expected", [
    ([{"office_id": "o1", "name": "城东司法所", "parent_id": "countyy"}, CENTRE],
     'officers.json:offices[0]: parent_id: unknown office "countyy" (not in offices)'),
    ([{"office_id": "o1", "parent_id": "o2"}, {"office_id": "o2", "parent_id": "o3"},
      {"office_id": "o3", "parent_id": "o1"}],
     "officers.json:offices[0]: parent_id: makes a cycle (o1 → o2 → o3 → o1): the chain must "
     "end at an office without parent_id (the county's 社区矫正指挥中心)"),
    ([{"office_id": "o1", "parent_id": "o1"}],
     "officers.json:offices[0]: parent_id: makes a cycle (o1 → o1): the chain must "
     "end at an office without parent_id (the county's 社区矫正指挥中心)"),
    ([CENTRE, {**CENTRE, "name": "again"}],
     'officers.json:offices[1]: office_id: duplicate "county" (first used at offices[0])'),
    ([{**CENTRE, "parent": "x"}],
     'officers.json:offices[0]: parent: unknown field (did you mean "parent_id"?)'),
    ({"county": "x"}, 'officers.json: offices: must be a list, got {"county": "x"}'),
])
def test_bad_offices(tmp_path, offices, expected):
    assert error(tmp_path, officers=with_officers(offices=offices)) == expected


def test_offices_phones_and_addresses_load(tmp_path):
    officers = with_officers(offices=[{"office_id": "o1", "name": "城东司法所",
                                       "parent_id": "county"}, CENTRE])
    officers["officers"][0]["phone"] = "0579-82310201"
    b = load_bundle(write(tmp_path, officers=officers, persons=[
        person(phone="13905791037", address="金华市婺城区清风路10号"), person("p2")]))
    assert [(o.office_id, o.name, o.parent_id) for o in b.offices] == [
        ("o1", "城东司法所", "county"), ("county", "婺城区社区矫正指挥中心", None)]
    assert b.officers[0].phone == "0579-82310201" and b.officers[1].phone is None
    assert (b.persons[0].phone, b.persons[0].address) == ("13905791037", "金华市婺城区清风路10号")
    assert (b.persons[1].phone, b.persons[1].address) == (None, None)
    offices = Offices(b)
    assert offices.chain("o1") == ("o1", "county")
    # an office the list leaves out is its own root, named by its id
    assert (offices.chain("elsewhere"), offices.name("elsewhere")) == (("elsewhere",), "elsewhere")


@pytest.mark.parametrize("extra, expected", [
    ({"phone": "1" * 33}, "persons.jsonl:line 1: phone: must be a phone number"),
    ({"phone": "call me"}, "persons.jsonl:line 1: phone: must be a phone number"),
    ({"address": 12}, "persons.jsonl:line 1: address: must be a string of 1 to 200 characters, "
                      "got 12"),
])
def test_bad_person_contact(tmp_path, extra, expected):
    assert error(tmp_path, persons=[person(**extra)]).startswith(expected)


PERMIT = {"permit_id": "L1", "person_id": "p1", "start": "2024-05-02T08:00:00+08:00",
          "end": "2024-05-01T20:00:00+08:00"}


@pytest.mark.parametrize("permits, expected", [
    ([PERMIT], 'permits.jsonl:line 1: end: must be after start ("2024-05-02T08:00:00+08:00")'),
    ([{**PERMIT, "start": "2024-05-01 08:00"}],
     'permits.jsonl:line 1: start: must be an RFC 3339 time with an offset or Z '
     '(e.g. "2024-05-01T08:00:00+08:00") or epoch milliseconds, got "2024-05-01 08:00"'),
    ([{**PERMIT, "person_id": "p7"}],
     'permits.jsonl:line 1: person_id: unknown person "p7" (not in persons.jsonl)'),
    ([{**PERMIT, "end": "2024-05-03T08:00:00Z", "suspend_zones": ["home", "nowhere"]}],
     'permits.jsonl:line 1: suspend_zones[1]: unknown zone "nowhere" (not in zones.geojson)'),
])
def test_bad_permits(tmp_path, permits, expected):
    assert error(tmp_path, permits=permits) == expected


@pytest.mark.parametrize("toml, expected", [
    ("confirm_fixe = 3\n", 'settings.toml: confirm_fixe: unknown setting (did you mean "confirm_fixes"?)'),
    ("confirm_fixes = 0\n",
     "settings.toml: confirm_fixes: must be greater than or equal to 1, got 0"),
    ('timezone = "Asia/Shanghia"\n',
     'settings.toml: timezone: unknown time zone "Asia/Shanghia" (expected an IANA name such '
     'as "Asia/Shanghai")'),
    ("confirm_fixes = \n", "settings.toml: (toml): malformed TOML: Invalid value (at line 1, column 17)"),
])
def test_bad_settings(tmp_path, toml, expected):
    assert error(tmp_path, toml=toml) == expected


def test_environment_overrides_settings_toml(tmp_path, monkeypatch):
    bundle = write(tmp_path, toml="confirm_fixes = 3\nsilence_timeout_s = 600\n"
                                  "confirm_s = 90\naccuracy_sigmas = 3\n")
    monkeypatch.setenv("LOOKOUT_CONFIRM_FIXES", "4")
    monkeypatch.setenv("LOOKOUT_ACCURACY_SIGMAS", "2.5")
    b = load_bundle(bundle)
    assert (b.settings.confirm_fixes, b.settings.silence_timeout_s) == (4, 600)
    assert (b.settings.confirm_s, b.settings.accuracy_sigmas) == (90, 2.5)
    assert b.persons[0].silence_timeout_s == 600  # the person default follows the setting


def test_environment_names_match_in_any_case_and_others_are_left_alone(tmp_path, monkeypatch):
    bundle = write(tmp_path, toml="confirm_fixes = 3\n")
    monkeypatch.setenv("lookout_confirm_fixes", "5")
    monkeypatch.setenv("LOOKOUT_NOT_A_SETTING", "x")  # another tool's variable, not an error
    monkeypatch.setenv("LOOKOUT_DATUM_CONVERSION", "false")
    b = load_bundle(bundle)
    assert (b.settings.confirm_fixes, b.settings.datum_conversion) == (5, False)


def test_bad_environment_value_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOKOUT_CONFIRM_FIXES", "many")
    assert error(tmp_path) == ("environment: LOOKOUT_CONFIRM_FIXES: must be a valid integer, "
                               "unable to parse string as an integer")


def test_missing_required_file(tmp_path):
    write(tmp_path)
    (tmp_path / "persons.jsonl").unlink()
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path)
    assert str(info.value) == f"persons.jsonl: (file): is required but missing from {tmp_path}"
    assert (info.value.file, info.value.where, info.value.field) == ("persons.jsonl", "", "(file)")
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)


def test_parse_helpers():
    assert parse_ts_ms("1970-01-01T00:00:01.5Z") == 1500
    assert parse_ts_ms("1970-01-01T08:00:00+08:00") == 0
    assert parse_ts_ms(1714521600000) == 1714521600000
    for bad in ("1970-01-01T00:00:00", "yesterday", True, float("nan"), None):
        with pytest.raises(ValueError):
            parse_ts_ms(bad)
    assert (parse_hhmm("00:00"), parse_hhmm("23:59"), parse_hhmm("24:00", end=True)) == (0, 1439, 1440)
    for bad in ("24:00", "7:30", "12:60", "", 730):
        with pytest.raises(ValueError):
            parse_hhmm(bad)


def test_escalation_merges_toml_then_officers_json(tmp_path):
    toml = "[escalate_after_s]\ncritical = 120\nhigh = 700\n"
    b = load_bundle(write(tmp_path, officers=OFFICERS, toml=toml))
    esc = b.settings.escalate_after_s
    assert (esc.critical, esc.high, esc.medium) == (120, 600, 1800)


def test_environment_escalation_wins_and_must_be_json(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOKOUT_ESCALATE_AFTER_S", '{"high": 60}')
    assert load_bundle(write(tmp_path, officers=OFFICERS)).settings.escalate_after_s.high == 60
    monkeypatch.setenv("LOOKOUT_ESCALATE_AFTER_S", "{high: 60}")
    assert error(tmp_path) == ('environment: LOOKOUT_ESCALATE_AFTER_S: must be JSON, '
                               'e.g. {"critical": 300}')
    monkeypatch.setenv("LOOKOUT_ESCALATE_AFTER_S", "60")
    assert error(tmp_path) == ('environment: LOOKOUT_ESCALATE_AFTER_S: must be a table of '
                               'severities, e.g. {"critical": 300}')


def test_bom_corridor_and_line_separator_in_text(tmp_path):
    corridor = feature("road", "exclusion", {"type": "LineString",
                                             "coordinates": [[121, 31], [121.1, 31.1]]},
                       radius_m=30, crs="gcj02", severity="medium")
    write(tmp_path, zones=[feature(), corridor],
          persons=json.dumps(person(name="a\u2028b"), ensure_ascii=False))
    raw = (tmp_path / "persons.jsonl").read_bytes()
    (tmp_path / "persons.jsonl").write_bytes(b"\xef\xbb\xbf" + raw)
    b = load_bundle(tmp_path)
    assert b.persons[0].name == "a\u2028b"
    road = b.zones[1]
    assert (road.radius_m, road.crs, road.severity, road.buffer_m) == (30, "gcj02", "medium", 50)
