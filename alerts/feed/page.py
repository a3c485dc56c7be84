"""The officers' page: plain files from `web/`, the page at `/` and its files under `/assets/`,
and the front-end libraries npm put in `node_modules/` under `/assets/vendor/`.

Routes rather than a mounted directory, so that including the router is all a service does
(a mount at `/` would swallow every route added after it), and only files that exist at start
can be served: no path from a URL ever reaches the file system.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

WEB = Path(__file__).resolve().parent / "web"
# `make install` runs `npm ci` in the checkout; an install without it (a wheel, no npm) has
# no vendor files, and the page then keeps its own SVG map
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
LEAFLET = NODE_MODULES / "leaflet" / "dist"

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def security_headers(img_origins: list[str]) -> dict[str, str]:
    """The page loads nothing from elsewhere but map tiles (images only, from the configured
    tile service) and runs no inline script: an injected string in an alert's text cannot
    run, and the page cannot be framed by another site."""
    img = " ".join(["'self'", "data:", *img_origins])
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",  # revalidate: a new release must not meet an old script
    }



def leaflet_files(root: Path = LEAFLET) -> dict[str, Path]:
    """Leaflet's script, style sheet and the images its style sheet names, by URL path under
    /assets/vendor/leaflet/; empty when npm did not install it."""
    names = ["leaflet.js", "leaflet.css"]
    names += [f"images/{p.name}" for p in sorted((root / "images").glob("*.png"))]
    files = {n: root / n for n in names if (root / n).is_file()}
    return files if "leaflet.js" in files and "leaflet.css" in files else {}


class PageRouter(APIRouter):
    """The page's routes, and whether Leaflet is installed (the map is offered only then)."""

    leaflet: bool = False


def static_routes(img_origins: Callable[[], list[str]] = list,
                  vendor: dict[str, Path] | None = None) -> PageRouter:
    """`img_origins()`: the tile service's origins now (the bundle may change while running)."""
    files = {p.name: p for p in WEB.iterdir() if p.is_file() and p.suffix in _TYPES}
    leaflet = leaflet_files() if vendor is None else vendor
    router = PageRouter(include_in_schema=False)

    def send(path: Path | None) -> FileResponse:
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type=_TYPES[path.suffix],
                            headers=security_headers(img_origins()))

    @router.get("/")
    def index():
        return send(files.get("index.html"))

    @router.get("/assets/{name}")
    def asset(name: str):
        return send(files.get(name))

    @router.get("/assets/vendor/leaflet/{name:path}")
    def leaflet_asset(name: str):
        return send(leaflet.get(name))

    router.leaflet = bool(leaflet)
    return router
