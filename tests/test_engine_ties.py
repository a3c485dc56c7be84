"""Same-second signatures are kept only while the tie can still matter: they go when the
person's newest ts moves on, found from the few persons holding them, not by looking at every
person of the batch."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.engine import Engine
from stream import events as ev
from tests.enginekit import Feed, bundle, ms, person


def _tie_holders(build, sizes) -> list[set[str]]:
    engine = Engine(bundle(persons=[person("P1"), person("P2"), person("P3")]))
    feed = Feed(engine)
    build(feed)
    batch, state, held, lo = feed.batch(), engine.new_state(), [], 0
    for size in sizes:
        engine.process(state, batch.take(np.arange(lo, min(lo + size, len(batch)))), 0)
        held.append({pid for pid, e in state.real.extras.items() if "tie" in e})
        lo += size
    return held


@pytest.mark.parametrize("sizes", [[3, 2, 2], [5, 2], [3, 4]])
def test_a_tie_is_forgotten_when_the_person_moves_on_and_only_then(sizes):
    def build(f):
        at, later = ms("2026-11-27 10:00"), ms("2026-11-27 10:01")
        f.inside(at, pid="P2").status(at, ev.HEARTBEAT, pid="P2").inside(at, pid="P3")
        f.inside(later, pid="P3").status(at, ev.TAMPER, pid="P2")  # P2's tie grows, P3 has none
        f.inside(later, pid="P1").inside(later, pid="P2")  # P2 moves on

    held = _tie_holders(build, sizes)
    assert held[-1] == set()
    if sizes[0] == 3:  # P2's two events of one second, the others one each
        assert held[0] == {"P2"}
    if sizes[:2] == [3, 2]:
        assert held[1] == {"P2"}
