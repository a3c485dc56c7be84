"""The console as officers use it, in a real headless Chromium over the real LiveRuntime and
SQLite store: the triage list among 1,200 alerts at desk and phone size (in 中文 and English,
with axe-core), a link per alert and Back, unread state across a reload, filters, bulk 签收 and
the keyboard, and a burst of 1,000 alerts through the real ingest and stream.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import orjson
import pytest
from feed.kit import DEMO, fill, serve

from alerts.feed.access import demo_password, set_password
from alerts.feed.app import create_feed_app

from .conftest import (
    DESK,
    OFFICER,
    PHONE,
    Runtime,
    afternoon,
    login_as,
    new_page,
    shot,
    status,
    sync_api,
)

expect = sync_api.expect
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SUPERVISOR = "wc-zh-01"  # sees all three offices of 婺城区


def axe_violations(page) -> list[str]:
    """Serious or critical WCAG 2.1 A/AA violations axe-core finds in the page as it is."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def crowded(tmp_path):
    """1,200 alerts written into the real store of a live runtime."""
    runtime = Runtime(tmp_path)
    if not runtime.real:
        pytest.skip("needs the live runtime")
    for officer in (OFFICER, SUPERVISOR):
        set_password(runtime.rt.store.path, officer, demo_password(officer))
    many = fill(runtime.rt.store)
    try:
        with serve(create_feed_app(runtime.rt)) as base:
            yield base, runtime, many
    finally:
        runtime.stop()


def test_triage_among_1200_at_desk_and_phone(crowded, browser):
    base, runtime, many = crowded
    needle = many["needle"]
    for size, viewport in (("desk", DESK), ("phone", PHONE)):
        page = new_page(browser, viewport, bypass_csp=True)  # axe is injected as a script
        login_as(page, base, SUPERVISOR)
        rows = page.locator("li.alert")
        # the critical escalated tamper nobody acknowledged is the first row, before every
        # newer, lesser alert
        expect(rows.first).to_have_attribute("data-id", needle["alert_id"])
        expect(rows).to_have_count(100)
        # counts are the totals, not the page
        opened = sum(r["handling"] != "resolved" for r in many["records"])
        expect(page.locator("#count")).to_have_text(f"显示 100 条，共 {opened} 条")
        expect(page.locator("#tabs [data-tab=resolved] .n")).to_have_text(
            str(sum(r["handling"] == "resolved" for r in many["records"])))
        expect(page.locator("#critical-banner")).to_contain_text("条紧急告警未签收")
        assert no_horizontal_scroll(page), size
        shot(page, f"console-{size}-zh.png", full_page=False)
        assert axe_violations(page) == [], f"{size} zh"
        page.click("#lang-toggle")
        expect(page.locator("#count")).to_have_text(f"showing 100 of {opened}")
        assert no_horizontal_scroll(page), size
        shot(page, f"console-{size}-en.png", full_page=False)
        assert axe_violations(page) == [], f"{size} en"
        page.click("#lang-toggle")
        if size == "phone":
            # the header stays one line of brand, 退出 on screen
            brand = page.locator(".brand-name").bounding_box()
            assert brand["height"] < 40, brand
            logout = page.locator("#logout").bounding_box()
            assert logout["x"] + logout["width"] <= PHONE["width"]
            # the detail is a screen of its own, its top (and 签收) in view on open, even
            # from far down the list
            rows.nth(30).scroll_into_view_if_needed()
            rows.nth(30).locator("a.open").click()
            expect(page.locator("#detail-title")).to_be_focused()
            head = page.locator("#detail-title").bounding_box()
            assert 0 <= head["y"] < PHONE["height"] / 2, head
            assert no_horizontal_scroll(page)
            assert "#/alerts/" in page.url
            shot(page, "console-phone-detail-zh.png", full_page=False)
            assert axe_violations(page) == [], "phone detail"
            # Back closes the detail, and keeps the officer in the app
            page.go_back()
            expect(page.locator("#detail")).to_be_hidden()
            expect(page.locator("#feed-view")).to_be_visible()
            expect(rows.nth(30).locator("a.open")).to_be_focused()
        assert page.errors == []
        page.context.close()

    # a shared link opens that alert once the officer has logged in
    page = new_page(browser, PHONE)
    login_as(page, base, SUPERVISOR, f"/#/alerts/{needle['alert_id']}")
    expect(page.locator("#detail-title")).to_have_text("防拆报警")
    expect(page.locator("#detail .who-line")).to_contain_text("李国强")
    page.locator("#detail-close").click()
    expect(page.locator("#detail")).to_be_hidden()
    assert page.errors == []


