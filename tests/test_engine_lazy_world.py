"""A world's per-person columns are views of their defaults until the world's first write.

Most persons never see a drill, yet the drill world is held for all of them: it must cost
nothing until a drill sends events, and then behave exactly as if it had been there all along,
across restarts before and after the drill started.
"""

from __future__ import annotations

import numpy as np
import pytest

from alerts.engine import Engine
from alerts.state import COLUMNS, EngineState
from tests.enginekit import LAT0, LON0, Feed, bundle, east_of_edge, person


def _feed(engine: Engine) -> Feed:
    feed = Feed(engine)
    for minute in range(0, 30, 5):
        at = f"2026-11-27 09:{minute:02d}"
        feed.inside(at, pid="P1").inside(at, pid="P2")
    # the drill starts late, for one person only; the real world goes on meanwhile
    for minute in range(30, 50, 2):
        at = f"2026-11-27 09:{minute:02d}"
        feed.fix(at, *east_of_edge(2000), pid="P2", drill=True)
        feed.inside(at, pid="P1")
    feed.tick("2026-11-27 11:30").tick("2026-11-27 11:30", drill=True)
    return feed


def _run(eager: bool, restart_every: int | None) -> list[dict]:
    engine = Engine(bundle(persons=[person("P1"), person("P2"), person("P3")]))
    batch = _feed(engine).batch()
    state = engine.new_state()
    if eager:  # the old way: every column allocated up front
        state.real.own_columns()
        state.drill.own_columns()
    out = []
    for i in range(len(batch)):
        out += engine.process(state, batch.take(np.array([i])), 0)
        if restart_every and i % restart_every == 0:
            state = EngineState.from_bytes(state.to_bytes())
    return [u.to_wire() for u in out]


@pytest.mark.parametrize("restart_every", [None, 1, 7])
def test_a_late_drill_behaves_as_if_its_world_was_always_there(restart_every):
    lazy = _run(eager=False, restart_every=restart_every)
    assert lazy == _run(eager=True, restart_every=None)
    drill = [u for u in lazy if u["drill"]]
    assert {u["type"] for u in drill} >= {"zone_exit", "signal_lost"}  # the drill did raise alerts
    assert all(u["person_id"] == "P2" for u in drill)


def test_the_drill_world_is_untouched_until_a_drill_event():
    engine = Engine(bundle(persons=[person("P1"), person("P2")]))
    state = engine.new_state()
    assert state.real.untouched() and state.drill.untouched()
    engine.process(state, Feed(engine).inside("2026-11-27 09:00").batch(), 0)
    assert not state.real.untouched()
    assert state.drill.untouched()
    # a write that forgot own_columns fails loudly instead of writing a shared default
    with pytest.raises(ValueError):
        state.drill.latest_ts[0] = 1
    # a snapshot of an untouched world carries no columns, and comes back untouched
    back = EngineState.from_bytes(state.to_bytes())
    assert back.drill.untouched() and not back.real.untouched()
    assert len(state.to_bytes()) < len(_eager_bytes(state))
    for name, (dtype, fill) in COLUMNS.items():
        col = getattr(back.drill, name)
        assert col.dtype == dtype and col.shape == (2,)
        assert np.array_equal(col, np.full(2, fill, dtype=dtype), equal_nan=col.dtype.kind == "f")
    engine.process(back, Feed(engine).fix("2026-11-27 09:01", LON0, LAT0, drill=True).batch(), 0)
    assert not back.drill.untouched()
    assert back.drill.latest_ts[engine.person_index["P1"]] == back.drill.clock


def _eager_bytes(state: EngineState) -> bytes:
    copy = EngineState.from_bytes(state.to_bytes())
    copy.drill.own_columns()
    return copy.to_bytes()


def test_remap_keeps_an_untouched_world_untouched_and_a_written_one_by_person_id():
    engine = Engine(bundle(persons=[person("P1"), person("P2")]))
    state = engine.new_state()
    engine.process(state, Feed(engine).fix("2026-11-27 09:00", LON0, LAT0, pid="P2").batch(), 0)
    seen = int(state.real.latest_ts[engine.person_index["P2"]])
    engine.reload(bundle(persons=[person("P2"), person("P9"), person("P1")]), state)
    assert state.drill.untouched() and state.drill.n_persons == 3
    assert state.drill.latest_ts.shape == (3,)
    assert int(state.real.latest_ts[engine.person_index["P2"]]) == seen
    assert state.real.tracked_since[engine.person_index["P9"]] == state.real.clock
