"""One synthetic day on the demo's real boundary: who lives where, what they do, what the phone sends.

`build_day(spec)` returns the persons (with their ground truth) and the feed as JSONL lines in
arrival order, seeded and deterministic. Roles:

* ``stayer``: lives 50-400 m inside the boundary and never leaves (a slow wander around home
  that cannot take them out of that band), under one noise kind and one fix interval;
* ``boundary_walk``: sits, then walks 30-90 minutes along a line 60-300 m inside the boundary;
* ``leaver``: walks, cycles or drives straight out, crossing once and never coming back in;
  `t200_ms` is when the truth is 200 m outside;
* ``buffered`` / ``buffered_twice``: the phone goes offline, the person drives out and back,
  then the phone sends a fresh fix and uploads the positions it buffered (twice, for the
  second), older than that fix;
* ``tamper_same_second`` / ``tamper_late``: a `tamper` status with the same `ts` as a fix,
  or 20 s older than the fix that arrived before it;
* ``power_off_same_second``: a `power_off` with the same `ts` as a fix, ten minutes off, then
  `power_on` and fixes again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
from shapely.geometry import LineString

from benchmarks.quality.geometry import Boundary
from benchmarks.quality.noise import NOISE_KINDS, NoiseParams, ar1, observe
from config.loader import load_bundle, parse_ts_ms

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"
HOME_ZONE = "cn-330702"
DAY_START = "2026-11-16T00:00:00+08:00"  # a Monday
MODES = {"walk": 1.4, "cycle": 4.5, "drive": 12.5}  # m/s, door to door
OUT_M = {"walk": 1500.0, "cycle": 3000.0, "drive": 8000.0}  # how far out they end up
WALK_DEPTHS_M = (60.0, 100.0, 150.0, 220.0, 300.0)
LATE_TAMPER_S = 20
_MIN = 60_000
_HOUR = 3_600_000


@dataclass(frozen=True)
class DaySpec:
    persons: int = 8  # stayers per noise kind and fix interval
    hours: float = 24.0
    walkers: int = 4  # boundary walkers per fix interval
    leavers: int = 10  # per travel mode and fix interval
    buffered: int = 20
    buffered_twice: int = 10  # the same buffer uploaded twice
    tamper: int = 50  # per status variant (tamper same second, tamper late, power_off)
    intervals_s: tuple[int, ...] = (10, 60)
    seed: int = 1
    noise: NoiseParams = field(default_factory=NoiseParams)


@dataclass
class Subject:
    """One generated person and what really happened to them."""

    person_id: str
    role: str
    noise: str
    interval_s: int
    mode: str | None = None
    feed_start_ms: int = 0  # their events' ts lie in [feed_start_ms, feed_end_ms)
    feed_end_ms: int = 0
    t_start_ms: int | None = None  # leaving home / going offline / the tamper status
    t_end_ms: int | None = None  # back online
    t_cross_ms: int | None = None  # truth crosses the boundary
    t200_ms: int | None = None  # truth is 200 m outside
    depth_m: tuple[float, float] | None = None  # truth stays this far inside (min, max)
    max_out_m: float | None = None

    @property
    def person_days(self) -> float:
        return (self.feed_end_ms - self.feed_start_ms) / 86_400_000


@dataclass
class Track:
    """True and reported positions of one person's fixes (metric frame), with arrival times."""

    t_ms: np.ndarray
    arrival_ms: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    x: np.ndarray
    y: np.ndarray
    accuracy_m: np.ndarray
    source: np.ndarray
    label: np.ndarray


@dataclass
class Day:
    start_ms: int
    end_ms: int
    boundary: Boundary
    subjects: list[Subject]
    tracks: dict[str, Track]
    lines: list[bytes]  # the feed, in arrival order

    def write(self, folder: Path) -> tuple[Path, Path]:
        """A bundle derived from the demo (same zones, these persons) and the feed file."""
        bundle = folder / "bundle"
        bundle.mkdir(parents=True, exist_ok=True)
        for name in ("zones.geojson", "settings.toml"):
            if (DEMO / name).exists():
                shutil.copy(DEMO / name, bundle / name)
        (bundle / "officers.json").write_bytes(orjson.dumps(_portable_officers()))
        staff = [orjson.loads(ln) for ln in (DEMO / "persons.jsonl").read_bytes().splitlines()
                 if ln.strip()]
        with open(bundle / "persons.jsonl", "wb") as fh:
            for i, s in enumerate(self.subjects):
                who = staff[i % len(staff)]
                fh.write(orjson.dumps({
                    "person_id": s.person_id, "name": f"测试{i:05d}",
                    "office_id": who["office_id"], "officer_id": who["officer_id"],
                    "zones": [HOME_ZONE], "groups": [], "risk": "medium"}) + b"\n")
        feed = folder / "feed.jsonl"
        with open(feed, "wb") as fh:
            fh.writelines(self.lines)
        return bundle, feed


