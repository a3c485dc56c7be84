"""The roster (GET /v1/roster), the person view's phone, address and zones, track playback's
limit, and the base map's settings (GET /v1/map, the page's CSP, start-up checks)."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from alerts.feed.page import leaflet_files, security_headers
from config.loader import BundleError, load_bundle, parse_ts_ms
from config.model import PermitSpec
from config.settings import MapTiles

from .kit import DEMO, fix, ts
from .test_person import at

CHENGDONG = [f"WC000{i}" for i in range(1, 8)]


def roster(client, headers) -> dict:
    r = client.get("/v1/roster", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_roster_lists_whom_the_caller_may_see_own_persons_first(client, login, day, clock):
    at(clock, "18:00")
    officer = roster(client, login("wc-cd-01"))["persons"]
    assert sorted(p["person_id"] for p in officer) == CHENGDONG  # the office, not 江南
    mine = [p["person_id"] for p in officer if p["mine"]]
    assert mine == ["WC0002", "WC0004", "WC0006"] == [p["person_id"] for p in officer[:3]]
    supervisor = roster(client, login("wc-zh-01"))["persons"]
    assert len(supervisor) == 20 and not any(p["mine"] for p in supervisor)
    assert {p["person_id"] for p in roster(client, login("wc-jn-01"))["persons"]} == {
        f"WC00{i:02d}" for i in range(8, 15)}
    assert client.get("/v1/roster").status_code == 401


def test_roster_counts_open_alerts_as_the_caller_sees_them(client, login, day, clock, runtime):
    at(clock, "18:00")
    by_id = {p["person_id"]: p for p in roster(client, login("wc-cd-duty"))["persons"]}
    # the drill (WC0003) is not a real open alert
    assert {k: v["open_alerts"] for k, v in by_id.items() if v["open_alerts"]} == {
        "WC0001": 1, "WC0002": 1, "WC0004": 1}
    assert by_id["WC0002"]["device_off"] and by_id["WC0004"]["device_off"]
    assert not by_id["WC0001"]["device_off"] and not by_id["WC0005"]["silent"]
    # wc-cd-01 is not on the route of WC0001's tamper (wc-cd-02's): not counted for them
    mine = {p["person_id"]: p["open_alerts"] for p in roster(client, login("wc-cd-01"))["persons"]}
    assert mine["WC0001"] == 0 and mine["WC0002"] == 1
    # a resolved alert is no longer open
    aid = day["a_off"]["alert_id"]
    duty = login("wc-cd-duty")
    assert client.post(f"/v1/alerts/{aid}/resolve", headers=duty,
                       json={"disposition": "false_alarm", "note": "x"}).status_code == 200
    after = {p["person_id"]: p for p in roster(client, duty)["persons"]}
    assert after["WC0002"]["open_alerts"] == (1 if runtime.store.alerts.latest(aid)["condition"]
                                               == "active" else 0)
    reads = [a for a in runtime.audits() if a["what"] == "read_roster"]
    assert reads and reads[-1]["who"] == "wc-cd-duty" and reads[-1]["after"] == {"persons": 7}


def test_roster_shows_leave_and_says_when_live_state_is_unknown(client, login, day, clock,
                                                               runtime):
    at(clock, "18:00")
    start, end = parse_ts_ms(ts("08:00")), parse_ts_ms(ts("20:00"))
    runtime.bundle = dataclasses.replace(runtime.bundle, permits=[
        PermitSpec("QJ-1", "WC0006", start, end, None, "杭州"),
        PermitSpec("QJ-2", "WC0005", start, end, None, "杭州", revoked_at=start + 3600_000)])
    body = roster(client, login("wc-cd-duty"))
    by_id = {p["person_id"]: p for p in body["persons"]}
    assert by_id["WC0006"]["on_leave"] and parse_ts_ms(by_id["WC0006"]["leave_until"]) == end
    assert not by_id["WC0005"]["on_leave"]  # revoked at 09:00
    # the fake runtime, like Kafka mode, holds no per-person state: the roster says so
    assert body["live_state"] is False and by_id["WC0001"]["last_seen"] is None


def test_person_view_phone_address_and_every_zone_nearest_first(client, login, day, clock,
                                                               runtime):
    at(clock, "18:00")
    duty = login("wc-cd-duty")
    body = client.get("/v1/persons/WC0002", headers=duty).json()
    assert body["person"]["phone"] == "13805790002"
    assert body["person"]["address"].startswith("浙江省金华市婺城区")
    kinds = [(z["properties"]["zone_id"], z["properties"]["kind"]) for z in body["zones"]]
    # the county (listed), the bar street (through the group 禁止令-娱乐场所); not the net café
    assert kinds == [("cn-330702", "inclusion"), ("jzl-bar-street", "exclusion")]
    assert body["zones_total"] == 2
    # the person list never carries phone or address (not an audited read)
    listed = client.get("/v1/persons", headers=duty).json()
    assert all(p["phone"] is None and p["address"] is None for p in listed)


def test_bad_phone_in_the_bundle_stops_loading_with_file_line_and_field(tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(DEMO, bundle)
    lines = (bundle / "persons.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"13805790003"', '"call me"')
    (bundle / "persons.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(BundleError) as e:
        load_bundle(bundle)
    assert (e.value.file, e.value.where, e.value.field) == ("persons.jsonl", "line 3", "phone")


def test_track_playback_limit_says_when_it_cut(client, login, runtime, clock):
    at(clock, "18:00")
    for i in range(12):
        runtime.feed(fix("WC0011", f"17:{10 + i:02d}", 119.6 + i * 1e-4, 29.07))
    auth = login("wc-jn-02")
    q = f"since_ms={parse_ts_ms(ts('17:00'))}&until_ms={parse_ts_ms(ts('18:00'))}"
    r = client.get(f"/v1/persons/WC0011/track?{q}&limit=5", headers=auth).json()
    assert r["truncated"] is True and len(r["points"]) == 5
    assert r["points"][-1]["ts"] == parse_ts_ms(ts("17:21"))  # the latest
    whole = client.get(f"/v1/persons/WC0011/track?{q}&limit=12", headers=auth).json()
    assert whole["truncated"] is False and len(whole["points"]) == 12
    assert client.get(f"/v1/persons/WC0011/track?{q}&limit=5001", headers=auth).status_code == 422
    back = f"since_ms={parse_ts_ms(ts('18:00'))}&until_ms={parse_ts_ms(ts('17:00'))}"
    r = client.get(f"/v1/persons/WC0011/track?{back}", headers=auth)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "bad_range"


# -- the base map's settings --------------------------------------------------------------------

TIANDITU = ("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
            "&TILECOL={x}&tk=0123456789abcdef")


@pytest.mark.parametrize(("toml", "field", "why"), [
    ('url = "ftp://gis.example/{z}/{x}/{y}.png"', "map_tiles.url", "http(s)"),
    ('url = "https://gis.example/tiles/{z}/{x}.png"', "map_tiles.url", "{z}, {x} and {y}"),
    ('url = "https://gis.example/{z}/{x}/{y}.png?key={accessToken}"', "map_tiles.url",
     "unknown placeholder {accessToken}"),
    ('url = "https://gis.example/{z}/{x}/{y}.png?tk=${TDT_KEY}"', "map_tiles.url",
     "unknown placeholder ${TDT_KEY}"),
    ('url = "https://gis.example/{z}/{x}/{y}.png?tk=YOUR_KEY"', "map_tiles.url", "example text"),
    ('url = "https://t{s}.gis.example/{z}/{x}/{y}.png"', "map_tiles.url", "needs `subdomains`"),
    ('url = "https://gis.example/{z}/{x}/{y}.png"\ncrs = "bd09"', "map_tiles.crs", "wgs84"),
    ('url = "https://gis.example/{z}/{x}/{y}.png"\nmax_zoom = 30', "map_tiles.max_zoom", "22"),
    ('urll = "https://gis.example/{z}/{x}/{y}.png"', "map_tiles.urll", "unknown setting"),
])
def test_a_bad_tile_setting_stops_start_up_naming_file_and_field(tmp_path, toml, field, why):
    bundle = tmp_path / "b"
    shutil.copytree(DEMO, bundle)
    with (bundle / "settings.toml").open("a") as f:
        f.write(f"\n[map_tiles]\n{toml}\n")
    with pytest.raises(BundleError) as e:
        load_bundle(bundle)
    assert (e.value.file, e.value.field) == ("settings.toml", field)
    assert why in e.value.problem


def test_tianditu_template_and_its_origins_for_the_csp():
    tiles = MapTiles(url=TIANDITU, labels_url=TIANDITU.replace("vec", "cva"),
                     subdomains="01234567", attribution="天地图", max_zoom=18)
    assert tiles.origins() == [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
    csp = security_headers(tiles.origins())["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["img-src"] == "'self' data: " + " ".join(tiles.origins())
    # images only: scripts, styles and connections stay with Lookout
    for name in ("default-src", "script-src", "style-src", "connect-src"):
        assert "tianditu" not in directives[name]


def test_map_config_and_csp_follow_the_bundle(client, login, runtime):
    auth = login("wc-cd-duty")
    assert client.get("/v1/map").status_code == 401
    cfg = client.get("/v1/map", headers=auth).json()
    assert cfg["tiles"] is None  # the demo has no tile service
    assert cfg["leaflet"] == ("/assets/vendor/leaflet/" if leaflet_files() else None)
    assert "img-src 'self' data:;" in client.get("/").headers["content-security-policy"]
    settings = runtime.bundle.settings.model_copy(update={"map_tiles": MapTiles(
        url="http://127.0.0.1:9/{z}/{x}/{y}.png", attribution="本地", crs="gcj02")})
    runtime.bundle = dataclasses.replace(runtime.bundle, settings=settings)
    cfg = client.get("/v1/map", headers=auth).json()
    if leaflet_files():
        assert cfg["tiles"]["url"] == "http://127.0.0.1:9/{z}/{x}/{y}.png"
        assert cfg["tiles"]["crs"] == "gcj02"
    assert "img-src 'self' data: http://127.0.0.1:9;" in client.get("/").headers[
        "content-security-policy"]


def test_leaflet_is_served_from_lookout_when_npm_installed_it(client):
    if not leaflet_files():
        pytest.skip("node_modules/leaflet missing: run make install (npm ci)")
    r = client.get("/assets/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert client.get("/assets/vendor/leaflet/images/layers.png").headers[
        "content-type"] == "image/png"
    assert client.get("/assets/vendor/leaflet/package.json").status_code == 404
    assert client.get("/assets/vendor/leaflet/../../../pyproject.toml").status_code == 404
    assert leaflet_files(DEMO) == {}  # no Leaflet there: the page keeps its SVG map


def test_the_documented_tianditu_example_loads_once_its_key_is_filled_in(tmp_path):
    doc = (DEMO.parents[1] / "docs" / "map.md").read_text()
    start = doc.index("[map_tiles]")
    example = doc[start:doc.index("```", start)]
    bundle = tmp_path / "b"
    shutil.copytree(DEMO, bundle)
    settings = bundle / "settings.toml"
    base = settings.read_text()
    settings.write_text(f"{base}\n{example}")
    with pytest.raises(BundleError) as e:
        load_bundle(bundle)
    assert e.value.field == "map_tiles.url" and "<key>" in e.value.problem
    settings.write_text(f"{base}\n{example.replace('<key>', '0123456789abcdef')}")
    tiles = load_bundle(bundle).settings.map_tiles
    assert tiles.crs == "wgs84" and "cva_w" in tiles.labels_url and len(tiles.origins()) == 8


class StateRuntime:
    """The fake runtime plus a person state, as the live service holds it."""

    def __init__(self, runtime, states: dict):
        self._rt, self.states = runtime, states

    def __getattr__(self, name):
        return getattr(self._rt, name)

    def person_status(self, person_id: str) -> dict | None:
        return self.states.get(person_id, {"last_seen_ms": None, "last_fix": None,
                                           "silence_due_ms": None, "feed_down": False})


def test_roster_reads_the_live_state_silence_overdue_and_feed_down(runtime, clock):
    from fastapi.testclient import TestClient

    from alerts.feed.access import demo_password
    from alerts.feed.app import create_feed_app

    at(clock, "18:00")
    now = parse_ts_ms(ts("18:00"))
    fix_17 = {"ts": now - 3600_000, "lat": 29.08, "lon": 119.64, "accuracy_m": 10.0}
    states = {
        # heard from an hour ago, silence counted from 17:30: 失联 now, without any alert yet
        "WC0001": {"last_seen_ms": now - 3600_000, "last_fix": fix_17,
                   "silence_due_ms": now - 1800_000, "feed_down": False},
        # due a minute from now: not yet
        "WC0003": {"last_seen_ms": now - 1740_000, "last_fix": None,
                   "silence_due_ms": now + 60_000, "feed_down": False},
    }
    rt = StateRuntime(runtime, states)
    with TestClient(create_feed_app(rt, clock=clock)) as c:
        token = c.post("/v1/login", json={"officer_id": "wc-cd-duty",
                                          "password": demo_password("wc-cd-duty")}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        body = c.get("/v1/roster", headers=auth).json()
        by_id = {p["person_id"]: p for p in body["persons"]}
        assert body["live_state"] is True and body["feed_down"] is False
        assert by_id["WC0001"]["silent"] is True
        assert parse_ts_ms(by_id["WC0001"]["last_fix"]) == now - 3600_000
        assert by_id["WC0003"]["silent"] is False
        assert parse_ts_ms(by_id["WC0003"]["last_seen"]) == now - 1740_000
        # the whole feed down: silence is not the person's, nobody counts as 失联 for it
        for s in states.values():
            s["feed_down"] = True
        body = c.get("/v1/roster", headers=auth).json()
        assert body["feed_down"] is True
        assert not any(p["silent"] for p in body["persons"])
