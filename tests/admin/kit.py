"""A small bundle with every role, logins for it, and event builders, for the admin tests.

The home square is 0.2° wide around (120.0, 30.0). Offices: office-1 (P1, P2; officer w1,
duty duty1, supervisor sup1) and office-2 (P3; officer w2, supervisor sup2); the admin `adm`
sits at hq. No shifts: everyone is on duty. Silence and feed silence are a day long, so wall
ticks fire nothing. P3 has leave far in the future (a permit that names a person).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson
from polling import wait_for

from alerts.timefmt import rfc3339

USERS = ("adm", "sup1", "sup2", "w1", "w2", "duty1")
OFFICERS = [
    {"officer_id": "adm", "name": "管理员", "office_id": "hq", "role": "admin"},
    {"officer_id": "sup1", "name": "值班长一", "office_id": "hq", "role": "supervisor"},
    {"officer_id": "sup2", "name": "值班长二", "office_id": "hq-2", "role": "supervisor"},
    {"officer_id": "w1", "name": "一所民警", "office_id": "office-1", "role": "officer",
     "supervisor_id": "sup1"},
    {"officer_id": "duty1", "name": "一所值班", "office_id": "office-1", "role": "duty",
     "supervisor_id": "sup1"},
    {"officer_id": "w2", "name": "二所民警", "office_id": "office-2", "role": "officer",
     "supervisor_id": "sup2"},
]
SQUARE = [[119.9, 29.9], [120.1, 29.9], [120.1, 30.1], [119.9, 30.1], [119.9, 29.9]]


def password(user: str) -> str:
    return f"pw-{user}-secret"


def login_headers(client, user: str) -> dict:
    """The Authorization header of `user` logged in through `client` (a TestClient)."""
    r = client.post("/v1/login", json={"officer_id": user, "password": password(user)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def write_bundle(root: Path) -> Path:
    b = root / "bundle"
    b.mkdir(parents=True, exist_ok=True)
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
         "properties": {"zone_id": "home", "name": "居住地", "kind": "inclusion"}}]}
    (b / "zones.geojson").write_text(json.dumps(zones, ensure_ascii=False), encoding="utf-8")
    persons = [("P1", "张一", "office-1", "w1"), ("P2", "李二", "office-1", "w1"),
               ("P3", "王三", "office-2", "w2")]
    (b / "persons.jsonl").write_text("".join(json.dumps(
        {"person_id": pid, "name": name, "office_id": office, "officer_id": officer,
         "zones": ["home"], "silence_timeout_s": 86_400}, ensure_ascii=False) + "\n"
        for pid, name, office, officer in persons), encoding="utf-8")
    (b / "officers.json").write_text(json.dumps({"officers": OFFICERS}, ensure_ascii=False),
                                     encoding="utf-8")
    far = now_ms() + 30 * 86_400_000
    (b / "permits.jsonl").write_text(json.dumps(
        {"permit_id": "QJ-P3", "person_id": "P3", "start": rfc3339(far),
         "end": rfc3339(far + 3_600_000), "destination": "宁波"}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    (b / "settings.toml").write_text("feed_silence_s = 86400.0\n", encoding="utf-8")
    return b


def now_ms() -> int:
    return int(time.time() * 1000)


def fix(pid: str, ts: int, lon: float = 120.09, lat: float = 30.0) -> bytes:
    return orjson.dumps({"type": "fix", "person_id": pid, "ts": ts, "lat": lat, "lon": lon,
                         "accuracy_m": 10})


def outside(pid: str, ts: int) -> bytes:
    return fix(pid, ts, lon=120.102)  # ~200 m east of the square: clearly outside


def leaving(pid: str, t: int) -> list[bytes]:
    """Three clearly-outside fixes over a minute: what confirms a 越界 (SPEC §3)."""
    return [outside(pid, t), outside(pid, t + 30_000), outside(pid, t + 60_000)]


def settled(rt) -> None:
    """Every inbox row applied."""
    wait_for(lambda: rt.stats()["applied_seq"] == rt.store.journal.last_seq)
