"""Drill scenario files (TOML): a base feed, injected incidents and targets.

Every mistake names the file and the field (`drills/night.toml: incidents[2].kind: ...`), the
way bundle errors do, so whoever wrote the scenario can fix it without reading code. Checks
that need the bundle (zones, persons, durations) happen when the drill is planned (plan.py).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# kind -> the alert type (SPEC §3) that must answer it
KINDS = {
    "leave_zone": "zone_exit",
    "enter_exclusion": "zone_enter",
    "power_off": "device_off",
    "go_silent": "signal_lost",
    "tamper": "tamper",
    "jump": "location_jump",
}
BASE_SOURCES = ("simulate", "recorded")

_TOP = ("drill", "base", "targets", "incidents")
_DRILL = ("name", "description", "duration_s", "seed", "tick_every_s", "travel_speed_mps")
_BASE = ("source", "persons", "fix_interval_s", "file")
_TARGETS = ("detect_within_s", "acknowledge_within_s")
_INCIDENT = ("person", "kind", "offset_s", "zone", "duration_s", "distance_m", "note",
             "detect_within_s", "acknowledge_within_s")


class ScenarioError(ValueError):
    def __init__(self, file: str, field: str, problem: str):
        super().__init__(file, field, problem)
        self.file, self.field, self.problem = file, field, problem

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem}" if self.field else \
            f"{self.file}: {self.problem}"


@dataclass(frozen=True)
class Targets:
    detect_within_s: float = 60.0
    acknowledge_within_s: float | None = None  # absent: acknowledgement is not scored


@dataclass(frozen=True)
class IncidentSpec:
    index: int
    person: str
    kind: str
    offset_s: float
    zone: str | None = None
    duration_s: float | None = None
    distance_m: float | None = None
    note: str = ""
    targets: Targets = field(default_factory=Targets)

    @property
    def expected_type(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class Scenario:
    path: str
    text: str
    name: str
    description: str
    base_source: str
    base_persons: int
    fix_interval_s: float
    base_file: str | None  # resolved against the scenario's folder
    duration_s: float | None
    seed: int
    tick_every_s: float
    travel_speed_mps: float
    targets: Targets
    incidents: tuple[IncidentSpec, ...]


class _Table:
    """One TOML table under check; errors carry the file and the dotted field path."""

    def __init__(self, data: Any, file: str, prefix: str):
        self.file, self.prefix = file, prefix
        if not isinstance(data, dict):
            raise ScenarioError(file, prefix.rstrip(".") or "(file)",
                                f"must be a table, got {_show(data)}")
        self.data = data

    def fail(self, key: str, problem: str):
        raise ScenarioError(self.file, self.prefix + key, problem)

    def only(self, allowed: tuple[str, ...]) -> None:
        # a typo such as "ofset_s" must not silently leave a default in force
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.fail(key, "unknown field" + hint)

    def text(self, key: str, *, required: bool = False) -> str | None:
        v = self.data.get(key)
        if v is None:
            if required:
                self.fail(key, "is required")
            return None
        if not isinstance(v, str) or not v.strip():
            self.fail(key, f"must be a non-empty string, got {_show(v)}")
        return v

    def num(self, key: str, default: Any, *, positive: bool = False) -> Any:
        if key not in self.data:
            if default is ...:
                self.fail(key, "is required")
            return default
        v = self.data[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.fail(key, f"must be a number, got {_show(v)}")
        if positive and v <= 0:
            self.fail(key, f"must be greater than 0, got {_show(v)}")
        if v < 0:
            self.fail(key, f"must not be negative, got {_show(v)}")
        return float(v)

    def integer(self, key: str, default: int) -> int:
        v = self.data.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            self.fail(key, f"must be a whole number ≥ 0, got {_show(v)}")
        return v

    def choice(self, key: str, choices, default: Any = ...) -> str:
        v = self.data.get(key, default)
        if v is ...:
            self.fail(key, "is required")
        if v not in choices:
            quoted = ", ".join(f'"{c}"' for c in choices)
            self.fail(key, f"must be one of {quoted}, got {_show(v)}")
        return v

    def sub(self, key: str) -> _Table:
        return _Table(self.data.get(key, {}), self.file, f"{self.prefix}{key}.")


def _show(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else f'"{v}"'
    return text if len(text) <= 60 else text[:57] + "..."


def _targets(t: _Table, base: Targets) -> Targets:
    ack = base.acknowledge_within_s
    if "acknowledge_within_s" in t.data:
        ack = t.num("acknowledge_within_s", None)
    return Targets(t.num("detect_within_s", base.detect_within_s), ack)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; raises ScenarioError naming the file and field."""
    p = Path(path)
    file = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(file, "", "no such file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(file, "", f"not UTF-8 text ({exc.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(file, "", f"TOML syntax: {exc}") from None
    return parse_scenario(data, file, text, p.resolve().parent)


def _base_file(base: _Table, source: str, folder: Path | None) -> str | None:
    """base.file, resolved against the scenario's folder: required by (and only for) a
    recorded base."""
    base_file = base.text("file")
    if source != "recorded":
        if base_file is not None:
            base.fail("file", 'only goes with source = "recorded"')
        return None
    if base_file is None:
        base.fail("file", 'is required when source = "recorded"')
    resolved = Path(base_file)
    if not resolved.is_absolute() and folder is not None:
        resolved = folder / resolved
    if not resolved.is_file():
        base.fail("file", f"no such file: {resolved}")
    return str(resolved)


def parse_scenario(data: dict, file: str, text: str = "", folder: Path | None = None) -> Scenario:
    top = _Table(data, file, "")
    top.only(_TOP)
    drill = top.sub("drill")
    drill.only(_DRILL)
    name = drill.text("name") or Path(file).stem
    description = drill.text("description") or ""
    drill_duration = drill.num("duration_s", None, positive=True)
    seed = drill.integer("seed", 0)
    tick_every = drill.num("tick_every_s", 10.0, positive=True)
    travel = drill.num("travel_speed_mps", 15.0, positive=True)

    base = top.sub("base")
    base.only(_BASE)
    source = base.choice("source", BASE_SOURCES, "simulate")
    persons = base.integer("persons", 10)
    interval = base.num("fix_interval_s", 60.0, positive=True)
    base_file = _base_file(base, source, folder)

    targets_table = top.sub("targets")
    targets_table.only(_TARGETS)
    targets = _targets(targets_table, Targets())

    raw = data.get("incidents", [])
    if not isinstance(raw, list) or not raw:
        top.fail("incidents", "a drill needs at least one [[incidents]] entry")
    incidents = []
    for i, item in enumerate(raw):
        t = _Table(item, file, f"incidents[{i}].")
        t.only(_INCIDENT)
        kind = t.choice("kind", tuple(KINDS))
        zone = t.text("zone")
        if zone is not None and kind not in ("leave_zone", "enter_exclusion"):
            t.fail("zone", f"only leave_zone and enter_exclusion name a zone, not {kind}")
        distance = t.num("distance_m", None, positive=True)
        if distance is not None and kind != "jump":
            t.fail("distance_m", f"only a jump has a distance, not {kind}")
        duration = t.num("duration_s", None, positive=True)
        if duration is not None and kind in ("tamper", "jump"):
            t.fail("duration_s", f"a {kind} is one moment: it has no duration")
        offset = t.num("offset_s", ...)
        if drill_duration is not None and offset >= drill_duration:
            t.fail("offset_s", f"{offset:g} s is not before the drill's end "
                               f"(drill.duration_s = {drill_duration:g})")
        incidents.append(IncidentSpec(
            index=i, person=t.text("person", required=True), kind=kind, offset_s=offset,
            zone=zone, duration_s=duration, distance_m=distance,
            note=t.text("note") or "", targets=_targets(t, targets)))
    return Scenario(path=file, text=text, name=name, description=description,
                    base_source=source, base_persons=persons, fix_interval_s=interval,
                    base_file=base_file, duration_s=drill_duration, seed=seed,
                    tick_every_s=tick_every, travel_speed_mps=travel, targets=targets,
                    incidents=tuple(incidents))
