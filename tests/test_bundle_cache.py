"""The compiled bundle cache gives back exactly what a full load gives, only for the exact
bundle, settings and code it was made from, and never stands in the way of a load."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from alerts import coverage
from alerts.engine import Engine
from config import cache, loader
from config.loader import BundleError, load_bundle
from config.model import PersonSpec
from config.persons import PersonTable
from stream.decode import Decoder
from tests.test_bundle import OFFICERS, feature, good_zones, person, write

GCJ_SQUARE = [[[119.6, 29.0], [119.7, 29.0], [119.7, 29.1], [119.6, 29.1], [119.6, 29.0]]]


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, tmp_path):
    """Each test its own cache folder, through the user's cache folder setting."""
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("LOOKOUT_SILENCE_TIMEOUT_S", "LOOKOUT_TIMEZONE", "LOOKOUT_ACCURACY_SIGMAS"):
        monkeypatch.delenv(name, raising=False)


def _bundle(tmp_path):
    zones = [*good_zones(), feature("county", "inclusion",
                                    {"type": "Polygon", "coordinates": GCJ_SQUARE}, crs="gcj02")]
    persons = [person("p1", phone="13905791037", address="清风路10号"),
               person("p2", zones=["county"], groups=["venues"], risk="high",
                      silence_timeout_s=600),
               {**person("p3"), "name": None}]
    return write(tmp_path, zones=zones, persons=persons, officers=OFFICERS)


