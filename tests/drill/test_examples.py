"""The example scenarios in config/demo/drills work on the demo bundle as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from drillkit import START, InProcess

from stream.drill.plan import build_plan
from stream.drill.scenario import load_scenario

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"
EXAMPLES = sorted((DEMO / "drills").glob("*.toml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_an_example_plans_cleanly_and_every_incident_is_raised(path):
    scenario = load_scenario(path)
    assert scenario.description or "/" in scenario.name  # named in 中文 and English
    plan = build_plan(scenario, DEMO, START)
    assert plan.warnings == []
    assert [inj.problem for inj in plan.injections] == [None] * len(plan.injections)
    engine = InProcess(DEMO)
    engine.feed(plan.events)
    for inj in plan.injections:
        assert engine.raised(inj), f"{path.name}: incidents[{inj.index}] ({inj.spec.kind})"
