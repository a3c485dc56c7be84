"""An open stream ends with its session, whatever ended it, even on a feed busy enough that the
stream is never idle: logout, expiry, a new password (set by another process, through the
file), the officer removed from the bundle or moved to another office."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import pytest

from alerts.feed.access import set_password
from alerts.feed.app import create_feed_app

from .kit import serve
from .test_stream import Events, token

OFFICER = "wc-cd-01"  # WC0002 is theirs
CLOSES_WITHIN_S = 2.0


class BusyFeed(threading.Thread):
    """An update in OFFICER's scope every 50 ms (WC0002's phone off, on, off, ...)."""

    def __init__(self, runtime):
        super().__init__(daemon=True)
        self.runtime, self.stop = runtime, threading.Event()

    def run(self):
        i = 0
        while not self.stop.wait(0.05):
            t = time.gmtime(1_795_000_000 + i)  # any increasing event time
            self.runtime.feed({"type": "status", "person_id": "WC0002",
                               "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", t),
                               "event": "power_off" if i % 2 == 0 else "power_on"})
            i += 1


def post(base: str, path: str, headers=None) -> int:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", path, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def ends_within(stream: Events, seconds: float) -> float:
    """How long until the stream says `logout` and closes; fails after `seconds`."""
    start = time.monotonic()
    while True:
        left = seconds - (time.monotonic() - start)
        assert left > 0, f"the stream was still open {seconds} s after its session ended"
        event, _ = stream.next(left)
        if event == "logout":
            with pytest.raises(EOFError):
                stream.next(1.0)
            return time.monotonic() - start


@pytest.fixture
def busy(runtime):
    feed = BusyFeed(runtime)
    feed.start()
    yield feed
    feed.stop.set()
    feed.join(5)


def open_stream(base: str, tok: str) -> Events:
    stream = Events(base, "/v1/stream", headers={"Authorization": f"Bearer {tok}"})
    assert stream.next()[0] == "ready"
    stream.next_alert()  # the feed is flowing through it
    return stream


@pytest.fixture
def server(runtime):
    with serve(create_feed_app(runtime, heartbeat_s=0.3)) as base:
        yield base


def test_logout_closes_a_busy_stream(server, runtime, busy):
    tok = token(server, OFFICER)
    stream = open_stream(server, tok)
    assert post(server, "/v1/logout", {"Authorization": f"Bearer {tok}"}) == 204
    ends_within(stream, CLOSES_WITHIN_S)


def test_a_new_password_set_on_the_server_closes_a_busy_stream(server, runtime, busy):
    stream = open_stream(server, token(server, OFFICER))
    set_password(runtime.store.path, OFFICER, "a brand new password")  # as `lookout admin password --db`
    ends_within(stream, CLOSES_WITHIN_S)


def test_removing_the_officer_closes_a_busy_stream(server, runtime, busy):
    stream = open_stream(server, token(server, OFFICER))
    b = runtime.bundle
    runtime.bundle = dataclasses.replace(
        b, officers=[o for o in b.officers if o.officer_id != OFFICER])
    ends_within(stream, CLOSES_WITHIN_S)


def test_moving_the_officer_to_another_office_closes_a_busy_stream(server, runtime, busy):
    tok = token(server, OFFICER)
    stream = open_stream(server, tok)
    b = runtime.bundle
    runtime.bundle = dataclasses.replace(b, officers=[
        dataclasses.replace(o, office_id="wucheng-jiangnan") if o.officer_id == OFFICER else o
        for o in b.officers])
    ends_within(stream, CLOSES_WITHIN_S)
    # and the session is over everywhere, not only on the stream: they log in again
    u = urlsplit(server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", "/v1/me", headers={"Authorization": f"Bearer {tok}"})
    assert conn.getresponse().status == 401


def test_expiry_closes_a_busy_stream(runtime, busy):
    with serve(create_feed_app(runtime, heartbeat_s=0.3, session_ttl_s=2.0)) as base:
        tok = token(base, OFFICER)
        stream = open_stream(base, tok)
        took = ends_within(stream, 2.0 + CLOSES_WITHIN_S)
        assert took >= 0.5  # it ran until its expiry, not at once


def test_another_officers_logout_leaves_a_stream_open(server, runtime, busy):
    stream = open_stream(server, token(server, OFFICER))
    other = token(server, "wc-cd-02")
    assert post(server, "/v1/logout", {"Authorization": f"Bearer {other}"}) == 204
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        assert stream.next_alert()["person_id"] == "WC0002"
    stream.close()


def test_the_stream_opens_with_a_one_time_ticket_not_the_token(server, runtime):
    tok = token(server, OFFICER)
    assert Events(server, f"/v1/stream?token={tok}").resp.status == 401
    u = urlsplit(server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", "/v1/stream/ticket", headers={"Authorization": f"Bearer {tok}"})
    resp = conn.getresponse()
    assert resp.status == 200
    ticket = json.loads(resp.read())["ticket"]
    assert tok not in ticket
    stream = Events(server, f"/v1/stream?ticket={ticket}")
    assert stream.next()[0] == "ready"
    again = Events(server, f"/v1/stream?ticket={ticket}")
    assert again.resp.status == 401  # spent
    assert post(server, "/v1/stream/ticket") == 401  # no session, no ticket
    stream.close()
