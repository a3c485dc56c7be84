"""A small bundle made for drills, and the embedded service run in process over real HTTP.

The home square is 0.06° (~6 km) around (120.0, 30.0), so trips out are short; the bar is an
exclusion circle 1.5 km east of the centre for group "bar-ban" (P2). P5 goes silent after
120 s; everyone else after a day. Critical alerts escalate after 1 s: in a drill that is
wall-clock time, so escalation shows within the few seconds a test drill takes.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import polling

PERSONS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")
TOKEN = "gw-drill"
ADMIN = "admin1"
CENTRE = (120.0, 30.0)
BAR = (120.015, 30.0)

ALL_KINDS = """
[drill]
name = "每种科目各一次 / one of each"
seed = 3
travel_speed_mps = 30
tick_every_s = 5

[base]
persons = 2
fix_interval_s = 30

[targets]
detect_within_s = 10
acknowledge_within_s = 120

[[incidents]]
person = "P3"
kind = "tamper"
offset_s = 0

[[incidents]]
person = "P1"
kind = "leave_zone"
offset_s = 150          # out by then: the trip sets off earlier
duration_s = 120        # three clearly-outside fixes over a minute confirm (SPEC §3)

[[incidents]]
person = "P2"
kind = "enter_exclusion"
offset_s = 150
duration_s = 60

[[incidents]]
person = "P4"
kind = "power_off"
offset_s = 20
duration_s = 60

[[incidents]]
person = "P5"
kind = "go_silent"
offset_s = 20

[[incidents]]
person = "P6"
kind = "jump"
offset_s = 30
"""


def write_bundle(root: Path) -> Path:
    b = root / "bundle"
    b.mkdir(parents=True, exist_ok=True)
    x, y, h = CENTRE[0], CENTRE[1], 0.03
    square = [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h], [x - h, y - h]]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
         "properties": {"zone_id": "home", "name": "家", "kind": "inclusion"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(BAR)},
         "properties": {"zone_id": "bar", "name": "酒吧", "kind": "exclusion", "radius_m": 100,
                        "applies_to": {"groups": ["bar-ban"]}}},
    ]}
    (b / "zones.geojson").write_text(json.dumps(zones, ensure_ascii=False), encoding="utf-8")
    persons = [{"person_id": pid, "name": f"对象{pid}", "office_id": "o1",
                "officer_id": "w1" if i % 2 == 0 else "w2", "zones": ["home"],
                "groups": ["bar-ban"] if pid == "P2" else [],
                "silence_timeout_s": 120 if pid == "P5" else 86_400}
               for i, pid in enumerate(PERSONS)]
    (b / "persons.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                                             for p in persons), encoding="utf-8")
    officers = {
        "officers": [
            {"officer_id": "w1", "name": "王一", "office_id": "o1", "role": "officer",
             "supervisor_id": "s1"},
            {"officer_id": "w2", "name": "李二", "office_id": "o1", "role": "officer",
             "supervisor_id": "s1"},
            {"officer_id": "s1", "name": "张三", "office_id": "o1", "role": "supervisor"},
            {"officer_id": ADMIN, "name": "管理员", "office_id": "o1", "role": "admin"},
        ],
        "escalate_after_s": {"critical": 1, "high": 600, "medium": 600, "low": 600},
    }
    (b / "officers.json").write_text(json.dumps(officers, ensure_ascii=False), encoding="utf-8")
    (b / "settings.toml").write_text("feed_silence_s = 86400\n", encoding="utf-8")
    return b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """LiveRuntime plus `create_app` under uvicorn in a thread: the real HTTP ingest."""

    def __init__(self, bundle: Path, db: Path, tick_ms: int):
        import uvicorn

        from stream.live import LiveRuntime
        from stream.service import create_app

        self.runtime = LiveRuntime(bundle, db, gateway_tokens=[TOKEN], batch_ms=20,
                                   tick_ms=tick_ms, snapshot_every_s=0.5).start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db
        config = uvicorn.Config(create_app(self.runtime), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Service:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the service did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.runtime.stop()

    def post(self, lines: list[bytes]) -> dict:
        req = urllib.request.Request(self.url + "/v1/events", data=b"\n".join(lines),
                                     method="POST", headers={
                                         "Authorization": f"Bearer {TOKEN}",
                                         "Content-Type": "application/x-ndjson"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return orjson.loads(resp.read())

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        req = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def now_ms() -> int:
    return int(time.time() * 1000)


def fix(pid: str, ts: int, lon: float = CENTRE[0], lat: float = CENTRE[1]) -> bytes:
    return orjson.dumps({"type": "fix", "person_id": pid, "ts": ts, "lat": lat, "lon": lon,
                         "accuracy_m": 10})


def status(pid: str, ts: int, event: str) -> bytes:
    return orjson.dumps({"type": "status", "person_id": pid, "ts": ts, "event": event})


def wait_for(predicate, timeout: float = 10.0):
    return polling.wait_for(predicate, timeout, interval=0.02)


START = 1_800_000_000_000  # any drill start will do in process: a drill's clock is its own


class InProcess:
    """The engine in process, fed planned events; what it raised."""

    def __init__(self, bundle):
        from alerts.engine import Engine
        from config.loader import load_bundle
        from stream.decode import Decoder

        b = load_bundle(bundle)
        self.engine = Engine(b)
        self.state = self.engine.new_state()
        self.decoder = Decoder(self.engine.person_index, b.settings)
        self.alerts: list[dict] = []

    def feed(self, events: list[dict]) -> None:
        if events:
            batch, rejects = self.decoder.decode([orjson.dumps(e) for e in events], START)
            assert not rejects, rejects
            self.alerts += [u.to_wire() for u in self.engine.process(self.state, batch, START)]

    def raised(self, inj) -> bool:
        return any(a["person_id"] == inj.person_id and a["type"] == inj.expected_type
                   and a["drill"] for a in self.alerts)