def _entries(root=None):
    root = root or cache.cache_root()
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _no_reading(monkeypatch):
    """Any attempt to check the files again fails the test: the load must come from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("the bundle was read again instead of coming from the cache")
    monkeypatch.setattr(loader, "_load_checked", refuse)


def _same(a, b) -> None:
    assert list(a.persons) == list(b.persons)
    assert [z.geometry.wkb for z in a.zones] == [z.geometry.wkb for z in b.zones]
    assert [(z.zone_id, z.crs, z.buffer_m, z.schedule, z.applies_to_all) for z in a.zones] == [
        (z.zone_id, z.crs, z.buffer_m, z.schedule, z.applies_to_all) for z in b.zones]
    assert (a.officers, a.shifts, a.permits, a.offices, a.settings) == (
        b.officers, b.shifts, b.permits, b.offices, b.settings)


def test_second_load_comes_from_the_cache_and_equals_the_first(tmp_path, monkeypatch):
    path = _bundle(tmp_path)
    first = load_bundle(path)
    assert len(_entries()) == 1
    _no_reading(monkeypatch)
    second = load_bundle(path)
    _same(first, second)
    assert second.persons[0].phone == "13905791037" and second.persons[2].name == "p3"


def test_compiled_objects_from_the_cache_decide_as_freshly_built_ones(tmp_path, monkeypatch):
    path = _bundle(tmp_path)
    cold = Engine(load_bundle(path))  # builds, and keeps, zones, assignment, decoder index
    built = sorted(p.name for p in next(cache.cache_root().iterdir()).iterdir())
    assert "assignment.pickle" in built and any(n.startswith("zones") for n in built)
    warm = Engine(load_bundle(path))
    assert warm.caseload.zones is not cold.caseload.zones  # read back, not shared in memory
    rng = np.random.default_rng(7)
    n = 4000
    zone = rng.integers(0, len(cold.caseload.zone_ids), n)
    lon, lat = rng.uniform(119.5, 121.2, n), rng.uniform(28.9, 31.2, n)
    acc = rng.uniform(5, 300, n)
    assert np.array_equal(cold.caseload.zones.relate(zone, lon, lat, acc),
                          warm.caseload.zones.relate(zone, lon, lat, acc))
    a, b = cold.caseload.assignment, warm.caseload.assignment
    assert np.array_equal(a.incl_ptr, b.incl_ptr) and np.array_equal(a.incl_zone, b.incl_zone)
    # the decoder's id index, kept without its dict, finds the same persons
    lines = [json.dumps({"type": "status", "person_id": pid, "ts": 1795737600000 + i,
                         "event": "tamper"}).encode() for i, pid in enumerate(["p2", "x", "p1"])]
    for engine in (cold, warm):
        batch, rejects = Decoder(engine.person_index, engine.caseload.settings).decode(
            lines, 1795737600000 + 10)
        assert batch.person.tolist() == [1, 0] and [r.reason for r in rejects] == [
            "unknown_person"]


def test_any_change_to_a_file_is_a_new_entry(tmp_path):
    path = _bundle(tmp_path)
    load_bundle(path)
    rows = [json.loads(line) for line in (path / "persons.jsonl").read_text("utf-8").splitlines()]
    rows[0]["name"] = "张四"
    (path / "persons.jsonl").write_text("\n".join(map(json.dumps, rows)), "utf-8")
    assert load_bundle(path).persons[0].name == "张四"
    (path / "permits.jsonl").write_text(json.dumps({
        "permit_id": "L1", "person_id": "p1", "start": "2026-11-27T08:00:00+08:00",
        "end": "2026-11-27T18:00:00+08:00"}) + "\n", "utf-8")
    assert [p.permit_id for p in load_bundle(path).permits] == ["L1"]
    assert len(_entries()) == 3


def test_files_changed_just_now_are_read_again_on_every_load(tmp_path):
    """A file may change again within its timestamp's tick without its stat changing, so the
    digest of a bundle written moments ago is never remembered: each load reads it."""
    path = _bundle(tmp_path)
    load_bundle(path)
    assert not [n for n in _entries() if n.startswith("files-")]
    persons = path / "persons.jsonl"
    before = persons.stat()
    persons.write_bytes(persons.read_bytes().replace(b'"p1"', b'"q1"'))  # the same size
    os.utime(persons, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert load_bundle(path).persons[0].person_id == "q1"


def test_settled_files_are_known_by_their_stat_and_any_stat_change_reads_them(tmp_path,
                                                                               monkeypatch):
    monkeypatch.setattr(cache, "_RACY_NS", -10**12)  # every file counts as settled
    path = _bundle(tmp_path)
    first = cache.entry_folder(path, b"{}")
    memo = [n for n in _entries() if n.startswith("files-")]
    assert len(memo) == 1
    # the remembered digest is what a load with the same stats uses: the files are not read
    memo_file = cache.cache_root() / memo[0]
    stats, _digest = cache._read(memo_file)
    cache._write(memo_file, (stats, b"remembered"))
    assert cache.entry_folder(path, b"{}") not in (None, first)
    persons = path / "persons.jsonl"

    def rewrite(old: bytes, new: bytes, seconds_later: int) -> None:
        mtime = persons.stat().st_mtime_ns
        persons.write_bytes(persons.read_bytes().replace(old, new))  # the same size
        # past the timestamp's tick for sure: this test is not about the race
        os.utime(persons, ns=(mtime, mtime + seconds_later * 10**9))

    rewrite(b'"p1"', b'"q1"', 1)
    changed = cache.entry_folder(path, b"{}")
    assert changed not in (None, first)
    rewrite(b'"q1"', b'"p1"', 2)
    assert cache.entry_folder(path, b"{}") == first  # read again: the same bytes, the same key


def test_settings_from_the_environment_are_part_of_the_key(tmp_path, monkeypatch):
    path = _bundle(tmp_path)
    assert load_bundle(path).persons[0].silence_timeout_s == 1800
    monkeypatch.setenv("LOOKOUT_SILENCE_TIMEOUT_S", "900")
    assert load_bundle(path).persons[0].silence_timeout_s == 900  # the default follows
    monkeypatch.setenv("LOOKOUT_SILENCE_TIMEOUT_S", "0")
    with pytest.raises(BundleError, match="LOOKOUT_SILENCE_TIMEOUT_S"):
        load_bundle(path)  # a bad setting is refused before any cache is looked at


def test_code_changes_make_a_new_key(tmp_path, monkeypatch):
    path = _bundle(tmp_path)
    load_bundle(path)
    monkeypatch.setattr(cache, "_code_digest", b"another version of the code")
    load_bundle(path)
    assert len(_entries()) == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "other format"])
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, damage):
    path = _bundle(tmp_path)
    first = load_bundle(path)
    entry = cache.cache_root() / _entries()[0] / "bundle.pickle"
    data = bytearray(entry.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        del data[len(data) // 2:]
    elif damage == "empty":
        data = bytearray()
    else:
        data[:len(b"lookout-bundle-cache")] = b"lookout-bundle-cachX"
    entry.write_bytes(bytes(data))
    _same(first, load_bundle(path))
    assert entry.read_bytes()[:20] == b"lookout-bundle-cache"  # written again, whole
    _same(first, load_bundle(path))


def test_a_bad_bundle_is_never_cached_nor_hidden_by_a_good_one(tmp_path):
    path = _bundle(tmp_path)
    load_bundle(path)
    good = _entries()
    rows = (path / "persons.jsonl").read_text("utf-8").splitlines()
    rows[1] = rows[1].replace('"county"', '"nowhere"')
    (path / "persons.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    for _ in range(2):
        with pytest.raises(BundleError) as info:
            load_bundle(path)
        assert str(info.value).startswith(
            'persons.jsonl:line 2: zones[0]: unknown zone "nowhere" (not in zones.geojson)')
    assert _entries() == good


def test_cache_setting_moves_or_turns_it_off(tmp_path, monkeypatch):
    (tmp_path / "b").mkdir()
    path = _bundle(tmp_path / "b")
    monkeypatch.setenv(cache.ENV, "off")
    load_bundle(path)
    assert not (tmp_path / "xdg").exists()
    elsewhere = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(elsewhere))
    first = load_bundle(path)
    assert not (tmp_path / "xdg").exists() and len(list(elsewhere.glob("*/bundle.pickle"))) == 1
    assert sorted(p.name for p in path.iterdir()) == [
        "officers.json", "persons.jsonl", "zones.geojson"]  # nothing written beside the bundle
    _no_reading(monkeypatch)
    _same(first, load_bundle(path))


def test_a_copy_of_the_bundle_elsewhere_uses_the_same_entry(tmp_path, monkeypatch):
    import shutil

    (tmp_path / "a").mkdir()
    path = _bundle(tmp_path / "a")
    first = load_bundle(path)
    copy = shutil.copytree(path, tmp_path / "scratch")
    _no_reading(monkeypatch)
    again = load_bundle(copy)
    _same(first, again)
    assert again.path == copy


def test_a_folder_that_cannot_be_written_still_loads(tmp_path, monkeypatch):
    path = _bundle(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the cache folder would go", "utf-8")
    monkeypatch.setenv(cache.ENV, str(blocked))
    _same(load_bundle(path), load_bundle(path))
    assert blocked.is_file()


def test_old_entries_are_pruned_unless_used_lately(tmp_path, monkeypatch):
    path = _bundle(tmp_path)
    for i in range(cache._KEEP + 3):
        (path / "settings.toml").write_text(f"silence_timeout_s = {600 + i}\n", "utf-8")
        load_bundle(path)
    assert len(_entries()) == cache._KEEP + 3  # all used within the last days
    monkeypatch.setattr(cache.time, "time", lambda: 1e12)  # long after
    (path / "settings.toml").write_text("silence_timeout_s = 42\n", "utf-8")
    load_bundle(path)
    assert len(_entries()) == cache._KEEP


def test_a_bundle_changed_after_loading_builds_its_own(tmp_path):
    from dataclasses import replace

    path = _bundle(tmp_path)
    loaded = load_bundle(path)
    fewer = replace(loaded, persons=list(loaded.persons)[:2])
    assert cache.compiled(fewer) is not loaded.compiled
    assert Engine(fewer).caseload.assignment.n_persons == 2
    gaps = coverage.report(loaded, stream=io.StringIO())
    assert gaps == coverage.coverage_gaps(loaded)


def test_person_table_reads_as_the_list_it_was_made_of():
    specs = [PersonSpec("a", "甲", "o1", "w1", ("z1",), ("g",), 600.0, "high", "139", None),
             PersonSpec("b", "", "o2", "w1", (), (), 1800.0, "medium", None, "路"),
             PersonSpec("c", "丙", "o1", "w2", ("z1", "z2"), (), 1800.0, "low")]
    table = PersonTable.from_specs(specs)
    assert list(table) == specs and table == specs and len(table) == 3
    assert table[-1] == specs[-1] and table[1:] == specs[1:] and table[1].name == ""
    assert table.names.has_empty() and list(table.names) == ["甲", "", "丙"]
    assert table.office_ids() == ["o1", "o2", "o1"] and table.officer_ids() == ["w1", "w1", "w2"]
    with pytest.raises(IndexError):
        table[3]
    with pytest.raises(IndexError):
        table[-4]
    assert PersonTable.of(table) is table


def test_fast_columns_match_the_line_by_line_table(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, "off")
    path = _bundle(tmp_path)
    fast = load_bundle(path).persons
    monkeypatch.setattr(loader, "fast_persons", lambda *a: None)
    slow = load_bundle(path).persons
    assert isinstance(fast, PersonTable) and isinstance(slow, PersonTable)
    assert list(fast) == list(slow)
