"""Planned drill feeds, checked against the engine in process (no service, no network).

The plan's `decisive_ts` must be exactly when the rules can raise the incident: nothing before
the event that carries it, the alert with it. That is what makes `due_at`, and so the
scorecard's detection time, honest.
"""

from __future__ import annotations

import gzip

import orjson
from drillkit import ALL_KINDS, START, InProcess

from stream.drill.plan import build_plan
from stream.drill.scenario import load_scenario, parse_scenario


def plan_of(tmp_path, bundle, text: str):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return build_plan(load_scenario(path), bundle, START)


def test_each_kind_is_raised_exactly_at_its_decisive_event(tmp_path, bundle):
    plan = plan_of(tmp_path, bundle, ALL_KINDS)
    assert all(inj.problem is None for inj in plan.injections)
    assert all(e["drill"] is True for e in plan.events)
    assert [e["ts"] for e in plan.events] == sorted(e["ts"] for e in plan.events)
    engine = InProcess(bundle)
    done = 0
    for inj in sorted(plan.injections, key=lambda i: i.decisive_ts):
        assert inj.start_ts <= inj.decisive_ts <= max(inj.end_ts, inj.decisive_ts)
        before = [e for e in plan.events[done:] if e["ts"] < inj.decisive_ts]
        engine.feed(before)
        done += len(before)
        assert not engine.raised(inj), f"{inj.spec.kind} raised before its decisive event"
        decisive = next(e["ts"] for e in plan.events[done:] if e["ts"] >= inj.decisive_ts)
        upto = [e for e in plan.events[done:] if e["ts"] <= decisive]
        engine.feed(upto)
        done += len(upto)
        assert engine.raised(inj), f"{inj.spec.kind} not raised by its decisive event"
    engine.feed(plan.events[done:])
    mine = {(a["person_id"], a["type"]) for a in engine.alerts if a["version"] == 1}
    wanted = {(i.person_id, i.expected_type) for i in plan.injections}
    assert wanted <= mine
    # the base feed's persons live an ordinary day: nothing else is raised for the incident
    # persons (a jump's far point is inside home, a trip's straight line raises no jump)
    incident_persons = {i.person_id for i in plan.injections}
    assert {a for a in mine if a[0] in incident_persons} == wanted


def test_incidents_that_cannot_work_are_sent_with_their_problem(tmp_path, bundle):
    plan = plan_of(tmp_path, bundle, """
[[incidents]]
person = "P1"
kind = "leave_zone"
offset_s = 0
zone = "riverside"

[[incidents]]
person = "P2"
kind = "go_silent"
offset_s = 0
duration_s = 60

[[incidents]]
person = "P404"
kind = "tamper"
offset_s = 0

[[incidents]]
person = "P3"
kind = "enter_exclusion"
offset_s = 0
zone = "bar"
""")
    problems = [inj.problem for inj in plan.injections]
    assert "zone 'riverside' is not in the bundle" in problems[0]
    assert "not past the 86400 s silence timeout" in problems[1]
    assert "person 'P404' is not in the bundle" in problems[2]
    assert "zone 'bar' does not apply to 'P3'" in problems[3]
    assert all(inj.decisive_ts is None and inj.events for inj in plan.injections)
    engine = InProcess(bundle)
    engine.feed([e for e in plan.events if e.get("person_id") != "P404"])
    for inj in plan.injections:
        assert not engine.raised(inj)


def test_a_recorded_base_is_shifted_to_the_drill_start(tmp_path, bundle):
    recording = tmp_path / "day.jsonl.gz"
    t0 = 1_700_000_000_000
    rows = [{"type": "fix", "person_id": p, "ts": t0 + k * 60_000, "lat": 30.0 + k * 1e-4,
             "lon": 120.0, "accuracy_m": 12} for k in range(20) for p in ("P1", "P7")]
    rows += [{"type": "fix", "person_id": "STRANGER", "ts": t0, "lat": 30.0, "lon": 120.0},
             {"type": "tick", "ts": t0 + 5}]
    with gzip.open(recording, "wb") as fh:
        fh.write(b"".join(orjson.dumps(r) + b"\n" for r in rows) + b"{broken\n")
    text = f"""
[base]
source = "recorded"
file = "{recording.name}"

[[incidents]]
person = "P1"
kind = "power_off"
offset_s = 300
duration_s = 120
"""
    plan = plan_of(tmp_path, bundle, text)
    base = [e for e in plan.events if e["type"] == "fix" and e["person_id"] == "P7"]
    assert base[0]["ts"] == START and base[1]["ts"] == START + 60_000
    p1 = [e["ts"] - START for e in plan.events if e.get("person_id") == "P1"]
    # P1's own fixes stop while the phone is off, and the incident's events take their place
    assert not [t for t in p1 if 300_000 < t < 420_000]
    assert 300_000 in p1 and 420_000 in p1
    assert not any(e.get("person_id") == "STRANGER" for e in plan.events)
    assert plan.warnings == ["base.file: 1 unreadable records left out",
                             "base.file: 1 records of persons not in the bundle left out"]


def test_a_scenario_read_from_a_dict_plans_the_same(tmp_path, bundle):
    import tomllib

    a = plan_of(tmp_path, bundle, ALL_KINDS)
    b = build_plan(parse_scenario(tomllib.loads(ALL_KINDS), "inline.toml"), bundle, START)
    assert a.lines() == b.lines()
