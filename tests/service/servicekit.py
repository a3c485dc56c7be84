"""A tiny bundle and event builders for the embedded service's tests.

The home square is 0.2° wide around (120.0, 30.0); the bar is an exclusion circle inside it.
Silence timeouts and feed silence are a day long, so that the wall-clock ticks of a live run
fire nothing that a replay of the same events would not: live and replay must agree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson

PERSONS = ("P1", "P2", "P3", "P4", "P5")
BAR = (120.03, 30.0)


def write_bundle(root: Path, feed_silence_s: float = 86_400.0) -> Path:
    b = root / "bundle"
    b.mkdir(parents=True, exist_ok=True)
    square = [[119.9, 29.9], [120.1, 29.9], [120.1, 30.1], [119.9, 30.1], [119.9, 29.9]]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
         "properties": {"zone_id": "home", "name": "家", "kind": "inclusion"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(BAR)},
         "properties": {"zone_id": "bar", "name": "酒吧", "kind": "exclusion", "radius_m": 100,
                        "applies_to": {"all": True}}},
    ]}
    (b / "zones.geojson").write_text(json.dumps(zones, ensure_ascii=False), encoding="utf-8")
    persons = [{"person_id": pid, "name": f"对象{pid}", "office_id": f"office-{i % 2 + 1}",
                "officer_id": f"w{i % 2 + 1}", "zones": ["home"], "silence_timeout_s": 86_400}
               for i, pid in enumerate(PERSONS)]
    (b / "persons.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                                             for p in persons), encoding="utf-8")
    (b / "settings.toml").write_text(f"feed_silence_s = {feed_silence_s}\n", encoding="utf-8")
    return b


def now_ms() -> int:
    return int(time.time() * 1000)


def fix(pid: str, ts: int, lon: float = 120.09, lat: float = 30.0, **extra) -> bytes:
    """A fix; by default ~1 km inside the square's east edge."""
    return orjson.dumps({"type": "fix", "person_id": pid, "ts": ts, "lat": lat, "lon": lon,
                         "accuracy_m": 10, **extra})


def outside(pid: str, ts: int) -> bytes:
    return fix(pid, ts, lon=120.102)  # ~200 m east of the square: clearly outside


def leaving(pid: str, t: int) -> list[bytes]:
    """Three clearly-outside fixes over a minute: what confirms a 越界 (SPEC §3)."""
    return [outside(pid, t), outside(pid, t + 30_000), outside(pid, t + 60_000)]


def status(pid: str, ts: int, event: str) -> bytes:
    return orjson.dumps({"type": "status", "person_id": pid, "ts": ts, "event": event})


def incident_feed(t0: int, rounds: int = 12, step_ms: int = 1000) -> list[bytes]:
    """Every person, every step: ordinary fixes with incidents woven in (越界 that clears,
    entering the bar, phones off and on, tamper), plus bad records of each kind."""
    lines: list[bytes] = []
    for r in range(rounds):
        t = t0 + r * step_ms
        for k, pid in enumerate(PERSONS):
            ts = t + k
            phase = (r + 2 * k) % 12
            if phase in (3, 4, 5):
                lines.append(outside(pid, ts))
            elif phase == 7:
                lines.append(fix(pid, ts, *BAR))
            elif phase == 9:
                lines.append(status(pid, ts, "power_off"))
            elif phase == 10 and k == 2:
                lines.append(status(pid, ts, "tamper"))
            else:
                lines.append(fix(pid, ts))
        if r % 4 == 1:
            lines += [b"{not json", fix("NOBODY", t), fix("P1", t, lat=95.0)]
    return lines
