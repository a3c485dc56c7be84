"""`/docs`: the OpenAPI description read through Swagger UI, served by Lookout itself from the
`swagger-ui-dist` npm package (`make install` runs `npm ci`), under the officers' page's CSP.
FastAPI's own /docs and /redoc load their scripts from a CDN: an officer's browser on a
closed network cannot reach one, and a CDN that serves a changed script would run it with the
page's rights. Without the package, /docs says so; /openapi.json works either way."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from alerts.feed.page import NODE_MODULES, security_headers

# the page's policy; the API's own page shows no map tiles
_HEADERS = security_headers([])

SWAGGER_UI = NODE_MODULES / "swagger-ui-dist"
_FILES = {"swagger-ui.css": "text/css; charset=utf-8",
          "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "favicon-32x32.png": "image/png"}

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>Lookout 瞭望 API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body></html>
"""
# no inline script under the CSP: the start-up lines are a file of their own
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null,  // the default would send our API description to swagger.io
});
"""
_MISSING = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>Lookout 瞭望 API</title></head><body>
<p>接口文档页面未安装（缺少 npm 包 swagger-ui-dist）：请运行 <code>make install</code>。
接口描述仍可从 <a href="/openapi.json">/openapi.json</a> 获取。</p>
<p>The API page is not installed (the npm package swagger-ui-dist is missing): run
<code>make install</code>. The API description is still at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""


def docs_routes(swagger_ui: Path = SWAGGER_UI) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    present = (swagger_ui / "swagger-ui-bundle.js").is_file()

    @router.get("/docs")
    def docs():
        if not present:
            return HTMLResponse(_MISSING, 503, headers=_HEADERS)
        return HTMLResponse(_PAGE, headers=_HEADERS)

    @router.get("/docs/assets/{name}")
    def asset(name: str):
        if name == "init.js":
            return Response(_INIT, media_type="text/javascript; charset=utf-8",
                            headers=_HEADERS)
        if not present or name not in _FILES:
            raise HTTPException(404)
        return FileResponse(swagger_ui / name, media_type=_FILES[name], headers=_HEADERS)

    return router
