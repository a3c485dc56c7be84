"""The events that make up one injected incident, and when the rules can first see it.

An incident happens at its offset: the person switches off, goes quiet, tampers, jumps; for a
trip (leave_zone, enter_exclusion) the person *arrives* outside the zone or in the venue at
the offset, having set off early enough at a plausible speed (from the drill's start at the
earliest). `start_ts` is when the incident's first event is, `decisive_ts` is the event time from which the engine's rules can raise the alert (the
confirming outside fix after a trip, the end of a silence timeout); the scorecard measures
Lookout from the moment the event carrying that time was sent, so a drill's targets judge
the system, not the length of a trip or of a silence timeout at the drill's speed.

While an incident runs (`quiet`), the base feed's own events for that person are left out:
the person is where the incident puts them, not in two places at once. An incident that
cannot work against this bundle (a zone it does not have, a person it does not know) is still
sent, with its `problem` noted and no `decisive_ts`: the drill shows it as missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from stream.drill.places import INSIDE, OUT, Places, Point, travel
from stream.drill.scenario import IncidentSpec, ScenarioError

_ACCURACY_M = 10.0
_TRAVEL_STEP_MS = 20_000
_DEFAULT_STAY_S = {"leave_zone": 600.0, "enter_exclusion": 600.0, "power_off": 600.0}
_SILENCE_EXTRA_S = 120.0  # a silence lasts this much past the timeout unless told otherwise


@dataclass
class Injection:
    spec: IncidentSpec
    person_id: str
    zone_id: str | None
    start_ts: int
    end_ts: int
    decisive_ts: int | None
    quiet: tuple[int, int] | None
    events: list[dict] = field(default_factory=list)
    problem: str | None = None

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def expected_type(self) -> str:
        return self.spec.expected_type


@dataclass
class Context:
    """What every injection needs: the bundle (through Places) and the drill's pace.
    `anchor_at(person, ts)` says where a person is at a given time (their base track)."""

    places: Places
    file: str
    fix_step_ms: int
    speed_mps: float
    start_ms: int
    anchor_at: Callable[[int | None, str, int], Point]

    @property
    def cl(self):
        return self.places.cl


def fix(pid: str, ts: int, lon: float, lat: float) -> dict:
    return {"type": "fix", "person_id": pid, "ts": int(ts), "lat": round(lat, 7),
            "lon": round(lon, 7), "accuracy_m": _ACCURACY_M, "source": "gnss", "crs": "wgs84"}


def status(pid: str, ts: int, event: str) -> dict:
    return {"type": "status", "person_id": pid, "ts": int(ts), "event": event}


def build(ctx: Context, spec: IncidentSpec, p: int | None, at_ts: int) -> Injection:
    maker = _MAKERS[spec.kind]
    inj = maker(ctx, spec, p, ctx.anchor_at(p, spec.person, at_ts), at_ts)
    if p is None:
        inj.problem = f"person {spec.person!r} is not in the bundle / 部署包中没有该社区矫正对象"
        inj.decisive_ts = None
    return inj


# -- trips: leave a zone, enter a venue -----------------------------------------------------------

def _trip(ctx: Context, pid: str, anchor: Point, target: Point, t0: int, stay_s: float) -> list[dict]:
    """Out to `target`, a while there at the usual fix interval, and back to `anchor`."""
    events = [fix(pid, t0, *anchor)]
    out = travel(anchor, target, t0, ctx.speed_mps, _TRAVEL_STEP_MS)
    events += [fix(pid, t, lon, lat) for t, lon, lat in out]
    arrived = out[-1][0]
    leave = arrived + int(stay_s * 1000)
    t = arrived + ctx.fix_step_ms
    while t < leave:
        events.append(fix(pid, t, *target))
        t += ctx.fix_step_ms
    back = travel(target, anchor, leave, ctx.speed_mps, _TRAVEL_STEP_MS)
    events += [fix(pid, t, lon, lat) for t, lon, lat in back]
    return events


def _confirming_ts(ctx: Context, p: int, z: int, events: list[dict], want: int) -> int | None:
    """The ts of the fix that confirms the incident under SPEC §3: the zone's confirm_fixes
    consecutive fixes related `want` (OUT for an inclusion zone, INSIDE for an exclusion zone)
    spanning its confirm_s, while the zone is active and not suspended by a permit; the band
    between changes nothing."""
    cl, run, first = ctx.cl, 0, 0
    need, span = int(cl.confirm_fixes[z]), int(cl.confirm_ms[z])
    for e in events:
        if e["type"] != "fix":
            continue
        ts = e["ts"]
        if cl.bundle.zones[z].schedule is not None and not cl.zones.active_at(z, np.array([ts]))[0]:
            continue
        if cl.suspended(p, z, ts):
            continue
        rel = ctx.places.relate(z, e["lon"], e["lat"], e["accuracy_m"])
        if rel == want:
            first = ts if run == 0 else first
            run += 1
            if run >= need and ts - first >= span:
                return ts
        elif rel == (INSIDE if want == OUT else OUT):  # the opposite breaks the run
            run = 0
    return None


def _zone_for(ctx: Context, spec: IncidentSpec, p: int | None, kind: str, anchor: Point):
    """(zone index or None, problem): the zone named, or the person's obvious one."""
    places = ctx.places
    if spec.zone is not None:
        z = places.zone_index(spec.zone)
        if z is None:
            return None, f"zone {spec.zone!r} is not in the bundle / 部署包中没有该区域"
        if places.specs[z].kind != kind:
            wanted = "an inclusion" if kind == "inclusion" else "an exclusion"
            raise ScenarioError(ctx.file, f"incidents[{spec.index}].zone",
                                f"{spec.zone!r} is not {wanted} zone, which {spec.kind} needs")
        if p is not None and not places.applies(p, z):
            return z, f"zone {spec.zone!r} does not apply to {spec.person!r} / 该区域不适用于此人"
        return z, None
    if p is None:
        return None, None
    z = places.steady_inclusion(p) if kind == "inclusion" else places.nearest_exclusion(p, anchor)
    if z is None:
        return None, f"{spec.person!r} has no {kind} zone / 此人没有相应区域"
    return z, None


