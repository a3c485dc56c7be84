"""Edits of the bundle texts touch only what they change; file writes are atomic and
idempotent; the texts a snapshot was taken with are found back from pending changes."""

from __future__ import annotations

import json

import pytest

from alerts.admin import bundle_files, edits
from config.loader import load_bundle


def test_untouched_lines_keep_their_bytes(bundle_dir):
    texts = bundle_files.read_texts(bundle_dir)
    # a hand-formatted line, a blank line and CRLF stay as they were
    texts["persons.jsonl"] = texts["persons.jsonl"].replace("\n", "\r\n", 1) + "\n"
    edit = edits.update_person(texts, "P2", {"risk": "high", "groups": None})
    old, new = texts["persons.jsonl"].split("\n"), edit.files["persons.jsonl"].split("\n")
    assert old[0] == new[0] and old[0].endswith("\r")
    assert json.loads(new[1])["risk"] == "high" and old[2:] == new[2:]
    assert edit.before["person_id"] == edit.after["person_id"] == "P2"
    with pytest.raises(edits.EditRefused) as e:
        edits.update_person(texts, "P2", {"person_id": "P9"})
    assert e.value.status == 422


def test_release_takes_the_permits_along_and_loads(bundle_dir, tmp_path):
    texts = bundle_files.read_texts(bundle_dir)
    edit = edits.release_person(texts, "P3", "期满")
    assert set(edit.files) == {"persons.jsonl", "permits.jsonl"}
    bundle = bundle_files.load_with(bundle_dir, edit.files)
    assert [p.person_id for p in bundle.persons] == ["P1", "P2"] and bundle.permits == []
    assert bundle_files.read_texts(bundle_dir) == texts  # the scratch copy, not the folder


def test_shifts_stay_where_the_officer_had_them(bundle_dir):
    texts = bundle_files.read_texts(bundle_dir)
    top = json.loads(texts["officers.json"])
    top["shifts"] = [{"officer_id": "w1", "days": [1], "start": "08:00", "end": "12:00"},
                     {"officer_id": "w2", "days": [1], "start": "08:00", "end": "12:00"},
                     {"officer_id": "w1", "days": [2], "start": "08:00", "end": "12:00"}]
    texts["officers.json"] = json.dumps(top)
    edit = edits.set_shifts(texts, "w1", [{"days": [1, 2, 3], "start": "09:00", "end": "18:00"}])
    shifts = json.loads(edit.files["officers.json"])["shifts"]
    assert [(s["officer_id"], s["start"]) for s in shifts] == [("w1", "09:00"), ("w2", "08:00")]
    assert len(edit.before) == 2
    with pytest.raises(edits.EditRefused):
        edits.set_shifts(texts, "nobody", [])


def test_zones_one_feature_per_line(bundle_dir, tmp_path):
    texts = bundle_files.read_texts(bundle_dir)
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.0, 30.0]},
               "properties": {"zone_id": "bar", "kind": "exclusion", "radius_m": 50}}
    edit = edits.add_zone(texts, feature)
    lines = edit.files["zones.geojson"].splitlines()
    assert lines[0].startswith('{"type": "FeatureCollection", "features": [')
    assert json.loads(lines[1].rstrip(","))["properties"]["zone_id"] == "home"
    assert json.loads(lines[2]) == feature and lines[3] == "]}"
    assert [z.zone_id for z in bundle_files.load_with(bundle_dir, edit.files).zones] == [
        "home", "bar"]
    with pytest.raises(edits.EditRefused) as e:
        edits.update_zone(texts, "home", {**feature, "properties": {"zone_id": "other"}})
    assert e.value.code == "id_immutable"


def test_writes_are_idempotent_and_the_base_is_found(bundle_dir):
    texts = bundle_files.read_texts(bundle_dir)
    one = {"persons.jsonl": texts["persons.jsonl"] + '{"person_id": "P4", "office_id": "o", '
           '"officer_id": "w1"}\n'}
    two = {"persons.jsonl": one["persons.jsonl"].replace("P4", "P5"),
           "settings.toml": "feed_silence_s = 60.0\n"}
    pending = [{"after": one, "before": {"persons.jsonl": texts["persons.jsonl"]}},
               {"after": two, "before": {"persons.jsonl": one["persons.jsonl"],
                                         "settings.toml": texts["settings.toml"]}}]
    assert bundle_files.write_texts(bundle_dir, two) == ["persons.jsonl", "settings.toml"]
    assert bundle_files.write_texts(bundle_dir, two) == []
    assert bundle_files.base_texts(bundle_files.read_texts(bundle_dir), pending) == texts
    assert not [p for p in bundle_dir.iterdir() if p.name.startswith(".")]  # no temp left
    assert load_bundle(bundle_dir).settings.feed_silence_s == 60
    with pytest.raises(ValueError):
        bundle_files.write_texts(bundle_dir, {"../evil": "x"})
