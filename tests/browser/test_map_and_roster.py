"""The base map, the person panel and the roster in a real headless Chromium.

A local tile server (a threading HTTP server on 127.0.0.1 that draws PNG tiles and counts
requests) stands in for 天地图: the page must load its tiles from it, draw the person's zones
and track over them, and send no request anywhere but 127.0.0.1 (everything else is blocked
and recorded). Without a tile service the page keeps its SVG map, where a 150 m zone stays
visible on a 10 km view. Screenshots at phone (390×844) and desk (1440×900) size, in 中文 and
English, go to tests/artifacts/ (LOOKOUT_DOC_IMAGES=1: the README's docs/img/person-map.png
too); axe-core checks the views.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from feed.kit import DEMO, serve
from polling import wait_for

from alerts.feed.access import demo_password, set_password
from alerts.feed.app import create_feed_app
from alerts.timefmt import rfc3339
from browser.chromium import CHROMIUM
from geofences.crs import wgs84_to_gcj02

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LEAFLET = ROOT / "node_modules" / "leaflet" / "dist" / "leaflet.js"
OFFICER = "wc-cd-duty"
BAR_STREET = (119.643, 29.085)  # 禁止令 zone, radius 150 m, for WC0002's group

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} missing: run scripts/ci-browser-deps.sh", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python not installed")
expect = sync_api.expect


# -- a local tile server ------------------------------------------------------------------------

def png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A one-colour PNG, written by hand: no imaging library needed for a test tile."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))


class TileServer:
    def __init__(self):
        self.requests: list[str] = []
        tiles = {0: png((226, 232, 220)), 1: png((236, 240, 230))}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # the http.server name
                owner.requests.append(self.path)
                parts = self.path.strip("/").removesuffix(".png").split("/")
                try:
                    _z, x, y = (int(p) for p in parts)
                except ValueError:
                    self.send_error(404)
                    return
                body = tiles[(x + y) % 2]  # a checkerboard: tiles are visibly there
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.port}/{{z}}/{{x}}/{{y}}.png"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# -- the service --------------------------------------------------------------------------------

def at(minutes_ago: float) -> str:
    return rfc3339(int(time.time() * 1000 - minutes_ago * 60_000))


def fix(pid, minutes_ago, east_m, north_m=0.0):
    lon, lat = BAR_STREET
    return {"type": "fix", "person_id": pid, "ts": at(minutes_ago), "accuracy_m": 12,
            "lon": lon + east_m / 97_400, "lat": lat + north_m / 111_000}


def status(pid, minutes_ago, event):
    return {"type": "status", "person_id": pid, "ts": at(minutes_ago), "event": event}


@pytest.fixture
def tiles():
    server = TileServer()
    yield server
    server.close()


@contextmanager
def service(tmp_path: Path, map_tiles: str | None):
    """The live service over a copy of the demo bundle, with `map_tiles` (TOML) if given,
    served on 127.0.0.1: yields the runtime and the base URL."""
    from stream.live import LiveRuntime

    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO, bundle)
    if map_tiles:
        with (bundle / "settings.toml").open("a") as f:
            f.write(f"\n[map_tiles]\n{map_tiles}\n")
    rt = LiveRuntime(bundle, tmp_path / "lookout.db", batch_ms=20, tick_ms=250)
    rt.start()
    # WC0002 walks (rides) 10 km in from the west to the prohibited bar street within the
    # silence timeout, so nothing but the zone is open; WC0004's phone goes off
    events = [fix("WC0002", 27.5 - i * 2.5, -10_000 + i * 1000, 400 - i * 40) for i in range(11)]
    events += [status("WC0004", 4, "power_off")]
    try:
        set_password(rt.store.path, OFFICER, demo_password(OFFICER))
        accepted, rejected = rt.submit_events([orjson.dumps(e) for e in events])
        assert accepted == len(events) and not rejected, rejected
        with serve(create_feed_app(rt)) as base:
            yield rt, base
    finally:
        rt.stop()


def needs_leaflet() -> None:
    if not LEAFLET.exists():
        pytest.skip("node_modules/leaflet missing: run make install (npm ci)")


def new_page(browser, base: str, width: int, height: int, *, lang: str = "zh"):
    """A page that may reach 127.0.0.1 only: anything else is blocked and recorded."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.blocked = []
    page.errors = []

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            page.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.add_init_script(f"localStorage.setItem('lookout.lang', '{lang}')")
    page.goto(base)
    page.fill("#login-officer", OFFICER)
    page.fill("#login-password", demo_password(OFFICER))
    page.click("#login-submit")
    expect(page.locator("#who-name")).to_have_text("汪丽华")
    return page