def afternoon_list(page, base):
    """The duty officer of 城东 logged in, the afternoon's four live alerts listed."""
    login_as(page, base, OFFICER)
    rows = page.locator("li.alert")
    expect(rows).to_have_count(4)
    return rows


def test_filters_and_unread_across_a_reload(served, page):
    base, runtime = served
    rows = afternoon_list(page, base)
    expect(page.locator("li.alert.unread")).to_have_count(4)
    assert page.title().startswith("(4) ")
    page.locator("li.alert", has_text="王丽萍").locator("a.open").click()
    expect(page.locator("#detail-title")).to_have_text("进入禁入区域")
    expect(page.locator("li.alert.unread")).to_have_count(3)
    page.reload()  # the session stays for the tab; unread comes from the server
    expect(rows).to_have_count(4)
    expect(page.locator("li.alert.unread")).to_have_count(3)
    expect(page.locator("li.alert", has_text="王丽萍")).not_to_have_class("unread")
    assert page.title().startswith("(3) ")
    page.keyboard.press("Escape")

    page.click("#filters summary")
    page.fill("#filter-person", "张海")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("关机")
    page.fill("#filter-person", "")
    expect(rows).to_have_count(4)
    page.select_option("#filter-severity", "high")
    expect(rows).to_have_count(2)  # 关机, 定位关闭
    page.select_option("#filter-severity", "")
    # only the alerts whose current officer is the duty officer: the alerts' times follow the
    # wall clock, so whether their own officers were on shift depends on when the test runs
    live = [a for a in runtime.rt.store.alerts.list_alerts(limit=1000) if not a["drill"]]
    mine = sum(a["officer_id"] == OFFICER for a in live)
    page.check("#filter-mine")
    expect(rows).to_have_count(mine)
    page.uncheck("#filter-mine")
    page.click("#tabs [data-tab=resolved]")
    expect(rows).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()

    # the narrowest phone: no sideways scrolling, with the filters open or a detail shown
    page.click("#tabs [data-tab=open]")
    page.set_viewport_size({"width": 360, "height": 740})
    expect(rows).to_have_count(4)
    assert no_horizontal_scroll(page)
    rows.first.locator("a.open").click()
    expect(page.locator("#detail-title")).to_be_in_viewport()
    assert no_horizontal_scroll(page)
    assert page.errors == []


def test_bulk_acknowledge_and_the_keyboard(served, page):
    base, runtime = served
    rows = afternoon_list(page, base)
    page.keyboard.press("j")
    expect(rows.nth(0).locator("a.open")).to_be_focused()
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#bulk-count")).to_have_text("已选 2 条")
    picked = [rows.nth(i).get_attribute("data-id") for i in (0, 1)]
    page.click("#bulk-ack")
    expect(page.locator("#bulk-result")).to_have_text("已完成 2 条")
    expect(page.locator("#tabs [data-tab=acknowledged] .n")).to_have_text("2")
    for alert_id in picked:
        assert runtime.rt.store.alerts.latest(alert_id)["handling"] == "acknowledged"
    deadline = time.monotonic() + 5
    while sum(a["what"] == "acknowledge" for a in runtime.rt.store.audits.audit_log(20)) < 2:
        assert time.monotonic() < deadline  # each alert its own audit line
        time.sleep(0.05)

    # select-all-on-page, then 处置 them all with one disposition and note
    page.check("#select-page")
    expect(page.locator("#bulk-count")).to_have_text("已选 4 条")
    page.select_option("#bulk-disposition", "device_fault")
    page.fill("#bulk-note", "网关故障，已报修")
    page.click("#bulk-resolve")
    expect(page.locator("#bulk-result")).to_have_text("已完成 4 条")
    expect(page.locator("#tabs [data-tab=resolved] .n")).to_have_text("4")
    expect(rows).to_have_count(0)

    # the keyboard in the detail: Enter opens, Esc closes and gives the row its focus back
    page.click("#tabs [data-tab=resolved]")
    expect(rows).to_have_count(4)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    expect(rows.nth(0).locator("a.open")).to_be_focused()
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("签收")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    assert page.errors == []


