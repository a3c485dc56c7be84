"""The simulated world behind a realistic location feed (SPEC §1): persons, homes, devices, plans.

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

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import shapely
import shapely.ops

from config.model import PersonSpec
from geofences.crs import wgs84_to_gcj02
from geofences.geodesy import LocalFrame, metres_per_degree
from geofences.schedule import Schedule
from stream.simulate.areas import HomeArea, applies_to, destination_point, zone_area_wgs84

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


def person_record(p: PersonSpec) -> dict:
    return {"person_id": p.person_id, "name": p.name, "office_id": p.office_id,
            "officer_id": p.officer_id, "zones": list(p.zones), "groups": list(p.groups),
            "risk": p.risk}


def fictional_names(rng: np.random.Generator, n: int) -> list[str]:
    sur = rng.integers(len(_SURNAMES), size=n)
    g1, g2 = rng.integers(len(_GIVEN), size=n), rng.integers(len(_GIVEN), size=n)
    two = rng.random(n) < 0.6
    return [_SURNAMES[s] + _GIVEN[a] + (_GIVEN[b] if t else "")
            for s, a, b, t in zip(sur, g1, g2, two, strict=True)]


class World:
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
        areas: dict[str, HomeArea] = {}
        home_zone, curfew = [], []
        for p in self.people:
            mine = [self.zones[z] for z in p.zones if self.zones[z].kind == "inclusion"]
            mine += [z for z in general if applies_to(z, p) and z not in mine]
            steady = [z for z in mine if z.schedule is None] or mine or incl
            if not steady:
                raise ValueError(f"person {p.person_id}: no inclusion zone to place a home in")
            home = max(steady, key=lambda z: z.radius_m is None)  # a polygon if there is one
            home_zone.append(home.zone_id)
            circles = [z for z in mine if z.schedule is not None and z.radius_m is not None]
            curfew.append(circles[0].zone_id if circles else "")
            if home.zone_id not in areas:
                areas[home.zone_id] = HomeArea(home)
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
            dest = destination_point(permit.destination)
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
                      for z, g in zip(self.excl, self.excl_wgs84, strict=True) if applies_to(z, p)]
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


class BlockGenerator:
    """Walks the slot grid block by block, carrying each person's state across blocks.

    Person i's slot k is at start + k*interval + phase[i] + jitter, with phase + jitter below
    0.9 interval: every block's events are later than the previous block's, and each
    person's timestamps strictly increase."""

    def __init__(self, w: World, n_slots: int):
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
        offset = utc_offset_ms(w.tz, t)
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


def utc_offset_ms(tz: ZoneInfo, t: np.ndarray) -> np.ndarray:
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


def render_events(w: World, gen: BlockGenerator, tick_ms: int | None) -> Iterator[dict]:
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
        yield {"type": "tick", "ts": _rfc3339(t, utc_offset_ms(w.tz, t))[0]}
