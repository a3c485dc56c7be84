"""Server-sent events over a real server (the test client cannot hold a stream open)."""

from __future__ import annotations

import http.client
import json
import logging
import time
from urllib.parse import urlsplit

import pytest

from alerts.feed.access import demo_password
from alerts.feed.api import _RedactTickets
from alerts.feed.app import create_feed_app

from .kit import fix, serve, status


class Events:
    """A minimal EventSource: reads `event:`/`data:` blocks off an open response."""

    def __init__(self, base: str, path: str, headers=None, timeout: float = 5.0):
        u = urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()

    def next(self, within: float = 5.0) -> tuple[str, dict]:
        """The next event; TimeoutError when none comes `within` seconds (pings aside)."""
        deadline = time.monotonic() + within
        event, data = "message", ""
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError
            line = self.resp.readline().decode("utf-8")
            if line == "":
                raise EOFError
            line = line.rstrip("\n")
            if line == "":
                if data or event != "message":
                    return event, json.loads(data or "{}")
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            if key == "event":
                event = value
            elif key == "data":
                data += value

    def next_alert(self, within: float = 5.0) -> dict:
        deadline = time.monotonic() + within
        while True:
            event, data = self.next(max(0.0, deadline - time.monotonic()))
            if event == "alert":
                return data

    def close(self):
        self.conn.close()


@pytest.fixture
def server(runtime):
    with serve(create_feed_app(runtime, heartbeat_s=0.3)) as base:
        yield base


def token(base: str, officer_id: str) -> str:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    body = json.dumps({"officer_id": officer_id, "password": demo_password(officer_id)})
    conn.request("POST", "/v1/login", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    return json.loads(resp.read())["token"]


def stream_path(base: str, officer_id: str) -> str:
    """The stream's URL as the page opens it: with a one-time ticket."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", "/v1/stream/ticket",
                 headers={"Authorization": f"Bearer {token(base, officer_id)}"})
    resp = conn.getresponse()
    assert resp.status == 200
    return f"/v1/stream?ticket={json.loads(resp.read())['ticket']}"


def test_each_stream_carries_only_its_scope(server, runtime):
    a = Events(server, stream_path(server, 'wc-cd-01'))
    b = Events(server, "/v1/stream", headers={"Authorization": f"Bearer {token(server, 'wc-jn-01')}"})
    assert a.next()[0] == "ready" and b.next()[0] == "ready"
    runtime.feed(status("WC0002", "17:11", "power_off"))   # office A, wc-cd-01
    runtime.feed(status("WC0008", "17:12", "tamper"))      # office B, wc-jn-01
    got_a, got_b = a.next_alert(), b.next_alert()
    assert (got_a["person_id"], got_a["type"], got_a["person_name"]) == ("WC0002", "device_off", "王丽萍")
    assert (got_b["person_id"], got_b["type"]) == ("WC0008", "tamper")  # A's never reached B
    runtime.feed(status("WC0009", "17:13", "power_off"))   # office B, wc-jn-02: not wc-jn-01's
    runtime.feed(status("WC0010", "17:14", "power_off"))   # office B, wc-jn-01
    assert b.next_alert()["person_id"] == "WC0010"
    a.close(), b.close()


def test_updates_from_actions_are_streamed(server, runtime):
    (opened,) = runtime.feed(status("WC0002", "17:11", "power_off"))
    a = Events(server, stream_path(server, 'wc-cd-01'))
    assert a.next()[0] == "ready"
    runtime.submit_action({"type": "action", "alert_id": opened["alert_id"], "action": "acknowledge",
                           "ts": "2026-11-23T17:12:00+08:00", "by": "wc-cd-01"})
    update = a.next_alert()
    assert update["alert_id"] == opened["alert_id"] and update["handling"] == "acknowledged"
    a.close()


def test_a_stream_needs_a_live_session(server):
    for path, headers in (("/v1/stream", {}), ("/v1/stream?ticket=forged", {}),
                          ("/v1/stream", {"Authorization": "Bearer forged"})):
        e = Events(server, path, headers)
        assert e.resp.status == 401
        e.close()


def test_a_stream_ends_when_its_session_does(server, runtime):
    tok = token(server, "wc-cd-01")
    a = Events(server, "/v1/stream", headers={"Authorization": f"Bearer {tok}"})
    assert a.next()[0] == "ready"
    u = urlsplit(server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", "/v1/logout", headers={"Authorization": f"Bearer {tok}"})
    assert conn.getresponse().status == 204
    assert a.next()[0] == "logout"
    with pytest.raises(EOFError):
        a.next()


def test_one_runtime_subscription_for_all_pages_released_when_they_leave(server, runtime):
    pages = [Events(server, stream_path(server, 'wc-cd-duty')) for _ in range(4)]
    for p in pages:
        assert p.next()[0] == "ready"
    assert runtime.subscribers == 1
    for p in pages:
        p.close()
    deadline = time.time() + 5
    while runtime.subscribers and time.time() < deadline:
        time.sleep(0.05)
    assert runtime.subscribers == 0


def test_track_points_are_not_streamed(server, runtime):
    # a fix that opens nothing sends nothing
    a = Events(server, stream_path(server, 'wc-cd-duty'))
    assert a.next()[0] == "ready"
    runtime.feed(fix("WC0002", "17:11", 119.64, 29.08))
    with pytest.raises(TimeoutError):
        a.next_alert(within=1.0)
    a.close()


def test_tickets_in_urls_are_kept_out_of_the_access_log():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4", "GET", "/v1/stream?ticket=SECRET&x=1", "1.1", 200), None)
    _RedactTickets().filter(record)
    assert "SECRET" not in record.getMessage() and "x=1" in record.getMessage()
