"""The page's operator banner, in a real headless Chromium over the real service app: an
admin sees that the bundle on disk was refused (file, line, field) while the service runs on
the good one, an officer is not bothered with it, and the banner goes once the file is fixed.
Needs /usr/bin/chromium and playwright-python; never downloads a browser."""

from __future__ import annotations

import json
import os

import pytest
from admin.kit import password, write_bundle
from feed.kit import serve

from alerts.feed.access import set_password
from config.loader import BundleError
from stream.live import LiveRuntime
from stream.service import create_app

CHROMIUM = "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} missing: run scripts/ci-browser-deps.sh", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python not installed")


def _log_in(page, base: str, user: str) -> None:
    page.goto(base)
    page.fill("#login-officer", user)
    page.fill("#login-password", password(user))
    page.click("#login-submit")
    sync_api.expect(page.locator("#who")).to_be_visible()


def test_admins_see_a_refused_bundle_on_the_page_until_it_is_fixed(tmp_path):
    bundle = write_bundle(tmp_path)
    db = tmp_path / "lookout.db"
    for user in ("adm", "w1"):
        set_password(db, user, password(user))
    rt = LiveRuntime(bundle, db, batch_ms=20, tick_ms=250, purge_every_s=None).start()
    persons = (bundle / "persons.jsonl").read_text(encoding="utf-8")
    lines = persons.splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "zones": ["nowhere"]}, ensure_ascii=False)
    (bundle / "persons.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BundleError):
        rt.reload()  # refused: the file stays on disk, bundle_invalid is raised
    try:
        with serve(create_app(rt)) as base, sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"])
            try:
                page = browser.new_context(locale="zh-CN").new_page()
                page.set_default_timeout(15_000)
                _log_in(page, base, "adm")
                banner = page.locator("#ops-banner")
                sync_api.expect(banner).to_be_visible()
                sync_api.expect(banner).to_contain_text("persons.jsonl · line 2 · zones[0]")
                sync_api.expect(banner).to_contain_text("部署包无效")

                officer = browser.new_context(locale="zh-CN").new_page()
                officer.set_default_timeout(15_000)
                _log_in(officer, base, "w1")
                officer.wait_for_timeout(1500)
                assert not officer.locator("#ops-banner").is_visible()

                (bundle / "persons.jsonl").write_text(persons, encoding="utf-8")
                rt.reload()
                sync_api.expect(banner).to_be_hidden(timeout=15_000)
            finally:
                browser.close()
    finally:
        rt.stop()