def shot(page, name: str, full: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full)


def fits_the_width(page, selector: str) -> None:
    """Nothing inside `selector` reaches past the viewport's right edge (the header is the
    phone layout's own business)."""
    wide = page.evaluate("""([sel, w]) => [...document.querySelectorAll(sel + ', ' + sel + ' *')]
        .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5)
        .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
        .slice(0, 8)""", [selector, page.viewport_size["width"]])
    assert wide == [], wide


def axe(page, selector: str) -> list[dict]:
    """Serious and critical axe-core violations inside `selector`."""
    if not AXE.exists():
        pytest.skip("node_modules/axe-core missing: run make install")
    if not page.evaluate("!!window.axe"):
        # evaluated, not added as a <script>: the page's CSP refuses inline scripts, rightly
        page.evaluate(AXE.read_text())
    # the severity badges are the alert list's (app.css), whose colours the accessibility
    # work owns; everything else in these views is checked
    result = page.evaluate("(sel) => axe.run({include: [sel], exclude: [['.badge.sev']]}).then(r => "
                           "r.violations.map(v => ({id: v.id, impact: v.impact, "
                           "nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))", selector)
    return [v for v in result if v["impact"] in ("serious", "critical")]


def open_roster_and_person(page, name: str = "王丽萍"):
    page.click("#view-roster")
    expect(page.locator("#roster-list li.roster-row")).to_have_count(7)  # 城东
    page.locator("#roster-list li.roster-row", has_text=name).locator("button.roster-name").click()
    panel = page.locator("#person-panel")
    expect(panel.locator("h2.person-name")).to_have_text(name)
    return panel


# -- the tests ----------------------------------------------------------------------------------

