"""A realistic location feed (SPEC §1) from a bundle, for demos, tests and benchmarks: the
simulated world (world.py) run for some hours, as JSON-ready dicts or a JSONL file."""

from __future__ import annotations

import gzip
import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import orjson

from config.loader import load_bundle, parse_ts_ms
from config.model import PersonSpec
from stream.simulate.world import (
    _HOUR,
    BlockGenerator,
    Incident,
    World,
    fictional_names,
    person_record,
    render_events,
)

DEMO_START = "2026-11-16T06:00:00+08:00"  # a Monday; config/demo/permits.jsonl falls on it


class Feed(Iterator[dict]):
    """The events, in time order, plus what the simulator knows about them."""

    def __init__(self, events: Iterator[dict], people: list[PersonSpec], n_synthesized: int,
                 incidents: list[Incident]):
        self.render_events, self._people, self._n_synth = events, people, n_synthesized
        self.incidents = incidents

    def __next__(self) -> dict:
        return next(self.render_events)

    @property
    def persons(self) -> list[dict]:
        """Every simulated person, as persons.jsonl records."""
        return [person_record(p) for p in self._people]

    @property
    def synthesized(self) -> list[dict]:
        """The persons invented beyond the bundle's, as persons.jsonl records."""
        return [person_record(p) for p in self._people[len(self._people) - self._n_synth:]]


def _synthesize(people: list[PersonSpec], extra: int, rng: np.random.Generator) -> list[PersonSpec]:
    taken = {p.person_id for p in people}
    ids = (f"SIM{i:06d}" for i in itertools.count(1))
    ids = [pid for pid in itertools.islice((x for x in ids if x not in taken), extra)]
    templates = rng.integers(len(people), size=extra)
    return [PersonSpec(pid, name, people[t].office_id, people[t].officer_id, people[t].zones,
                       people[t].groups, people[t].silence_timeout_s, people[t].risk)
            for pid, name, t in zip(ids, fictional_names(rng, extra), templates, strict=True)]


def simulate(
    bundle_dir: str | Path,
    persons: int | None = None,
    start_ms: int | None = None,
    hours: float = 24.0,
    fix_interval_s: float = 60.0,
    seed: int = 0,
    violations: int = 3,
    *,
    synthesize: bool = False,
    tick_at_end: bool = True,
) -> Feed:
    """SPEC §1 events for the bundle's persons, in time order, as JSON-ready dicts.

    `persons` takes the first N persons of the bundle (None: all). More than the bundle has
    is an error unless `synthesize`: extra persons "SIM000001"... copy a random bundle
    person's zones, office and groups, and their records are on `Feed.synthesized` (add them
    to a bundle before replaying). A final tick at start + hours moves every timer to the end.
    """
    bundle = load_bundle(bundle_dir)
    rng = np.random.default_rng(seed)
    people = list(bundle.persons)
    if not people:
        raise ValueError(f"{bundle_dir}: persons.jsonl lists nobody")
    want = len(people) if persons is None else int(persons)
    if want < 1:
        raise ValueError(f"persons must be at least 1, not {want}")
    extra: list[PersonSpec] = []
    if want > len(people):
        if not synthesize:
            raise ValueError(f"the bundle has {len(people)} persons, {want} asked: "
                             "pass synthesize=True to invent the rest")
        extra = _synthesize(people, want - len(people), rng)
    people = (people + extra)[:want]
    start = parse_ts_ms(DEMO_START) if start_ms is None else int(start_ms)
    interval = int(round(fix_interval_s * 1000))
    if interval <= 0 or hours <= 0:
        raise ValueError("hours and fix_interval_s must be positive")
    end = start + int(round(hours * _HOUR))
    world = World(bundle, people, start, end, interval, rng)
    busy = world.plan_permits(bundle.permits)
    busy |= world.plan_violations(violations, busy)
    world.plan_power_offs(busy)
    gen = BlockGenerator(world, int((end - start) // interval))
    return Feed(render_events(world, gen, end if tick_at_end else None), people,
                len(people) - min(len(people), len(bundle.persons)),
                sorted(world.incidents, key=lambda x: (x.start_ms, x.person_id)))


def write_feed(path: str | Path, events: Iterable[dict]) -> int:
    """Events as JSON lines (gzip when the name ends in .gz, stdout for "-"); returns the count."""
    path = str(path)
    if path == "-":
        out, close = sys.stdout.buffer, False
    elif path.endswith(".gz"):
        # level 1: the feed is regenerated at will, write speed matters more than size
        out, close = gzip.open(path, "wb", compresslevel=1), True
    else:
        out, close = open(path, "wb"), True  # closed below
    dumps, opt, count = orjson.dumps, orjson.OPT_APPEND_NEWLINE, 0
    try:
        it = iter(events)
        while chunk := list(itertools.islice(it, 20_000)):
            out.write(b"".join([dumps(e, option=opt) for e in chunk]))
            count += len(chunk)
    finally:
        if close:
            out.close()
        else:
            out.flush()
    return count


# -- a bundle at benchmark scale -----------------------------------------------------------
