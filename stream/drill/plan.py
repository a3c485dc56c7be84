"""A drill's whole feed, planned before anything is sent.

    plan = build_plan(scenario, bundle_dir, start_ms)

The base feed is the simulator's (the incident persons plus `base.persons` others, so the
drill world looks like a working day) or a recording shifted to start at `start_ms`. The
injections replace their persons' base events while they run. Drill ticks every
`tick_every_s` keep the drill clock moving: in the embedded service the wall-clock ticks
belong to the real world, and a drill's silence timers must still fire. Every event carries
`drill: true`.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from alerts.caseload import Caseload
from config.loader import BundleError, load_bundle, parse_ts_ms
from geofences.crs import to_wgs84
from stream.drill import inject
from stream.drill.inject import Injection
from stream.drill.places import Places, Point
from stream.drill.scenario import Scenario, ScenarioError

TAIL_MS = 60_000  # after the last decisive moment, so the alert has time to come out


@dataclass
class DrillPlan:
    scenario: Scenario
    start_ms: int
    end_ms: int
    events: list[dict]  # in send order (ts, then planned order), every one drill: true
    injections: list[Injection]
    base_events: int = 0
    warnings: list[str] = field(default_factory=list)
    timezone: str = "Asia/Shanghai"

    def lines(self) -> list[bytes]:
        return [orjson.dumps(e) for e in self.events]

    def write(self, path: Path) -> None:
        with gzip.open(path, "wb", compresslevel=1) as fh:
            for line in self.lines():
                fh.write(line + b"\n")


def build_plan(scenario: Scenario, bundle_dir: str | Path, start_ms: int) -> DrillPlan:
    bundle = load_bundle(bundle_dir)
    cl = Caseload(bundle)
    places = Places(cl, scenario.seed)
    tracks: dict = {}

    def anchor_at(p: int | None, person_id: str, ts: int) -> Point:
        return _anchor(places, p, tracks.get(person_id), ts)

    ctx = inject.Context(places, scenario.path, int(scenario.fix_interval_s * 1000),
                         scenario.travel_speed_mps, start_ms, anchor_at)
    # First from calm spots, only to learn how long the base feed must run.
    rough = [_make(ctx, spec, start_ms, cl) for spec in scenario.incidents]
    end_ms = _end(scenario, start_ms, rough)
    warnings: list[str] = []
    if scenario.base_source == "simulate":
        base = _simulated(scenario, bundle_dir, bundle, start_ms, end_ms + TAIL_MS, warnings)
    else:
        base = _recorded(scenario, start_ms, end_ms + TAIL_MS, cl, warnings)
    tracks.update(_tracks(base))
    injections = [_make(ctx, spec, start_ms, cl) for spec in scenario.incidents]
    for inj in injections:
        late = inj.spec.kind in ("leave_zone", "enter_exclusion") and inj.start_ts == start_ms \
            and inj.decisive_ts is not None \
            and inj.decisive_ts - start_ms > inj.spec.offset_s * 1000 + 60_000
        if late:
            warnings.append(
                f"incidents[{inj.index}]: the trip takes until +{(inj.decisive_ts - start_ms) / 1000:g} s, "
                f"not +{inj.spec.offset_s:g} s: raise offset_s or drill.travel_speed_mps / "
                "行程较长，实际到达晚于设定时间")
    _check_overlaps(scenario, injections)
    end_ms = max(end_ms, _end(scenario, start_ms, injections))
    base = _without_quiet(base, injections, end_ms)
    ticks = [{"type": "tick", "ts": t} for t in range(
        start_ms, end_ms, int(scenario.tick_every_s * 1000))] + [{"type": "tick", "ts": end_ms}]
    merged = base + [e for inj in injections for e in inj.events] + ticks
    merged.sort(key=lambda e: e["ts"])  # stable: a person's own order survives equal times
    for e in merged:
        e["drill"] = True
    return DrillPlan(scenario, start_ms, end_ms, merged, injections, len(base), warnings,
                     bundle.settings.timezone)


def _make(ctx, spec, start_ms: int, cl: Caseload) -> Injection:
    return inject.build(ctx, spec, cl.index.get(spec.person), start_ms + int(spec.offset_s * 1000))


def _anchor(places: Places, p: int | None, track, t0: int) -> Point:
    """Where the person is when the incident starts: their last base fix, else a calm spot."""
    if track:
        k = bisect_right(track[0], t0) - 1
        if k >= 0:
            return track[1][k]
    if p is not None:
        home = places.home(p)
        if home is not None:
            return home
    return places.inside(0) if places.specs else (0.0, 0.0)


def _end(scenario: Scenario, start_ms: int, injections: list[Injection]) -> int:
    need = max(max(i.end_ts, i.decisive_ts or 0) for i in injections) + TAIL_MS
    if scenario.duration_s is not None:
        given = start_ms + int(scenario.duration_s * 1000)
        late = [i for i in injections if max(i.end_ts, i.decisive_ts or 0) >= given]
        if late:
            i = late[0]
            raise ScenarioError(scenario.path, "drill.duration_s",
                                f"{scenario.duration_s:g} s ends before incidents[{i.index}] "
                                f"({i.spec.kind} of {i.person_id}) is over at "
                                f"{(max(i.end_ts, i.decisive_ts or 0) - start_ms) / 1000:g} s")
        return max(given, start_ms)
    return need


def _check_overlaps(scenario: Scenario, injections: list[Injection]) -> None:
    by_person: dict[str, list[Injection]] = {}
    for inj in injections:
        if inj.quiet is not None:
            by_person.setdefault(inj.person_id, []).append(inj)
    for runs in by_person.values():
        runs.sort(key=lambda i: i.quiet[0])
        for a, b in zip(runs, runs[1:], strict=False):
            if b.quiet[0] < a.quiet[1]:
                raise ScenarioError(
                    scenario.path, f"incidents[{b.index}].offset_s",
                    f"{b.spec.kind} of {b.person_id} starts while incidents[{a.index}] "
                    f"({a.spec.kind}) still runs (until {(a.quiet[1] - a.start_ts) / 1000:g} s "
                    "after its start)")


def _without_quiet(base: list[dict], injections: list[Injection], end_ms: int) -> list[dict]:
    quiet: dict[str, list[tuple[int, int]]] = {}
    for inj in injections:
        if inj.quiet is not None:
            quiet.setdefault(inj.person_id, []).append(inj.quiet)
    out = []
    for e in base:
        if e["ts"] > end_ms:
            continue
        spans = quiet.get(e.get("person_id"))
        if spans and any(a <= e["ts"] < b for a, b in spans):
            continue
        out.append(e)
    return out


def _tracks(base: list[dict]) -> dict[str, tuple[list[int], list[Point]]]:
    """person -> (fix times, WGS-84 positions), ascending."""
    rows: dict[str, list] = {}
    for e in base:
        if e.get("type") == "fix" and isinstance(e.get("lat"), int | float):
            rows.setdefault(e["person_id"], []).append(e)
    out = {}
    for pid, fixes in rows.items():
        fixes.sort(key=lambda e: e["ts"])
        lon = np.array([e["lon"] for e in fixes], dtype=float)
        lat = np.array([e["lat"] for e in fixes], dtype=float)
        for crs in {e.get("crs", "wgs84") for e in fixes} - {"wgs84"}:
            rows_crs = np.array([e.get("crs", "wgs84") == crs for e in fixes])
            lon[rows_crs], lat[rows_crs] = to_wgs84(lon[rows_crs], lat[rows_crs], crs)
        out[pid] = ([e["ts"] for e in fixes], list(zip(lon.tolist(), lat.tolist(), strict=True)))
    return out


# -- base feeds -------------------------------------------------------------------------------

def _simulated(scenario: Scenario, bundle_dir, bundle, start_ms: int, end_ms: int,
               warnings: list[str]) -> list[dict]:
    from stream.simulate.feed import simulate

    wanted = list(dict.fromkeys(s.person for s in scenario.incidents))
    known = {p.person_id for p in bundle.persons}
    others = [p.person_id for p in bundle.persons if p.person_id not in wanted]
    rng = np.random.default_rng(scenario.seed)
    extra = [others[i] for i in sorted(rng.permutation(len(others))[: scenario.base_persons])]
    chosen = [pid for pid in wanted if pid in known] + extra
    if not chosen:
        warnings.append("no base feed: no incident person is in the bundle and base.persons = 0")
        return []
    with tempfile.TemporaryDirectory(prefix="lookout-drill-") as tmp:
        sub = _sub_bundle(Path(bundle_dir), Path(tmp), set(chosen))
        try:
            feed = simulate(sub, start_ms=start_ms, hours=(end_ms - start_ms) / 3_600_000,
                            fix_interval_s=scenario.fix_interval_s, seed=scenario.seed,
                            violations=0, tick_at_end=False)
            events = [e for e in feed if e["type"] != "tick"]
        except (ValueError, BundleError) as exc:
            raise ScenarioError(scenario.path, "base", f"the simulator refused: {exc}") from None
    for e in events:
        e["ts"] = parse_ts_ms(e["ts"])
    return events


def _sub_bundle(src: Path, dst: Path, persons: set[str]) -> Path:
    """The bundle with only the chosen persons (and their permits), for the simulator."""
    for name in ("zones.geojson", "officers.json", "settings.toml"):
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    for name in ("persons.jsonl", "permits.jsonl"):
        if not (src / name).is_file():
            continue
        keep = []
        for line in (src / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line).get("person_id") in persons:
                keep.append(line)
        (dst / name).write_text("".join(x + "\n" for x in keep), encoding="utf-8")
    return dst


def _base_events(path, cl: Caseload) -> tuple[list[dict], int, int]:
    """The recorded feed's events of the bundle's persons, and how many lines were unreadable
    and how many named persons the bundle does not have."""
    from stream.source import read_chunks

    events, skipped, unknown = [], 0, 0
    for chunk in read_chunks([path], chunk_lines=50_000):
        for raw in (r for r in chunk if r.strip()):
            e = _event_of(raw)
            if e is None:
                skipped += 1
            elif e.get("type") == "tick":
                continue  # the drill sends its own
            elif e.get("person_id") not in cl.index:
                unknown += 1  # it would only fill the dead letters
            else:
                events.append(e)
    return events, skipped, unknown


def _event_of(raw: bytes) -> dict | None:
    try:
        e = orjson.loads(raw)
        e["ts"] = parse_ts_ms(e.get("ts"))
    except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
        return None
    return e


def _recorded(scenario: Scenario, start_ms: int, end_ms: int, cl: Caseload,
              warnings: list[str]) -> list[dict]:
    events, skipped, unknown = _base_events(scenario.base_file, cl)
    if not events:
        raise ScenarioError(scenario.path, "base.file",
                            f"{scenario.base_file}: no usable event for this bundle")
    events.sort(key=lambda e: e["ts"])
    shift = start_ms - events[0]["ts"]
    for e in events:
        e["ts"] += shift
    if skipped:
        warnings.append(f"base.file: {skipped} unreadable records left out")
    if unknown:
        warnings.append(f"base.file: {unknown} records of persons not in the bundle left out")
    return [e for e in events if e["ts"] <= end_ms]