def test_base_map_from_a_local_tile_server_with_zones_track_and_playback(tmp_path, tiles, browser):
    needs_leaflet()
    with service(tmp_path, f'url = "{tiles.template}"\nattribution = "测试底图 © 本地"\nmax_zoom = 18') as (rt, base):
        page = new_page(browser, base, 1440, 900)
        page.set_viewport_size({"width": 1440, "height": 1700})  # the whole panel
        panel = open_roster_and_person(page)
        leaflet = panel.locator(".leaflet-map")
        expect(leaflet).to_have_count(1)
        expect(leaflet.locator("img.leaflet-tile-loaded").first).to_be_visible()
        # Leaflet asks for the visible tiles one after another: the first one shown does not
        # mean the rest were asked for yet (a loaded machine showed 3)
        wait_for(lambda: len(tiles.requests) >= 4, timeout=15)
        assert all(r.endswith(".png") for r in tiles.requests), tiles.requests
        # the county (inclusion), the bar street (exclusion) with its fixed-size ring,
        # the track, the last fix
        expect(leaflet.locator("path.map-zone.inclusion")).to_have_count(1)
        expect(leaflet.locator("path.map-zone.exclusion")).to_have_count(1)
        expect(leaflet.locator("path.map-zone-mark.exclusion")).to_have_count(1)
        expect(leaflet.locator("path.map-track")).to_have_count(1)
        expect(leaflet.locator(".leaflet-control-attribution")).to_have_text("测试底图 © 本地")
        expect(leaflet.locator(".leaflet-control-scale-line")).to_be_visible()
        # the panel: a phone to call, the address, the zones by name, the last location
        expect(panel.locator('a.tel[href="tel:13805790002"]')).to_have_text("13805790002")
        expect(panel).to_contain_text("浙江省金华市婺城区城东街道李渔路")
        expect(panel.locator("ul.zone-list li.zone-exclusion")).to_contain_text("江南酒吧街")
        expect(panel.locator("ul.zone-list li.zone-inclusion")).to_contain_text("婺城区")
        last = rt.person_status("WC0002")["last_fix"]
        want = f"{last['lat']:.6f}, {last['lon']:.6f}"
        expect(panel.locator(".person-status-block dl.facts")).to_contain_text(want)
        # copy: the clipboard holds lat, lon (WGS-84) with 6 decimals
        expect(panel.locator(".coords-value")).to_have_text(want)
        panel.locator("button.copy-coords").click()
        expect(panel.locator(".copy-note")).to_have_text("已复制")
        assert page.evaluate("navigator.clipboard.readText()") == want
        shot(page, "person-map-desk-zh.png")
        panel.screenshot(path=str(ARTIFACTS / "person-map.png"))
        if os.environ.get("LOOKOUT_DOC_IMAGES") == "1":  # refresh the README's picture
            shutil.copy(ARTIFACTS / "person-map.png", ROOT / "docs" / "img" / "person-map.png")

        # playback over the last two hours: the cursor walks the track
        now_ms = int(time.time() * 1000)
        page.fill("#pb-from", time.strftime("%Y-%m-%dT%H:%M", time.localtime(now_ms / 1000 - 7200)))
        page.click("#pb-load")
        expect(page.locator("#pb-note")).to_have_text("11 个定位")
        end_at = page.locator("#pb-at").text_content()  # it starts at the latest fix
        page.focus("#pb-slider")
        page.keyboard.press("Home")  # back to the first fix: the cursor goes with it
        start_at = page.locator("#pb-at").text_content()
        first = panel.locator(".coords-value").text_content()
        assert start_at < end_at and first != want, (start_at, end_at, first)
        page.select_option("#pb-speed", "3600")  # 25 minutes in under a second
        page.click("#pb-play")
        expect(page.locator("#pb-play")).to_have_text("播放", timeout=10_000)  # ran to the end
        assert page.locator("#pb-at").text_content() == end_at
        expect(panel.locator(".coords-value")).to_have_text(want)
        expect(leaflet.locator("path.map-cursor")).to_have_count(1)
        audits = [a["what"] for a in rt.store.audits.audit_log(20)]
        assert "read_track" in audits and "read_person" in audits and "read_roster" in audits

        # nothing left 127.0.0.1, and nothing broke (CSP violations are console errors)
        assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)
        assert axe(page, "#detail") == []
        assert axe(page, "#roster-pane") == []

        page.click("#lang-toggle")
        expect(panel.locator("h3", has_text="Track playback")).to_have_count(1)
        expect(panel.locator("ul.zone-list li.zone-exclusion")).to_contain_text("no-go zone")
        expect(page.locator("#pb-note")).to_have_text("11 fixes")
        shot(page, "person-map-desk-en.png")
        page.click("#detail-close")
        page.set_viewport_size({"width": 1440, "height": 900})
        shot(page, "roster-desk-en.png")
        page.click("#lang-toggle")
        shot(page, "roster-desk-zh.png")
        assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_phone_roster_and_person_without_tiles(tmp_path, browser, lang):
    with service(tmp_path, None) as (rt, base):
        page = new_page(browser, base, 390, 844, lang=lang)
        page.click("#view-roster")
        rows = page.locator("#roster-list li.roster-row")
        expect(rows).to_have_count(7)
        off = rows.filter(has_text="张海涛")
        expect(off.locator(".chip.bad")).to_have_text("关机" if lang == "zh" else "device off")
        open_now = [r["type"] for r in rt.store.alerts.open_alerts() if r["person_id"] == "WC0004"]
        assert "device_off" in open_now
        expect(off.locator(".roster-alerts strong")).to_have_text(str(len(open_now)))
        # the live service holds each person's state: last seen is known
        expect(off.locator(".roster-seen")).to_contain_text(
            "4 分钟前" if lang == "zh" else "4 min ago")
        expect(page.locator(".roster-note")).to_have_count(0)
        fits_the_width(page, "#roster-pane")
        shot(page, f"roster-phone-{lang}.png")
        assert axe(page, "#roster-pane") == []

        rows.filter(has_text="王丽萍").locator("button.roster-name").click()
        panel = page.locator("#person-panel")
        svg = panel.locator("svg.map")
        expect(svg).to_have_count(1)  # no tile service: the SVG map
        expect(svg.locator("path.map-zone.exclusion")).to_have_count(1)
        expect(svg.locator("polyline.map-track")).to_have_count(1)
        # the 150 m bar street on a 10 km view: drawn as a ring of visible size
        ring = svg.locator("circle.map-zone-mark.exclusion")
        expect(ring).to_have_count(1)
        box = ring.bounding_box()
        assert box["width"] >= 10, box
        # a view of kilometres, where 150 m would be a few pixels
        expect(svg.locator(".map-scale text")).to_have_text(
            re.compile(r"\d+ km" if lang == "en" else r"\d+ 公里"))
        # clicking the map picks that point's coordinates; copying copies them
        svg.click(position={"x": 40, "y": 40})
        picked = panel.locator(".coords-value").text_content()
        lat, lon = (float(v) for v in picked.split(", "))
        assert 28.5 < lat < 29.8 and 119.0 < lon < 120.2, picked  # 婺城区
        panel.locator("button.copy-coords").click()
        assert page.evaluate("navigator.clipboard.readText()") == picked
        fits_the_width(page, "#detail")
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"person-phone-{lang}.png")
        assert axe(page, "#detail") == []
        # the page's GCJ-02 shift (for GCJ-02 tiles) is the server's to the micro-degree
        lon0, lat0 = BAR_STREET
        glat, glon = page.evaluate(f"LookoutMap.toGcj({lat0}, {lon0})")
        want_lon, want_lat = wgs84_to_gcj02(lon0, lat0)
        assert abs(glat - float(want_lat)) < 1e-9 and abs(glon - float(want_lon)) < 1e-9
        back = page.evaluate(f"LookoutMap.fromGcj({glat}, {glon})")
        assert abs(back[0] - lat0) < 1e-8 and abs(back[1] - lon0) < 1e-8
        assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)


