"""The officers' page: plain files from `web/`, the page at `/` and its files under `/assets/`.

Routes rather than a mounted directory, so that including the router is all a service does
(a mount at `/` would swallow every route added after it), and only files that exist at start
can be served: no path from a URL ever reaches the file system.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

WEB = Path(__file__).resolve().parent / "web"

# The page loads nothing from elsewhere and runs no inline script: an injected string in an
# alert's text cannot run, and the page cannot be framed by another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new release must not meet an old script
}
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def static_routes() -> APIRouter:
    files = {p.name: p for p in WEB.iterdir() if p.is_file() and p.suffix in _TYPES}
    router = APIRouter(include_in_schema=False)

    def send(name: str) -> FileResponse:
        path = files.get(name)
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type=_TYPES[path.suffix], headers=SECURITY_HEADERS)

    @router.get("/")
    def index():
        return send("index.html")

    @router.get("/assets/{name}")
    def asset(name: str):
        return send(name)

    return router