class _Builder:
    def __init__(self, spec: DaySpec):
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        bundle = load_bundle(DEMO)
        self.boundary = Boundary(next(z for z in bundle.zones if z.zone_id == HOME_ZONE))
        self.start = parse_ts_ms(DAY_START)
        self.end = self.start + round(spec.hours * _HOUR)
        self.subjects: list[Subject] = []
        self.tracks: dict[str, Track] = {}
        self.statuses: list[tuple[int, int, str, str]] = []  # arrival, ts, person, event
        # (person, rows of its track, arrival): a buffer uploaded a second time
        self.extra: list[tuple[str, np.ndarray, int]] = []

    # -- helpers -------------------------------------------------------------------------------
    def _times(self, interval_s: int, t0: int, t1: int) -> np.ndarray:
        step = interval_s * 1000
        phase = int(self.rng.integers(0, step // 1000)) * 1000
        return np.arange(t0 + phase, t1, step, dtype=np.int64)

    def _track(self, s: Subject, t, tx, ty, arrival=None) -> None:
        obs = observe(s.noise, tx, ty, t, self.rng, self.spec.noise)
        self.tracks[s.person_id] = Track(t, t.copy() if arrival is None else arrival, tx, ty,
                                         obs.x, obs.y, obs.accuracy_m, obs.source, obs.label)
        self.subjects.append(s)

    def _path(self, inside_m: tuple[float, float], out_m: float):
        """A straight line from a home inside, out across the boundary once, never back in:
        (start, unit direction, length, distance along it at the crossing and at 200 m out)."""
        b = self.boundary

        def along(step: float):
            s = np.arange(0.0, length + step, step)
            return s, b.signed_out_m(start[0] + s * n[0], start[1] + s * n[1])

        for _ in range(500):
            p, n = b.edge_point(self.rng)
            d_in = float(self.rng.uniform(*inside_m))
            start, length = p - d_in * n, d_in + out_m
            # a coarse look rejects most candidates cheaply; the fine one gives the times
            if not _crosses_once(along(25.0)[1], inside_m[0]):
                continue
            s, sd = along(2.0)
            if not _crosses_once(sd, inside_m[0]):
                continue
            first = int(np.flatnonzero(sd >= 0)[0])
            s_cross = float(np.interp(0.0, sd[first - 1:first + 1], s[first - 1:first + 1]))
            k = int(np.flatnonzero(sd >= 200.0)[0])
            s200 = float(np.interp(200.0, sd[k - 1:k + 1], s[k - 1:k + 1]))
            return start, n, length, s_cross, s200, float(sd.max())
        raise RuntimeError("no straight way out of the district found")

    # -- roles ---------------------------------------------------------------------------------
    def stayers(self) -> None:
        for kind in NOISE_KINDS:
            for interval in self.spec.intervals_s:
                for i in range(self.spec.persons):
                    x0, y0, depth = self.boundary.point_at_depth(self.rng, 50.0, 400.0)
                    # the wander cannot move the truth out of 50-400 m: distance to the boundary
                    # changes no faster than position does
                    amp = max(0.0, min(20.0, (depth - 50.0) / 1.01, (400.0 - depth) / 1.01))
                    t = self._times(interval, self.start, self.end)
                    dx, dy = self._wander(t, amp)
                    s = Subject(f"QS-{kind[:3].upper()}-{interval:02d}-{i:04d}", "stayer", kind,
                                interval, feed_start_ms=self.start, feed_end_ms=self.end,
                                depth_m=(depth - amp, depth + amp))
                    self._track(s, t, x0 + dx, y0 + dy)

    def _wander(self, t: np.ndarray, amp: float) -> tuple[np.ndarray, np.ndarray]:
        """A slow walk around home (30-minute memory), never further than amp from it."""
        if amp <= 0 or t.size == 0:
            return np.zeros(t.size), np.zeros(t.size)
        rho = np.exp(-np.diff(t, prepend=t[:1]) / 1000.0 / 1800.0)
        rho[:1] = 0.0
        pos = ar1(self.rng.normal(size=(t.size, 2)), rho) * (amp / 2)
        r = np.hypot(pos[:, 0], pos[:, 1])
        scale = np.minimum(1.0, amp / np.maximum(r, 1e-9))
        return pos[:, 0] * scale, pos[:, 1] * scale

    def walkers(self) -> None:
        for interval in self.spec.intervals_s:
            for i in range(self.spec.walkers):
                depth = float(self.rng.choice(WALK_DEPTHS_M))
                curve = self.boundary.inside_curve(depth)[0]
                s0 = float(self.rng.uniform(0, curve.length))
                minutes = float(self.rng.uniform(30, 90))
                t_walk = int(self.rng.uniform(self.start, max(self.start, self.end - minutes * _MIN)))
                t = self._times(interval, self.start, self.end)
                along = s0 + 1.3 * np.clip(t - t_walk, 0, minutes * _MIN) / 1000.0
                tx, ty = _along(curve, np.mod(along, curve.length))
                s = Subject(f"QW-{interval:02d}-{i:04d}", "boundary_walk", "mixed", interval,
                            feed_start_ms=self.start, feed_end_ms=self.end, t_start_ms=t_walk,
                            t_end_ms=t_walk + round(minutes * _MIN),
                            depth_m=(depth * 0.99, depth * 1.01))
                self._track(s, t, tx, ty)

    def leavers(self) -> None:
        for mode, speed in MODES.items():
            for interval in self.spec.intervals_s:
                for i in range(self.spec.leavers):
                    start, n, length, s_cross, s200, max_out = self._path((300.0, 1500.0),
                                                                          OUT_M[mode])
                    trip_ms = length / speed * 1000
                    latest = self.end - trip_ms - _HOUR
                    t_go = int(self.rng.uniform(self.start + _HOUR / 2, max(self.start + _HOUR / 2,
                                                                              latest)))
                    f0, f1 = t_go - 30 * _MIN, int(t_go + trip_ms + 30 * _MIN)
                    t = self._times(interval, f0, f1)
                    along = np.clip((t - t_go) / 1000.0 * speed, 0.0, length)
                    s = Subject(f"QL-{mode}-{interval:02d}-{i:04d}", "leaver", "multipath",
                                interval, mode=mode, feed_start_ms=f0, feed_end_ms=f1,
                                t_start_ms=t_go,
                                t_cross_ms=t_go + round(s_cross / speed * 1000),
                                t200_ms=t_go + round(s200 / speed * 1000), max_out_m=max_out)
                    self._track(s, t, start[0] + along * n[0], start[1] + along * n[1])

    def buffered(self) -> None:
        for role, count in (("buffered", self.spec.buffered),
                            ("buffered_twice", self.spec.buffered_twice)):
            for i in range(count):
                start, n, length, s_cross, s200, max_out = self._path((300.0, 1000.0), 3000.0)
                speed = MODES["drive"]
                off_min = float(self.rng.uniform(60, 120))
                t_off = int(self.rng.uniform(self.start + _HOUR, max(self.start + _HOUR,
                                                                      self.end - 2.5 * _HOUR)))
                t_on = t_off + round(off_min * _MIN)
                travel = length / speed * 1000
                t_go, t_back = t_off + 5 * _MIN, t_on - 5 * _MIN - travel
                f0, f1 = t_off - _HOUR, t_on + _HOUR
                t = self._times(60, f0, f1)
                out = np.minimum((t - t_go) / 1000.0 * speed, (t_back + travel - t) / 1000.0 * speed)
                along = np.clip(out, 0.0, length)
                arrival = t.copy()
                offline = (t >= t_off) & (t < t_on)
                fresh = int(t[t >= t_on][0])
                arrival[offline] = fresh + 1  # uploaded just after the fresh fix
                s = Subject(f"QB-{'2' if role == 'buffered_twice' else '1'}-{i:04d}", role,
                            "gaussian", 60, feed_start_ms=f0, feed_end_ms=f1, t_start_ms=t_off,
                            t_end_ms=t_on, max_out_m=max_out,
                            t_cross_ms=t_go + round(s_cross / speed * 1000),
                            t200_ms=t_go + round(s200 / speed * 1000))
                self._track(s, t, start[0] + along * n[0], start[1] + along * n[1], arrival)
                if role == "buffered_twice":
                    self.extra.append((s.person_id, np.flatnonzero(offline), fresh + 5 * _MIN + 1))

    def tamper(self) -> None:
        for role, lag_s in (("tamper_same_second", 0), ("tamper_late", LATE_TAMPER_S)):
            for i in range(self.spec.tamper):
                x0, y0, _ = self.boundary.point_at_depth(self.rng, 500.0, 3000.0)
                mid = int(self.rng.uniform(self.start + _HOUR, max(self.start + _HOUR,
                                                                    self.end - _HOUR)))
                f0, f1 = mid - _HOUR, mid + _HOUR
                t = self._times(60, f0, f1)
                t_fix = int(t[t.size // 2])
                s = Subject(f"QT-{'S' if lag_s == 0 else 'L'}-{i:04d}", role, "gaussian", 60,
                            feed_start_ms=f0, feed_end_ms=f1, t_start_ms=t_fix - lag_s * 1000)
                self._track(s, t, np.full(t.size, x0), np.full(t.size, y0))
                self.statuses.append((t_fix, t_fix - lag_s * 1000, s.person_id, "tamper"))

    def power_off(self) -> None:
        """A power_off in the same second as a fix, the phone off for ten minutes, then on."""
        for i in range(self.spec.tamper):
            x0, y0, _ = self.boundary.point_at_depth(self.rng, 500.0, 3000.0)
            mid = int(self.rng.uniform(self.start + _HOUR, max(self.start + _HOUR,
                                                                self.end - _HOUR)))
            t = self._times(60, mid - _HOUR, mid + _HOUR)
            t_fix = int(t[t.size // 2])
            t = t[(t <= t_fix) | (t >= t_fix + 10 * _MIN)]
            t_back = int(t[t > t_fix][0])
            s = Subject(f"QP-S-{i:04d}", "power_off_same_second", "gaussian", 60,
                        feed_start_ms=int(t[0]), feed_end_ms=int(t[-1]) + 1, t_start_ms=t_fix,
                        t_end_ms=t_back)
            self._track(s, t, np.full(t.size, x0), np.full(t.size, y0))
            self.statuses.append((t_fix, t_fix, s.person_id, "power_off"))
            self.statuses.append((t_back - 1, t_back - 1000, s.person_id, "power_on"))

    # -- the feed ------------------------------------------------------------------------------
    def lines(self) -> list[bytes]:
        rows = []  # (arrival, order, line)
        order = 0
        for s in self.subjects:
            tr = self.tracks[s.person_id]
            lon, lat = self.boundary.to_lonlat(tr.x, tr.y)
            recs = _fix_lines(s.person_id, tr.t_ms, lat, lon, tr.accuracy_m, tr.source)
            for arr, rec in zip(tr.arrival_ms.tolist(), recs, strict=True):
                rows.append((arr, order, rec))
                order += 1
        for pid, idx, at in self.extra:
            tr = self.tracks[pid]
            lon, lat = self.boundary.to_lonlat(tr.x[idx], tr.y[idx])
            for rec in _fix_lines(pid, tr.t_ms[idx], lat, lon, tr.accuracy_m[idx], tr.source[idx]):
                rows.append((at, order, rec))
                order += 1
        for arrival, ts, pid, event in self.statuses:  # after the fix that shares its arrival
            rows.append((arrival, order, orjson.dumps(
                {"type": "status", "person_id": pid, "ts": ts, "event": event}) + b"\n"))
            order += 1
        arrival = np.array([r[0] for r in rows], dtype=np.int64)
        order = np.array([r[1] for r in rows], dtype=np.int64)
        return [rows[i][2] for i in np.lexsort((order, arrival)).tolist()]


def _crosses_once(sd: np.ndarray, inside_m: float) -> bool:
    """Signed distances along a path: starts inside_m deep, ends 400+ m out, never back in."""
    out = np.flatnonzero(sd >= 0)
    return bool(sd[0] <= -inside_m and out.size and sd[-1] >= 400 and (sd[out[0]:] > 0).all())


_FIX = '{"type":"fix","person_id":"%s","ts":%d,"lat":%.7f,"lon":%.7f,"accuracy_m":%.1f,"source":"%s"}\n'


def _fix_lines(person_id: str, ts, lat, lon, acc, source) -> list[bytes]:
    """JSONL fix records; %-formatting is several times faster than a dict per fix."""
    return [(_FIX % (person_id, t, la, lo, a, src)).encode()
            for t, la, lo, a, src in zip(ts.tolist(), lat.tolist(), lon.tolist(), acc.tolist(),
                                         source.tolist(), strict=True)]


def _along(line: LineString, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points at distances s along a line (shapely's interpolate walks the line per point)."""
    c = np.asarray(line.coords)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(c, axis=0).T))])
    return np.interp(s, cum, c[:, 0]), np.interp(s, cum, c[:, 1])


def build_day(spec: DaySpec = DaySpec()) -> Day:
    b = _Builder(spec)
    b.stayers()
    b.walkers()
    b.leavers()
    b.buffered()
    b.tamper()
    b.power_off()
    return Day(b.start, b.end, b.boundary, b.subjects, b.tracks, b.lines())


def _portable_officers() -> dict:
    """The demo's officers and shifts in the fields every engine version reads, so that
    `--baseline-src` can run an older engine on the same day: alert quality does not depend on
    office names or phones, which older loaders refuse as unknown fields."""
    demo = orjson.loads((DEMO / "officers.json").read_bytes())
    keep = ("officer_id", "name", "office_id", "role", "supervisor_id")
    return {"officers": [{k: o[k] for k in keep if k in o} for o in demo["officers"]],
            "shifts": demo.get("shifts", []),
            **({"escalate_after_s": demo["escalate_after_s"]} if "escalate_after_s" in demo else {})}

