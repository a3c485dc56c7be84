"""Shared by the browser tests: the page in a real headless Chromium over the real LiveRuntime
and SQLite store (stream/live.py), served by uvicorn in a thread. Needs /usr/bin/chromium
(scripts/ci-browser-deps.sh) and playwright-python; never downloads a browser."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest
from feed.kit import DEMO, FakeRuntime, serve

from alerts.feed.access import demo_password, set_password
from alerts.feed.app import create_feed_app
from alerts.timefmt import rfc3339
from browser.chromium import CHROMIUM, launch

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
OFFICER = "wc-cd-duty"  # 城东 duty officer: sees the whole office whoever is on shift
BAR_STREET = (119.643, 29.085)  # 禁止令 zone, radius 150 m, for WC0002's group
DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} missing: run scripts/ci-browser-deps.sh", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python not installed")


class Runtime:
    """The real runtime if it starts, else the fake; `send` posts events either way."""

    def __init__(self, tmp_path: Path, bundle_dir: Path = DEMO):
        self.stop = lambda: None
        try:
            from stream.live import LiveRuntime

            rt = LiveRuntime(bundle_dir, tmp_path / "lookout.db", batch_ms=20, tick_ms=250)
            rt.start()
            self.rt, self.real, self.stop = rt, True, rt.stop
        except ImportError:
            self.rt, self.real = FakeRuntime(tmp_path / "lookout.db"), False

    def send(self, *events: dict) -> None:
        if self.real:
            accepted, rejected = self.rt.submit_events([orjson.dumps(e) for e in events])
            assert accepted == len(events) and not rejected, rejected
        else:
            self.rt.feed(*events)


def at(minutes_ago: float) -> str:
    return rfc3339(int(time.time() * 1000 - minutes_ago * 60_000))


def status(pid, minutes_ago, event, drill=False):
    return {"type": "status", "person_id": pid, "ts": at(minutes_ago), "event": event,
            "drill": drill}


def fix(pid, minutes_ago, east_m):
    lon, lat = BAR_STREET
    return {"type": "fix", "person_id": pid, "ts": at(minutes_ago), "accuracy_m": 12,
            "lon": lon + east_m / 97_400, "lat": lat + east_m / 400_000}


def afternoon(runtime: Runtime) -> None:
    """The afternoon so far in 城东: someone walks into a prohibited bar street, a phone goes
    off, a battery runs low, location is turned off; and a drill."""
    runtime.send(fix("WC0002", 14, 900), fix("WC0002", 12, 520), fix("WC0002", 10, 260),
                 fix("WC0002", 8, 90), fix("WC0002", 6, 30))
    runtime.send(status("WC0005", 25, "location_disabled"), status("WC0006", 20, "low_battery"),
                 status("WC0004", 4, "power_off"), status("WC0003", 3, "tamper", drill=True))


@pytest.fixture
def served(tmp_path):
    runtime = Runtime(tmp_path)
    set_password(runtime.rt.store.path, OFFICER, demo_password(OFFICER))
    afternoon(runtime)
    try:
        with serve(create_feed_app(runtime.rt)) as base:
            yield base, runtime
    finally:
        runtime.stop()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def new_page(browser, viewport=None, **context):
    ctx = browser.new_context(viewport=viewport or {"width": 1440, "height": 960},
                              locale="zh-CN", timezone_id="Asia/Shanghai", **context)
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
    return pg


@pytest.fixture
def page(browser):
    return new_page(browser)


def shot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def login_as(page, base, officer_id, path: str = ""):
    page.goto(base + path)
    page.fill("#login-officer", officer_id)
    page.fill("#login-password", demo_password(officer_id))
    page.click("#login-submit")