def _zone_trip(ctx: Context, spec: IncidentSpec, p, anchor: Point, arrive: int, kind: str) -> Injection:
    pid = spec.person
    z, problem = _zone_for(ctx, spec, p, kind, anchor)
    stay = spec.duration_s or _DEFAULT_STAY_S[spec.kind]
    if z is None:  # nothing to cross: a short trip that should raise nothing
        target = ctx.places.far_point(p, anchor, [1000.0])
    elif kind == "inclusion":
        target = ctx.places.outside(z, anchor, ctx.places.specs[z].buffer_m + 500.0)
    else:
        target = ctx.places.inside(z)
    # set off so as to arrive at the offset: where they set off from depends on when, so
    # settle both together (the person roams little: two or three rounds are plenty)
    t0, start = arrive, anchor
    for _ in range(4):
        way = travel(start, target, 0, ctx.speed_mps, _TRAVEL_STEP_MS)[-1][0]
        t0 = max(ctx.start_ms, arrive - way)
        start = ctx.anchor_at(p, pid, t0)
    events = _trip(ctx, pid, start, target, t0, stay)
    decisive = None
    if z is not None and p is not None and problem is None:
        want = OUT if kind == "inclusion" else INSIDE
        decisive = _confirming_ts(ctx, p, z, events, want)
        if decisive is None:
            problem = "the trip never counts against the zone (inactive or on leave) / 区域未生效"
    end = events[-1]["ts"]
    zone_id = ctx.places.specs[z].zone_id if z is not None else spec.zone
    return Injection(spec, pid, zone_id, t0, end, decisive, (t0, end + 1), events, problem)


def _leave_zone(ctx, spec, p, anchor, t0) -> Injection:
    return _zone_trip(ctx, spec, p, anchor, t0, "inclusion")


def _enter_exclusion(ctx, spec, p, anchor, t0) -> Injection:
    return _zone_trip(ctx, spec, p, anchor, t0, "exclusion")


# -- device and behaviour ---------------------------------------------------------------------

def _power_off(ctx, spec, p, anchor, t0) -> Injection:
    end = t0 + int((spec.duration_s or _DEFAULT_STAY_S["power_off"]) * 1000)
    events = [status(spec.person, t0, "power_off"), status(spec.person, end, "power_on"),
              fix(spec.person, end + 1000, *anchor)]
    return Injection(spec, spec.person, None, t0, end + 1000, t0, (t0, end + 1001), events)


def _go_silent(ctx, spec, p, anchor, t0) -> Injection:
    cl = ctx.cl
    timeout_ms = int(cl.timeout_ms[p]) if p is not None else \
        round(cl.settings.silence_timeout_s * 1000)
    quiet_ms = int(spec.duration_s * 1000) if spec.duration_s else \
        timeout_ms + int(_SILENCE_EXTRA_S * 1000)
    end = t0 + quiet_ms
    # a heartbeat fixes "last seen" at t0 exactly, whatever the base feed did before
    events = [status(spec.person, t0, "heartbeat"), fix(spec.person, end, *anchor)]
    decisive, problem = t0 + timeout_ms, None
    if quiet_ms <= timeout_ms:
        decisive = None
        problem = (f"silent {quiet_ms / 1000:g} s, not past the {timeout_ms / 1000:g} s "
                   "silence timeout / 静默时长未超过失联阈值")
    return Injection(spec, spec.person, None, t0, end, decisive, (t0 + 1, end), events, problem)


def _tamper(ctx, spec, p, anchor, t0) -> Injection:
    return Injection(spec, spec.person, None, t0, t0, t0, None, [status(spec.person, t0, "tamper")])


def _jump(ctx, spec, p, anchor, t0) -> Injection:
    s = ctx.cl.settings
    least = s.jump_min_distance_m + 2 * _ACCURACY_M + 500.0
    wanted = [spec.distance_m] if spec.distance_m else [20_000.0, 10_000.0, 5_000.0, least]
    far = ctx.places.far_point(p, anchor, wanted)
    # fast enough for the rule at any distance: at least twice max_speed_mps
    gap = int(min(10_000, max(1000, wanted[-1] / (2 * s.max_speed_mps) * 1000)))
    pid = spec.person
    events = [fix(pid, t0, *anchor), fix(pid, t0 + gap, *far), fix(pid, t0 + 2 * gap, *anchor)]
    problem, decisive = None, t0 + gap
    if spec.distance_m and spec.distance_m <= least - 500.0:
        problem = (f"a {spec.distance_m:g} m jump is within jump_min_distance_m "
                   f"({s.jump_min_distance_m:g}) plus accuracy / 跳变距离不足")
        decisive = None
    return Injection(spec, pid, None, t0, t0 + 2 * gap, decisive, (t0, t0 + 2 * gap + 1), events,
                     problem)


_MAKERS = {"leave_zone": _leave_zone, "enter_exclusion": _enter_exclusion,
           "power_off": _power_off, "go_silent": _go_silent, "tamper": _tamper, "jump": _jump}
