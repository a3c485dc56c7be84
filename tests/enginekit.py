"""Small builders for engine tests: a square home district, a venue, persons, and events."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import shapely

from alerts.engine import Engine
from config.model import Bundle, PermitSpec, PersonSpec, Window, ZoneSpec
from config.settings import Settings
from stream import events as ev

TZ = ZoneInfo("Asia/Shanghai")
LON0, LAT0 = 120.0, 30.0
HALF = 0.05  # the home square is 0.1° wide: about 9.6 km × 11 km
EAST = LON0 + HALF
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))  # ~96.4 km, good to ~0.3 %


def east_of_edge(metres: float, lat: float = LAT0) -> tuple[float, float]:
    """A point `metres` east of the square's east edge (negative: inside)."""
    return EAST + metres / M_PER_DEG_LON, lat


def ms(text: str) -> int:
    """Local Shanghai wall time 'YYYY-MM-DD HH:MM[:SS]' to epoch ms."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return int(datetime.strptime(text, fmt).replace(tzinfo=TZ).timestamp() * 1000)


def home_zone(zone_id="home", buffer_m=100.0, schedule=None, severity="high") -> ZoneSpec:
    box = shapely.box(LON0 - HALF, LAT0 - HALF, LON0 + HALF, LAT0 + HALF)
    return ZoneSpec(zone_id, zone_id, "inclusion", box, None, "wgs84", buffer_m, severity, schedule)


def curfew_zone(zone_id="curfew", radius_m=300.0, start="22:00", end="06:00") -> ZoneSpec:
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    window = Window(tuple(range(1, 8)), h1 * 60 + m1, h2 * 60 + m2)
    return ZoneSpec(zone_id, "宵禁", "inclusion", shapely.Point(LON0, LAT0), radius_m, "wgs84",
                    50.0, "high", (window,))


def venue_zone(zone_id="bar", lon=LON0 + 0.01, lat=LAT0, radius_m=100.0, buffer_m=50.0,
               groups=("venues",)) -> ZoneSpec:
    return ZoneSpec(zone_id, "酒吧", "exclusion", shapely.Point(lon, lat), radius_m, "wgs84",
                    buffer_m, "critical", None, applies_to_groups=tuple(groups))


def person(pid="P1", zones=("home",), groups=("venues",), timeout_s=1800.0) -> PersonSpec:
    return PersonSpec(pid, f"对象{pid}", "office-1", "officer-1", tuple(zones), tuple(groups),
                      timeout_s)


def bundle(zones=None, persons=None, permits=(), **settings) -> Bundle:
    return Bundle(
        path=None,
        settings=Settings(**settings),
        zones=list(zones if zones is not None else [home_zone(), venue_zone()]),
        persons=list(persons if persons is not None else [person()]),
        permits=list(permits),
    )


def permit(pid="P1", start="2026-11-27 09:00", end="2026-11-27 18:00", zones=None, revoked=None):
    return PermitSpec(f"leave-{pid}-{start}", pid, ms(start), ms(end),
                      tuple(zones) if zones is not None else None, "杭州",
                      ms(revoked) if revoked else None)


class Feed:
    """Builds events against an engine's person index; `rows` are EventBatch rows."""

    def __init__(self, engine: Engine):
        self.index = engine.person_index
        self.rows: list[dict] = []

    def fix(self, at: str | int, lon: float, lat: float, pid="P1", acc=10.0, battery=None,
            drill=False):
        self.rows.append({"kind": ev.FIX, "person": self.index[pid], "ts": _t(at), "lon": lon,
                          "lat": lat, "accuracy_m": acc,
                          "battery_pct": float("nan") if battery is None else battery,
                          "drill": drill, "seq": len(self.rows)})
        return self

    def inside(self, at, pid="P1", **kw):
        return self.fix(at, LON0, LAT0, pid=pid, **kw)

    def out(self, at, metres=1000.0, pid="P1", **kw):
        return self.fix(at, *east_of_edge(metres), pid=pid, **kw)

    def status(self, at, event: int, pid="P1", battery=None, drill=False):
        self.rows.append({"kind": ev.STATUS, "person": self.index[pid], "ts": _t(at),
                          "status": event, "drill": drill,
                          "battery_pct": float("nan") if battery is None else battery,
                          "seq": len(self.rows)})
        return self

    def tick(self, at, drill=False):
        self.rows.append({"kind": ev.TICK, "ts": _t(at), "drill": drill, "seq": len(self.rows)})
        return self

    def batch(self) -> ev.EventBatch:
        return ev.EventBatch.from_rows(self.rows)


def _t(at) -> int:
    return at if isinstance(at, int) else ms(at)


def run(b: Bundle, build, batch_size: int | None = None, force_slow=False, now_ms=0):
    """Run a feed through a fresh engine; returns (engine, state, updates)."""
    engine = Engine(b, force_slow=force_slow)
    feed = Feed(engine)
    build(feed)
    batch = feed.batch()
    state = engine.new_state()
    updates = []
    size = batch_size or max(len(batch), 1)
    for lo in range(0, len(batch), size):
        import numpy as np

        updates += engine.process(state, batch.take(np.arange(lo, min(lo + size, len(batch)))), now_ms)
    return engine, state, updates


def latest(updates: list[dict]) -> dict[str, dict]:
    """The last version of each alert."""
    out: dict[str, dict] = {}
    for u in updates:
        out[u.alert_id] = u
    return out


def of_type(updates, alert_type):
    return [u for u in latest(updates).values() if u.type == alert_type]
