"""The officers' page in a real headless Chromium: log in, an alert arrives while the page is
open and shows up without a reload, the officer acknowledges it in the page. Screenshots of
the list and of an alert's detail, in 中文 and English, go to tests/artifacts/.

Served by uvicorn in a thread, over the real LiveRuntime and SQLite store when they are there
(stream/live.py), otherwise over the fake runtime of tests/feed. Needs /usr/bin/chromium
(scripts/ci-browser-deps.sh) and playwright-python; never downloads a browser.
"""

from __future__ import annotations

import time

import pytest

from alerts.feed.access import demo_password, set_password

from .conftest import OFFICER, login_as, shot, status, sync_api


def test_officer_sees_a_new_alert_live_and_acknowledges_it(served, page):
    base, runtime = served
    expect = sync_api.expect
    page.goto(base)
    page.fill("#login-officer", OFFICER)
    page.fill("#login-password", demo_password(OFFICER))
    page.click("#login-submit")
    rows = page.locator("li.alert")
    expect(rows).to_have_count(4)  # the drill is not in the live view
    expect(page.locator("#who-name")).to_have_text("汪丽华")
    expect(rows.first).to_contain_text("分钟前")
    expect(page.locator("#conn")).to_have_text("实时连接")

    # an alert arrives while the page is open: it must appear without a reload
    page.evaluate("window.__sameDocument = true")
    runtime.send(status("WC0001", 0.1, "tamper"))
    new = page.locator("li.alert", has_text="陈建军")
    expect(new).to_have_count(1, timeout=10_000)
    expect(new).to_contain_text("防拆报警")
    expect(new).to_have_class("alert sev-critical h-new c-active unread fresh")
    assert page.evaluate("window.__sameDocument") is True
    expect(rows).to_have_count(5)
    shot(page, "officer-list-zh.png")

    # 签收 in the page
    new.click()
    expect(page.locator("#detail .type")).to_have_text("防拆报警")
    expect(new).not_to_have_class("unread")
    page.click("#ack-button")
    expect(page.locator("#detail-handling")).to_contain_text("已签收")
    expect(page.locator("li.alert", has_text="陈建军")).to_contain_text("已签收")
    if runtime.real:
        rec = next(r for r in runtime.rt.store.alerts.list_alerts(limit=50) if r["person_id"] == "WC0001")
        assert rec["handling"] == "acknowledged"
        # the page may show 已签收 from the live stream a moment before the API has written
        # its audit line (it writes it after the engine's answer)
        deadline = time.monotonic() + 5
        while runtime.rt.store.audits.audit_log(5)[0]["what"] != "acknowledge":
            assert time.monotonic() < deadline, runtime.rt.store.audits.audit_log(5)
            time.sleep(0.02)

    # a tamper cannot be resolved without a note: the page says so
    page.select_option("#resolve-disposition", "device_fault")
    page.evaluate("document.getElementById('resolve-note').required = false")
    page.click("#resolve-button")
    expect(page.locator("#action-error")).to_contain_text("防拆报警须填写处置说明")

    # the detail with a map: zone, track and location
    page.locator("li.alert", has_text="王丽萍").click()
    expect(page.locator("#detail .type")).to_have_text("进入禁入区域")
    expect(page.locator("svg.map path.map-zone.exclusion")).to_have_count(1)
    expect(page.locator("svg.map circle.map-fix")).to_have_count(5)
    expect(page.locator("svg.map circle.map-location")).to_have_count(1)
    page.set_viewport_size({"width": 1440, "height": 1360})  # the whole panel, unscrolled
    shot(page, "officer-detail-zh.png")

    page.click("#lang-toggle")
    expect(page.locator("#detail .type")).to_have_text("entered exclusion zone")
    expect(page.locator("li.alert", has_text="陈建军")).to_contain_text("acknowledged")
    expect(page.locator("li.alert", has_text="陈建军")).to_contain_text("tamper")
    shot(page, "officer-detail-en.png")
    page.click("#detail-close")
    page.set_viewport_size({"width": 1440, "height": 960})
    shot(page, "officer-list-en.png")

    # the drill view shows the drill, badged, and nothing else
    page.click("#view-drill")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("drill")
    expect(rows.first).to_contain_text("李国强")
    page.click("#lang-toggle")
    expect(rows.first).to_contain_text("演练")
    shot(page, "officer-drill-zh.png")
    # the refused resolve above is the only failed request the page may have made
    assert [e for e in page.errors if "status of 422" not in e] == []


def test_a_persons_name_opens_their_panel(served, page):
    base, runtime = served
    expect = sync_api.expect
    login_as(page, base, OFFICER)
    expect(page.locator("li.alert")).to_have_count(4)
    expect(page.locator("#summary-open")).to_be_hidden()  # a duty officer has no summary
    row = page.locator("li.alert", has_text="王丽萍")
    row.locator("button.person-link").click()
    panel = page.locator("#person-panel")
    expect(panel.locator("h2.person-name")).to_have_text("王丽萍")
    expect(panel).to_contain_text("社区矫正对象")
    expect(panel.locator("svg.map circle.map-fix")).to_have_count(5)
    expect(panel.locator("svg.map path.map-zone.inclusion")).to_have_count(1)  # 婺城区
    expect(panel.locator("ol.person-alerts li")).to_have_count(1)
    expect(panel.locator("ol.person-alerts li")).to_contain_text("进入禁入区域")
    expect(panel.locator(".chip.ok")).to_have_text("通讯正常")
    expect(panel.locator("ol.timeline li.tl-alert").first).to_contain_text("进入禁入区域")
    expect(panel.locator("ol.timeline li.tl-fixes").first).to_contain_text("定位")
    page.set_viewport_size({"width": 1440, "height": 1500})
    shot(page, "person-zh.png")
    if runtime.real:
        assert "read_person" in [a["what"] for a in runtime.rt.store.audits.audit_log(5)]

    page.click("#lang-toggle")
    expect(panel).to_contain_text("Timeline")
    expect(panel.locator("ol.person-alerts li")).to_contain_text("entered exclusion zone")
    page.click("#lang-toggle")
    # an open alert in the panel opens its detail
    panel.locator("ol.person-alerts li").first.click()
    expect(page.locator("#detail .type")).to_have_text("进入禁入区域")
    # a device that is off shows as such
    page.locator("li.alert", has_text="张海涛").locator("button.person-link").click()
    expect(page.locator("#person-panel .chip.bad")).to_contain_text("关机")
    assert page.errors == []


def test_a_supervisor_opens_the_shift_summary(served, page):
    base, runtime = served
    if not runtime.real:
        pytest.skip("the summary reads the live store")
    supervisor = "wc-zh-01"
    set_password(runtime.rt.store.path, supervisor, demo_password(supervisor))
    login_as(page, base, supervisor)
    button = page.locator("#summary-open")
    sync_api.expect(button).to_be_visible()
    sync_api.expect(button).to_contain_text("值班汇总")
    with page.context.expect_page() as opened:
        button.click()
    summary = opened.value
    summary.wait_for_load_state()
    # the summary is drawn on the server (tables and charts): 1.5-4 s on a busy machine
    sync_api.expect(summary.locator("h1")).to_contain_text("值班交接汇总", timeout=15_000)
    sync_api.expect(summary.locator("body")).to_contain_text("王丽萍")
    assert "ticket=" in summary.url
    assert page.errors == []
