"""The Debian Chromium every browser test drives: quiet, offline-minded, never downloaded."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# no background traffic of its own: a test that counts the page's requests sees only those
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