def mercator_px(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Where Leaflet's Web Mercator puts a point, in world pixels at zoom z."""
    n = 256 * 2 ** z
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * n, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n


def test_gcj02_tiles_get_overlays_shifted_onto_them(tmp_path, tiles, browser):
    needs_leaflet()
    with service(tmp_path, f'url = "{tiles.template}"\ncrs = "gcj02"') as (rt, base):
        page = new_page(browser, base, 1440, 900)
        panel = open_roster_and_person(page)
        leaflet = panel.locator(".leaflet-map")
        tile = leaflet.locator("img.leaflet-tile-loaded").first
        expect(tile).to_be_visible()
        page.wait_for_timeout(500)  # no zoom animation left
        z, x, y = (int(v) for v in urlsplit(tile.get_attribute("src")).path
                   .removesuffix(".png").strip("/").split("/"))
        t = tile.bounding_box()
        dot = leaflet.locator("path.map-location").bounding_box()
        centre = (dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)
        last = rt.person_status("WC0002")["last_fix"]

        def on_screen(lat, lon):  # from the tile's own place on the screen
            px, py = mercator_px(lat, lon, z)
            return t["x"] + px - x * 256, t["y"] + py - y * 256

        glon, glat = (float(v) for v in wgs84_to_gcj02(last["lon"], last["lat"]))
        shifted, raw = on_screen(glat, glon), on_screen(last["lat"], last["lon"])
        # on the GCJ-02 street it belongs to, not hundreds of metres off (14 px at z12)
        assert abs(centre[0] - shifted[0]) < 1.5 and abs(centre[1] - shifted[1]) < 1.5, (
            centre, shifted, z)
        assert max(abs(centre[0] - raw[0]), abs(centre[1] - raw[1])) > 5, (centre, raw, z)
        # the coordinates shown and copied stay WGS-84
        expect(panel.locator(".coords-value")).to_have_text(
            f"{last['lat']:.6f}, {last['lon']:.6f}")
        assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)
