"""A stand-in for the live runtime (stream/live.py), with exactly the interface the feed codes
against, over the real store (alerts/store/). Events go through the real decoder and engine,
actions through `Engine.act`, and what they produce through the store's real write path (one
`StepCommit` a call), so the feed's lists, tracks and audit lines come from its real SQL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import socket
import threading
import time
from pathlib import Path

import orjson

from alerts.engine import Engine
from alerts.records import AlertUpdate
from alerts.service import NotInThisMode
from alerts.store import Fix, StepCommit, Store
from alerts.timefmt import rfc3339
from config.loader import load_bundle, parse_ts_ms
from config.model import Bundle, OfficerSpec
from stream.decode import Decoder

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"
# A Monday in the demo's rota: officers on shift 08:30-17:30, office duty 08:00-22:00.
DAY = "2026-11-23"
ADMIN = OfficerSpec("ops-admin", "运维值守", "wucheng-zhihui", "admin")


def ts(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00+08:00"


def demo_bundle(with_admin: bool = True) -> Bundle:
    b = load_bundle(DEMO)
    if with_admin:
        b = dataclasses.replace(b, officers=[*b.officers, ADMIN])
    return b


class FakeSub:
    def __init__(self, owner: FakeRuntime):
        self.owner = owner
        self.q: queue.Queue = queue.Queue()

    def get(self, timeout: float) -> dict | None:
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.owner._unsubscribe(self)


class FakeRuntime:
    def __init__(self, db_path: Path, bundle: Bundle | None = None):
        self.bundle = bundle or demo_bundle()
        self.engine = Engine(self.bundle)
        self.state = self.engine.new_state()
        self.store = Store(db_path, durable=False)
        self._office = {p.person_id: p.office_id for p in self.bundle.persons}
        self._seq = 0
        self.decoder = Decoder(self.engine.person_index, self.bundle.settings)
        self._subs: list[FakeSub] = []
        self.former_persons: dict = {}
        self._lock = threading.Lock()

    # -- the interface -----------------------------------------------------------------------
    def submit_action(self, action: dict) -> list[dict]:
        with self._lock:
            updates = wire(self.engine.act(self.state, action, int(time.time() * 1000)))
            self._commit(updates)
        return updates

    def subscribe(self) -> FakeSub:
        sub = FakeSub(self)
        with self._lock:
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: FakeSub) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def person_status(self, person_id: str) -> dict | None:
        raise NotInThisMode("the fake runtime keeps no person state")

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    # -- test drivers ------------------------------------------------------------------------
    def audits(self) -> list[dict]:
        """The store's audit lines, oldest first."""
        return list(reversed(self.store.audits.audit_log(100_000)))

    def feed(self, *events: dict) -> list[dict]:
        """Run events through decoder and engine (received when they happened, so nothing
        is in the future); fixes also go to the store's track."""
        lines = [orjson.dumps(e) for e in events]
        received = max(parse_ts_ms(e["ts"]) for e in events)
        with self._lock:
            batch, rejects = self.decoder.decode(lines, received_at_ms=received)
            assert not rejects, rejects
            fixes = [Fix(e["person_id"], bool(e.get("drill")), parse_ts_ms(e["ts"]), e["lat"],
                         e["lon"], e.get("accuracy_m", 30.0)) for e in events if e["type"] == "fix"]
            updates = wire(self.engine.process(self.state, batch, int(time.time() * 1000)))
            self._commit(updates, fixes)
        return updates

    def feed_down(self, at: str) -> list[dict]:
        with self._lock:
            updates = wire(self.engine.feed_down(self.state, parse_ts_ms(at),
                                                 int(time.time() * 1000)))
            self._commit(updates)
        return updates

    def _commit(self, updates: list[dict], fixes: list[Fix] | None = None) -> None:
        self._seq += 1
        self.store.commit(StepCommit(updates, self._office.get, self._seq, fixes=fixes or ()))
        for u in updates:
            for sub in self._subs:
                sub.q.put(u)


