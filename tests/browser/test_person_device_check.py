"""需核查设备 in the person panel, in a real headless Chromium: a person whose tamper alerts
officers resolved as false alarms and device faults carries the badge, with the figures in
its tooltip; a person without such a record has none."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from feed.kit import FakeRuntime, serve

from alerts.feed.access import demo_password, set_password
from alerts.feed.app import create_feed_app
from alerts.timefmt import rfc3339
from browser.chromium import CHROMIUM, launch

OFFICER = "wc-cd-02"  # 陈建军 (WC0001) is theirs

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} missing: run scripts/ci-browser-deps.sh", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python not installed")


def _weekday_morning_ms() -> int:
    """10:00 Beijing time on the latest weekday morning already past: the alerts then reach
    蒋文杰 on his shift (Mon-Fri 08:30-17:30). Following the wall clock instead, a run between
    22:00 and 08:30 routed them to the night desk and his list was empty."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    day = now if now.hour >= 11 else now - timedelta(days=1)
    while day.isoweekday() > 5:
        day -= timedelta(days=1)
    return int(day.replace(hour=10, minute=0, second=0, microsecond=0).timestamp() * 1000)


ANCHOR_MS = _weekday_morning_ms()


def at(minutes_ago: float) -> str:
    return rfc3339(int(ANCHOR_MS - minutes_ago * 60_000))


def tamper(pid: str, minutes_ago: float) -> dict:
    return {"type": "status", "person_id": pid, "ts": at(minutes_ago), "event": "tamper"}


@pytest.fixture
def served(tmp_path):
    rt = FakeRuntime(tmp_path / "lookout.db")
    set_password(rt.store.path, OFFICER, demo_password(OFFICER))
    for minutes_ago, disposition in ((50, "false_alarm"), (40, "device_fault"),
                                     (30, "false_alarm")):
        rt.feed(tamper("WC0001", minutes_ago))
        alert = next(r for r in rt.store.alerts.person_alerts("WC0001") if r["handling"] == "new")
        rt.submit_action({"type": "action", "alert_id": alert["alert_id"], "action": "resolve",
                          "by": OFFICER, "disposition": disposition, "note": "上门查看",
                          "ts": at(minutes_ago - 1)})
    rt.feed(tamper("WC0001", 5))  # open: the row the officer clicks
    rt.feed(tamper("WC0003", 4))  # same officer, nothing resolved
    with serve(create_feed_app(rt)) as base:
        yield base


def test_the_badge_shows_on_the_person_whose_phone_cries_wolf(served):
    expect = sync_api.expect
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
            page.set_default_timeout(15_000)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(served)
            page.fill("#login-officer", OFFICER)
            page.fill("#login-password", demo_password(OFFICER))
            page.click("#login-submit")
            page.locator("li.alert", has_text="陈建军").first.locator("button.person-link").click()
            badge = page.locator("#person-panel .badge.device-check")
            expect(badge).to_have_text("需核查设备")
            expect(badge).to_have_attribute("title", "近 30 天已处置 3 条告警，其中误报 2 条、设备故障 1 条")
            page.click("#lang-toggle")
            expect(badge).to_have_text("Device check needed")
            page.locator("li.alert").filter(has_not_text="陈建军").first.locator(
                "button.person-link").click()
            expect(page.locator("#person-panel h2.person-name")).not_to_have_text("陈建军")
            expect(page.locator("#person-panel .badge.device-check")).to_have_count(0)
            assert errors == []
        finally:
            browser.close()
