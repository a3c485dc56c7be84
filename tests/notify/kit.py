"""A real HTTP receiver for the notifier to push to, told per request how to answer, and a fake
clock whose sleeps return at once (backoffs and pacing cost no test time)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from alerts.notify import Notifier, NotifyConfig
from alerts.records import AlertUpdate

OK = {"errcode": 0, "errmsg": "ok"}


class Receiver:
    """Answers with the scripted replies in order, then {"errcode": 0} for good."""

    def __init__(self):
        self.requests: list[dict] = []
        self._script: deque = deque()
        self._lock = threading.Condition()
        self.release = threading.Event()  # lets hung requests go at teardown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def fail(self, times: int, status: int = 500, body=None, headers=None) -> Receiver:
        for _ in range(times):
            self._script.append(("answer", status, body, headers or {}))
        return self

    def answer(self, status: int, body, headers=None, times: int = 1) -> Receiver:
        return self.fail(times, status, body, headers)

    def hang(self, times: int = 1) -> Receiver:
        for _ in range(times):
            self._script.append(("hang",))
        return self

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} requests arrived, wanted {n}")
                self._lock.wait(left)
            return list(self.requests)

    @property
    def bodies(self) -> list:
        return [r["json"] for r in self.requests]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _next(self):
        return self._script.popleft() if self._script else ("answer", 200, OK, {})

    def _record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)
            self._lock.notify_all()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # (http.server's name)
        rx: Receiver = self.server.receiver
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        rx._record({"path": self.path, "headers": dict(self.headers), "raw": raw,
                    "json": json.loads(raw), "at": time.monotonic()})
        step = rx._next()
        if step[0] == "hang":
            rx.release.wait(10)
            return
        _, status, body, headers = step
        data = json.dumps(body if body is not None else {"error": "scripted"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def eventually(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class FakeTime:
    def __init__(self, start: float = 1_795_000_000.0):
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)


def target(url: str, name: str = "group", fmt: str = "wecom", **kw) -> dict:
    return {"name": name, "url": url, "format": fmt, **kw}


def notifier(targets: list[dict], clock: FakeTime | None = None, directory=None, **cfg) -> Notifier:
    cfg.setdefault("retry", {"attempts": 4, "base_delay_s": 1.0, "max_delay_s": 8.0})
    cfg.setdefault("timeout_s", 2.0)
    clock = clock or FakeTime()
    return Notifier(NotifyConfig.from_dict({"targets": targets, **cfg}), directory=directory,
                    clock=clock.time, sleep=clock.sleep,
                    # loopback must not go through an HTTP proxy set in the environment
                    opener=urllib.request.build_opener(urllib.request.ProxyHandler({})))


def alert(alert_id: str = "a-1", version: int = 1, **kw) -> AlertUpdate:
    """An alert update, from a record shaped as SPEC §4 lays it out."""
    return AlertUpdate.from_wire(record(alert_id, version, **kw))


def record(alert_id: str = "a-1", version: int = 1, **kw) -> dict:
    """An alert update record shaped as SPEC §4 lays it out."""
    rec = {
        "alert_id": alert_id, "version": version, "person_id": "WC0001", "type": "zone_exit",
        "zone_id": "cn-330702", "severity": "high", "condition": "active", "handling": "new",
        "opened_at": "2026-11-23T17:10:00.000+08:00",
        "last_event_at": "2026-11-23T17:12:00.000+08:00", "cleared_at": None,
        "event_count": version, "reopen_count": 0, "detected_at": "2026-11-23T09:10:01.000Z",
        "location": {"lat": 29.08, "lon": 119.65, "accuracy_m": 12.0},
        "officer_id": "wc-cd-02",
        "route": [{"officer_id": "wc-cd-02", "role": "officer", "reason": "on_shift",
                   "at": "2026-11-23T17:10:00.000+08:00"}],
        "escalated": False, "drill": False, "late": False, "resolution": None,
        "message": {"zh": "陈建军：越界（离开活动区域）（婺城区），未解除",
                    "en": "陈建军: left permitted area (婺城区), active"},
    }
    rec.update(kw)
    return rec


def escalated(alert_id: str = "a-1", version: int = 3, **kw) -> AlertUpdate:
    rec = record(alert_id, version, escalated=True, officer_id="wc-zh-01", **kw)
    rec["route"] = [*rec["route"], {"officer_id": "wc-zh-01", "role": "supervisor",
                                    "reason": "not_acknowledged",
                                    "at": "2026-11-23T17:25:00.000+08:00"}]
    return AlertUpdate.from_wire(rec)
