"""The handover sheet as Chromium prints it: every page numbered "第 n 页，共 N 页 / page n of
N", the signature lines on the last page, the period form left off paper. Needs
/usr/bin/chromium, playwright-python and pdftotext (scripts/ci-browser-deps.sh)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts.summary import compute_summary, render
from alerts.summary.html import Picker

from .demo import demo_day

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

if not os.access(CHROMIUM, os.X_OK) or not shutil.which("pdftotext"):
    pytest.skip("chromium or pdftotext missing: run scripts/ci-browser-deps.sh",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python not installed")


def test_printed_pages_are_numbered_and_end_with_the_signatures(tmp_path):
    bundle, updates, times, ack_by, start, end = demo_day(hours=12.0)
    s = compute_summary(updates, bundle, start, end, version_times=times, ack_by=ack_by)
    picker = Picker("/v1/summary", "T", "2026-11-16T08:00", "2026-11-16T20:00", None, [],
                    "both", "period_shift")
    page_html = tmp_path / "summary.html"
    page_html.write_text(render(s, "html", "both", picker=picker), encoding="utf-8")
    pdf = ARTIFACTS / "summary-print.pdf"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_html.as_uri())
            page.pdf(path=str(pdf), prefer_css_page_size=True)
        finally:
            browser.close()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    pages = [" ".join(p.split()) for p in text.rstrip("\f").split("\f")]
    assert len(pages) >= 2, "a 12-hour demo summary fills more than one A4 page"
    n = len(pages)
    for i, content in enumerate(pages, start=1):
        assert f"第 {i} 页，共 {n} 页 / page {i} of {n}" in content, i
    assert "交班人（签名） / Handing over (signature)" in pages[-1]
    assert "接班人（签名） / Taking over (signature)" in pages[-1]
    assert not re.search(r"查看 / Show|Default: your current", text)  # the form is not printed