def test_a_keyboard_acknowledge_keeps_focus(served, page):
    base, runtime = served
    rows = afternoon_list(page, base)
    page.keyboard.press("j")
    page.keyboard.press("j")
    target = rows.nth(1).get_attribute("data-id")
    page.keyboard.press("Enter")
    expect(page.locator("#ack-button")).to_be_visible()
    page.keyboard.press("a")
    expect(page.locator("#detail-handling")).to_contain_text("已签收")
    # a live alert arriving moves rows; focus stays where the officer left it
    page.locator(f'li.alert[data-id="{target}"] a.open').focus()
    runtime.send(status("WC0001", 0.1, "tamper"))
    expect(rows).to_have_count(5)
    expect(page.locator(f'li.alert[data-id="{target}"] a.open')).to_be_focused()
    assert page.evaluate("document.activeElement !== document.body")
    # `a` on a row of the list acknowledges it where it is; the focus moves with the row
    page.keyboard.press("Escape")
    battery = page.locator("li.alert", has_text="电量低")
    battery.locator("a.open").focus()
    page.keyboard.press("a")
    expect(battery).to_contain_text("已签收")
    expect(battery.locator("a.open")).to_be_focused()
    expect(page.locator("#detail")).to_be_hidden()
    # on 未签收 an acknowledged row leaves the list; the focus goes to its neighbour
    page.click("#tabs [data-tab=new]")
    expect(rows).to_have_count(3)
    rows.first.locator("a.open").focus()
    second = rows.nth(1).get_attribute("data-id")
    page.keyboard.press("a")
    expect(rows).to_have_count(2)
    expect(page.locator(f'li.alert[data-id="{second}"] a.open')).to_be_focused()
    assert page.errors == []


# -- a burst ------------------------------------------------------------------------------------

BURST = 1000


def crowd_bundle(tmp_path: Path) -> Path:
    """The demo bundle with 1,000 more persons in 城东, so a burst can open 1,000 alerts."""
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO, bundle)
    with open(bundle / "persons.jsonl", "ab") as f:
        for i in range(BURST):
            f.write(orjson.dumps({
                "person_id": f"BX{i:04d}", "name": f"测试{i:04d}",
                "office_id": "wucheng-chengdong", "officer_id": "wc-cd-01",
                "zones": ["cn-330702"], "groups": [], "risk": "low"},
                option=orjson.OPT_APPEND_NEWLINE))
    return bundle


