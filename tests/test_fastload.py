"""The fast bundle path builds exactly what the line-by-line checks build, and leaves every
problem to them, so a bad bundle still names file, line and field."""

from __future__ import annotations

import json

import pytest

from config import loader
from config.loader import BundleError, load_bundle
from tests.test_bundle import SQUARE, feature, good_zones, person, write


def _line_by_line(monkeypatch, path):
    """The reference: the same loader with the fast path declining everything."""
    with monkeypatch.context() as m:
        m.setattr(loader, "fast_persons", lambda *a: None)
        m.setattr(loader, "raw_geometries", lambda text: None)
        return load_bundle(path)


def _same(a, b) -> None:
    assert a.persons == b.persons
    assert [z.geometry.wkb for z in a.zones] == [z.geometry.wkb for z in b.zones]
    assert [(z.zone_id, z.radius_m, z.buffer_m, z.schedule) for z in a.zones] == [
        (z.zone_id, z.radius_m, z.buffer_m, z.schedule) for z in b.zones]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("LOOKOUT_SILENCE_TIMEOUT_S", raising=False)
    # each load must go through the paths compared here, not come from the cache
    monkeypatch.setenv("LOOKOUT_BUNDLE_CACHE", "off")


def test_fast_path_builds_what_the_checks_build(tmp_path, monkeypatch):
    rows = [
        person("p1", groups=["禁止令-娱乐场所"], silence_timeout_s=600, risk="high",
               phone="13905791037", address="金华市婺城区清风路10号"),
        {**person("p2"), "name": None, "zones": None, "groups": None, "risk": None},
        person("p3", silence_timeout_s=0.5, zones=["home", "curfew"]),
    ]
    text = "\ufeff" + "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:2])
    text += "\n\n   \n" + json.dumps(rows[2]) + "\n"
    # a duplicate key keeps the last value, as json.loads does
    text += '{"person_id": "p4", "office_id": "o1", "officer_id": "w1", "name": "旧", "name": "新"}'
    holes = [SQUARE[0], [[121.02, 31.02], [121.03, 31.02], [121.03, 31.03], [121.02, 31.02]]]
    zones = good_zones() + [
        feature("holed", "exclusion", {"type": "Polygon", "coordinates": holes}),
        feature("two", "exclusion", {"type": "MultiPolygon", "coordinates": [SQUARE, SQUARE]}),
        feature("road", "exclusion", {"type": "LineString", "coordinates": [[121, 31], [121.1, 31]]},
                radius_m=50),
        feature("tall", "exclusion", {"type": "Point", "coordinates": [121, 31, 12.5]},
                radius_m=50),  # 3-D: GEOS would keep the height, so the checks take it
    ]
    path = write(tmp_path, zones=zones, persons=text)
    fast = load_bundle(path)
    assert [p.person_id for p in fast.persons] == ["p1", "p2", "p3", "p4"]
    assert fast.persons[1].name == "p2" and fast.persons[1].zones == ()
    assert fast.persons[3].name == "新"
    _same(fast, _line_by_line(monkeypatch, path))
    # and the fast path did take these files: it is what made the objects
    made = []
    real = loader.fast_persons
    monkeypatch.setattr(loader, "fast_persons", lambda *a: made.append(real(*a)) or made[-1])
    assert load_bundle(path).persons == fast.persons and made[0] == fast.persons
    raws = loader.raw_geometries((path / "zones.geojson").read_text("utf-8"))
    declared = [f["geometry"]["type"] for f in zones]
    taken = [loader.fast_geometry(t, raw) for t, raw in zip(declared, raws, strict=True)]
    assert [g is not None for g in taken] == [True] * 6 + [False]  # all but the 3-D point


@pytest.mark.parametrize(("persons", "expected"), [
    # two objects on one line would be two rows in one JSON array
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1"},'
     '{"person_id": "p2", "office_id": "o1", "officer_id": "w1"}',
     "persons.jsonl:line 1: (line): malformed JSON: Extra data at column"),
    # a form feed is Python's whitespace, not JSON's
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1"}\x0c',
     "persons.jsonl:line 1: (line): malformed JSON: Extra data at column"),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1", "silence_timeout_s": NaN}',
     "persons.jsonl:line 1: silence_timeout_s: must be a number, got NaN"),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1"}\n'
     '{"person_id": "p1", "office_id": "o1", "officer_id": "w1"}',
     'persons.jsonl:line 2: person_id: duplicate "p1" (first used at line 1)'),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1", "zones": ["nowhere"]}',
     'persons.jsonl:line 1: zones[0]: unknown zone "nowhere" (not in zones.geojson)'),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1", "phone": ""}',
     'persons.jsonl:line 1: phone: must be a phone number such as'),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1", "phone": "ask the office"}',
     'persons.jsonl:line 1: phone: must be a phone number such as'),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1", "risk": "extreme"}',
     'persons.jsonl:line 1: risk: must be "low", "medium" or "high", got "extreme"'),
    ('{"person_id": "p1", "office_id": "o1", "officer_id": "w1", "silence_timeout_s": true}',
     "persons.jsonl:line 1: silence_timeout_s: must be a number, got true"),
])
def test_bad_persons_still_name_line_and_field(tmp_path, persons, expected):
    with pytest.raises(BundleError) as info:
        load_bundle(write(tmp_path, persons=persons))
    assert str(info.value).startswith(expected)


@pytest.mark.parametrize(("geometry", "expected"), [
    ({"type": "Point", "coordinates": [121, True]}, "geometry.coordinates: must be a position"),
    ({"type": "Point", "coordinates": [121, "31"]}, "geometry.coordinates: must be a position"),
    ({"type": "Point", "coordinates": [121, 91]},
     "geometry.coordinates: latitude 91 is outside [-90, 90]"),
    ({"type": "Polygon", "coordinates": [[[121, 31], [121.1, 31], [181, 31.1], [121, 31]]]},
     "geometry.coordinates[0][2]: longitude 181 is outside [-180, 180]"),
])
def test_bad_geometries_still_name_feature_and_field(tmp_path, geometry, expected):
    zones = [feature("home", "inclusion"), feature("x", "exclusion", geometry, radius_m=10)]
    with pytest.raises(BundleError) as info:
        load_bundle(write(tmp_path, zones=zones))
    assert str(info.value).startswith("zones.geojson:feature #2: " + expected)


def test_unclosed_ring_is_closed_as_before(tmp_path, monkeypatch):
    # GEOS refuses an unclosed ring; shapely's shape() closes it, and so the loader still does
    open_ring = [[[121, 31], [121.1, 31], [121.1, 31.1], [121, 31.1]]]
    zones = [feature("home", "inclusion", {"type": "Polygon", "coordinates": open_ring})]
    path = write(tmp_path, zones=zones)
    _same(load_bundle(path), _line_by_line(monkeypatch, path))


def test_chunks_decode_like_one_array(tmp_path, monkeypatch):
    from config import fastload

    rows = [json.dumps(person(f"p{i}")) for i in range(7)]
    path = write(tmp_path, persons="\n".join(rows) + "\n\n")
    whole = load_bundle(path).persons
    monkeypatch.setattr(fastload, "_CHUNK_LINES", 3)  # chunks of 3, 3 and 1 lines
    assert load_bundle(path).persons == whole and len(whole) == 7
    # two records on line 5, in the second chunk, still fail where the loader says
    rows[4] += "," + json.dumps(person("p9"))
    with pytest.raises(BundleError, match="persons.jsonl:line 5: \\(line\\): malformed JSON"):
        load_bundle(write(tmp_path, persons="\n".join(rows)))