def wire(updates: list[AlertUpdate]) -> list[dict]:
    """What a runtime hands the store, the page and the API: SPEC §4 records."""
    return [u.to_wire() for u in updates]


def status(person_id: str, at: str, event: str, drill: bool = False) -> dict:
    return {"type": "status", "person_id": person_id, "ts": ts(at), "event": event,
            "drill": drill}


def fix(person_id: str, at: str, lon: float, lat: float, acc: float = 15.0,
        drill: bool = False) -> dict:
    return {"type": "fix", "person_id": person_id, "ts": ts(at), "lon": lon, "lat": lat,
            "accuracy_m": acc, "drill": drill}


# -- many alerts, written straight into a store (the triage list at scale) -------------------

PERSONS = [f"WC{i:04d}" for i in range(1, 21)]
OFFICER_OF = {"WC0001": "wc-cd-02", "WC0002": "wc-cd-01", "WC0003": "wc-cd-02",
              "WC0004": "wc-cd-01", "WC0005": "wc-cd-02", "WC0006": "wc-cd-01",
              "WC0007": "wc-cd-02", "WC0008": "wc-jn-01", "WC0009": "wc-jn-02",
              "WC0010": "wc-jn-01", "WC0011": "wc-jn-02", "WC0012": "wc-jn-01",
              "WC0013": "wc-jn-02", "WC0014": "wc-jn-01"}
DAY0_MS = 1_795_000_000_000  # 2026-11-18, the week before the demo's Monday
KINDS = [("low_battery", "low"), ("device_off", "high"), ("silent", "high"),
         ("location_disabled", "medium"), ("tamper", "critical"), ("zone_enter", "high")]


def record(n: int, person_id: str, type_: str, severity: str, opened_ms: int, *,
           handling: str = "new", escalated: bool = False, officer_id: str | None = None,
           drill: bool = False) -> dict:
    at = rfc3339(opened_ms)
    officer = officer_id or OFFICER_OF.get(person_id, "wc-xg-01")
    return {
        "alert_id": f"t{n:05d}", "version": 1, "person_id": person_id, "type": type_,
        "zone_id": None, "severity": severity, "condition": "active", "handling": handling,
        "opened_at": at, "last_event_at": at, "cleared_at": None, "event_count": 1,
        "reopen_count": 0, "detected_at": at, "location": None, "officer_id": officer,
        "route": [{"officer_id": officer, "role": "officer", "reason": "on_shift", "at": at}],
        "escalated": escalated, "drill": drill, "resolution": None,
        "message": {"zh": type_, "en": type_}}


def fill(store: Store, n: int = 1200) -> dict:
    """`n` alerts over the demo's 20 persons and three weeks; the oldest of all is the one
    critical escalated tamper nobody has acknowledged (row 1 of the triage list)."""
    handlings = itertools.cycle(["new", "acknowledged", "acknowledged", "resolved", "resolved"])
    records = []
    for i in range(n - 1):
        type_, severity = KINDS[i % len(KINDS)]
        handling = next(handlings)
        # criticals are all handled, so the one below is the only urgent one
        if severity == "critical" and handling == "new":
            handling = "acknowledged"
        records.append(record(i, PERSONS[i % 20], type_, severity,
                              DAY0_MS + 3600_000 + i * 10 * 60_000, handling=handling))
    needle = record(99_999, "WC0003", "tamper", "critical", DAY0_MS, escalated=True,
                    officer_id="wc-zh-01")
    records.append(needle)
    office_of = {p: ("wucheng-chengdong" if i < 7 else "wucheng-jiangnan" if i < 14
                     else "wucheng-xiguan") for i, p in enumerate(PERSONS)}
    store.commit(StepCommit(records, office_of.get, 1))
    return {"records": records, "needle": needle}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app):
    """Run `app` with uvicorn on a free local port in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=1, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