def test_a_burst_of_1000_alerts_keeps_the_page_responsive(tmp_path, browser):
    runtime = Runtime(tmp_path, crowd_bundle(tmp_path))
    if not runtime.real:
        pytest.skip("needs the live runtime")
    try:
        set_password(runtime.rt.store.path, OFFICER, demo_password(OFFICER))
        afternoon(runtime)
        with serve(create_feed_app(runtime.rt)) as base:
            page = new_page(browser, DESK)
            login_as(page, base, OFFICER)
            rows = page.locator("li.alert")
            expect(rows).to_have_count(4)
            page.evaluate("""() => {
                window.__long = [];
                new PerformanceObserver((list) => {
                    for (const e of list.getEntries()) window.__long.push(Math.round(e.duration));
                }).observe({type: 'longtask', buffered: false});
                window.__first = null;
                window.__n = 0;
                window.Lookout.S.es.addEventListener('alert', () => {
                    if (window.__first === null) window.__first = performance.now();
                    window.__n += 1;
                    window.__last = performance.now();
                });
            }""")
            # a carrier outage ends: every gateway reports a tamper at once
            runtime.send(*[status(f"BX{i:04d}", 0.05, "tamper") for i in range(BURST)])
            # all of it arrived and applied: nothing is queued, the list holds its 100 rows
            page.wait_for_function(f"""() => window.__n >= {BURST}
                && window.Lookout.list.busy() === 0""", timeout=30_000, polling=20)
            assert page.evaluate("window.Lookout.list.R.order.length") == 100
            drained = page.evaluate("performance.now()")
            expect(page.locator("#tabs [data-tab=new] .n")).to_have_text(str(BURST + 4),
                                                                         timeout=10_000)
            # usable: open the top row, the detail answers
            t0 = page.evaluate("performance.now()")
            rows.first.locator("a.open").click()
            expect(page.locator("#detail-title")).to_have_text("防拆报警")
            opened = page.evaluate("performance.now()") - t0
            first, last = page.evaluate("[window.__first, window.__last]")
            longest = max(page.evaluate("window.__long") or [0])
            print(f"burst: {BURST} alerts streamed over {last - first:.0f} ms; the page was up "
                  f"to date {drained - last:.0f} ms after the last; longest task "
                  f"{longest:.0f} ms; a click opened the detail in {opened:.0f} ms")
            assert longest < 200, page.evaluate("window.__long")
            # the page keeps up with the stream: the list is current within 1 s of the last
            assert drained - last < 1000
            assert page.errors == []
    finally:
        runtime.stop()


ATTENTION_PROBES = """
window.__tones = 0;
window.__asked = 0;
const make = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.__tones += 1; return make.call(this); };
if (window.Notification) {
  Notification.requestPermission = () => { window.__asked += 1; return Promise.resolve('denied'); };
}
"""


def test_attention_tone_mute_and_one_permission_request(served, page):
    base, runtime = served
    page.add_init_script(ATTENTION_PROBES)
    rows = afternoon_list(page, base)
    # permission is asked from the officer's click, once, and never again after a reload
    ask = page.locator("#notify-ask")
    expect(ask).to_be_visible()
    ask.click()
    expect(ask).to_be_hidden()
    assert page.evaluate("window.__asked") == 1
    # a new critical alert: a tone (two beeps), the title, one announcement
    runtime.send(status("WC0001", 0.1, "tamper"))
    expect(rows).to_have_count(5)
    page.wait_for_function("window.__tones === 2")
    expect(page.locator("#announcer")).to_have_text("新紧急告警：防拆报警 陈建军")
    assert page.title().startswith("(5) ")
    # muted: remembered across a reload, and silent
    page.click("#mute-toggle")
    expect(page.locator("#mute-toggle")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(rows).to_have_count(5)
    expect(page.locator("#mute-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#mute-toggle")).to_have_text("已静音")
    expect(page.locator("#notify-ask")).to_be_hidden()
    page.locator("#list-heading").click()  # a gesture, so sound could play if it were on
    runtime.send(status("WC0007", 0.1, "tamper"))
    expect(rows).to_have_count(6)
    page.wait_for_timeout(300)
    assert page.evaluate("[window.__tones, window.__asked]") == [0, 0]
    assert page.errors == []


def test_the_dark_scheme_at_desk_and_phone(served, browser):
    """At 03:00 a desk may run its system dark: the page follows, and stays readable."""
    base, runtime = served
    for size, viewport in (("desk", DESK), ("phone", PHONE)):
        page = new_page(browser, viewport, color_scheme="dark", bypass_csp=True)
        rows = afternoon_list(page, base)
        assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(16, 22, 29)"
        assert no_horizontal_scroll(page)
        shot(page, f"console-{size}-dark-zh.png", full_page=False)
        assert axe_violations(page) == [], f"{size} dark list"
        rows.first.locator("a.open").click()
        expect(page.locator("#detail-title")).to_be_focused()
        shot(page, f"console-{size}-dark-detail-zh.png", full_page=False)
        assert axe_violations(page) == [], f"{size} dark detail"
        page.click("#detail-close")
        page.click("#lang-toggle")
        rows.first.locator("a.open").click()
        expect(page.locator("#detail-title")).to_be_focused()
        assert axe_violations(page) == [], f"{size} dark detail en"
        assert page.errors == []
        page.context.close()
