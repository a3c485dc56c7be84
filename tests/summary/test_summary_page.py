"""GET /v1/summary on the real service: the reader's shift by default, the period form in the
page (a fresh ticket of its own, local times), bad times refused with 422, never a 500."""

from __future__ import annotations

import html
import json
import re
import time

import pytest

from alerts.feed.access import set_password
from alerts.summary.period import reader_period
from config.loader import load_bundle
from stream.live import LiveRuntime
from stream.service import create_app

from .fixture import login, write_bundle

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "bundle"
    write_bundle(folder)
    officers = json.loads((folder / "officers.json").read_text(encoding="utf-8"))
    officers["shifts"] = [{"officer_id": "sup", "days": EVERY_DAY, "start": "21:00",
                           "end": "09:00"}]
    (folder / "officers.json").write_text(json.dumps(officers, ensure_ascii=False),
                                          encoding="utf-8")
    db = tmp_path / "lookout.db"
    for user in ("sup", "ops"):
        set_password(db, user, f"password-{user}")
    rt = LiveRuntime(folder, db, purge_every_s=None).start()
    with TestClient(create_app(rt)) as client:
        yield client, load_bundle(folder)
    rt.stop()


def test_the_default_period_is_the_readers_shift(served):
    client, bundle = served
    before = int(time.time() * 1000)
    s = client.get("/v1/summary", params={"format": "json"}, headers=login(client, "sup")).json()
    after = int(time.time() * 1000)
    expected = {(p.start_ms, p.end_ms) for p in (reader_period(bundle, "sup", t)
                                                 for t in (before, after))}
    assert (s["start_ms"], s["end_ms"]) in expected
    assert s["end_ms"] - s["start_ms"] == 12 * 3_600_000 and s["start"][11:16] == "21:00"
    # the admin has no shifts: the last 12 hours up to now
    a = client.get("/v1/summary", params={"format": "json"}, headers=login(client, "ops")).json()
    assert a["end_ms"] - a["start_ms"] == 12 * 3_600_000 and before <= a["end_ms"] <= after + 1000


def test_the_header_link_leaves_the_period_to_the_summary(served):
    client, _ = served
    url = client.post("/v1/summary/link", headers=login(client, "sup")).json()["url"]
    assert "from=" not in url and "to=" not in url
    page = client.get(url).text
    assert "默认：您当前（或刚结束）的班次" in page


def test_the_period_form_asks_again_with_its_own_ticket(served):
    client, _ = served
    url = client.post("/v1/summary/link", headers=login(client, "sup")).json()["url"]
    page = client.get(url)
    assert "form-action 'self'" in page.headers["content-security-policy"]
    form = re.search(r'<form class="picker no-print" method="get" action="/v1/summary">(.*?)</form>',
                     page.text).group(1)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    assert set(fields) >= {"ticket", "lang", "from", "to"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT21:00", fields["from"])
    # what the browser sends when the officer picks 08:00 to 20:00 of a day
    chosen = {**{k: html.unescape(v) for k, v in fields.items()}, "from": "2026-11-16T08:00",
              "to": "2026-11-16T20:00", "format": "json"}
    s = client.get("/v1/summary", params=chosen).json()
    assert (s["start"], s["end"]) == ("2026-11-16T08:00:00.000+08:00",
                                      "2026-11-16T20:00:00.000+08:00")
    assert client.get("/v1/summary", params=chosen).status_code == 401  # one use


@pytest.mark.parametrize("bad", ["yesterday", "99999999999999999999999999", "2026-02-30T08:00"])
def test_a_time_that_is_not_one_is_refused_not_a_500(served, bad):
    client, _ = served
    sup = login(client, "sup")
    for params in ({"from": bad, "to": "1794816000000"}, {"to": bad}):
        r = client.get("/v1/summary", params={**params, "format": "json"}, headers=sup)
        assert r.status_code == 422 and r.json()["detail"]["code"] == "bad_period", r.text
    assert client.post("/v1/summary/link", params={"from": bad}, headers=sup).status_code == 422
