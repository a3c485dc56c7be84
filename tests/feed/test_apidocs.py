"""/docs: Swagger UI from the npm package, under the page's CSP, nothing from a CDN; and a
plain message (with /openapi.json still there) when the package is missing."""

from __future__ import annotations

import os
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alerts.feed.apidocs import SWAGGER_UI, docs_routes
from alerts.feed.app import create_feed_app

from .kit import serve

needs_package = pytest.mark.skipif(not (SWAGGER_UI / "swagger-ui-bundle.js").is_file(),
                                   reason="swagger-ui-dist missing: run make install")


@needs_package
def test_docs_come_from_the_package_under_the_csp(client):
    r = client.get("/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"(src|href)=\"(https?:)?//", r.text)  # nothing from elsewhere
    for src in re.findall(r"(?:src|href)=\"([^\"]+)\"", r.text):
        asset = client.get(src)
        assert asset.status_code == 200, src
    assert client.get("/docs/assets/index.html").status_code == 404  # only what the page uses
    assert client.get("/docs/assets/..%2Fpackage.json").status_code == 404
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN pages are off
    assert client.get("/openapi.json").json()["paths"]["/v1/stream/ticket"]


def test_without_the_package_docs_say_so_and_openapi_still_works(tmp_path, runtime):
    app = FastAPI(docs_url=None, redoc_url=None)
    app.include_router(docs_routes(tmp_path / "node_modules" / "swagger-ui-dist"))
    with TestClient(app) as c:
        r = c.get("/docs")
        assert r.status_code == 503 and "make install" in r.text and "/openapi.json" in r.text
        assert c.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
        assert c.get("/openapi.json").status_code == 200


CHROMIUM = "/usr/bin/chromium"


@needs_package
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} missing")
def test_swagger_ui_renders_in_a_real_browser_without_csp_violations(runtime):
    sync_api = pytest.importorskip("playwright.sync_api")
    with serve(create_feed_app(runtime)) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            problems, elsewhere = [], []
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: not r.url.startswith(base) and elsewhere.append(r.url))
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/v1/stream/ticket" in t for t in paths)
            assert problems == [] and elsewhere == []
        finally:
            browser.close()
