"""GET /v1/summary on the real service: the reader's shift by default, the period form in the
page (a fresh ticket of its own, local times), bad times refused with 422, never a 500."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.feed.access import set_password
from alerts.summary.period import reader_period
from config.loader import load_bundle
from stream.live import LiveRuntime
from stream.service import create_app

from .fixture import login, write_bundle

pytest.importorskip("httpx")
from fastapi.testclient import TestClient

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
TZ = ZoneInfo("Asia/Shanghai")


REF = datetime.now(TZ)  # the shifts are set around this instant, once, so no minute rolls over


def hhmm(hours_from_ref: float) -> str:
    return (REF + timedelta(hours=hours_from_ref)).strftime("%H:%M")


@pytest.fixture
def served(tmp_path, request):
    """`sup` works every day from `start` to `end` hours from REF (indirect parameter;
    default: on shift now, from 2 h before to 2 h after)."""
    start, end = getattr(request, "param", (-2, 2))
    folder = tmp_path / "bundle"
    write_bundle(folder)
    officers = json.loads((folder / "officers.json").read_text(encoding="utf-8"))
    officers["shifts"] = [{"officer_id": "sup", "days": EVERY_DAY, "start": hhmm(start),
                           "end": hhmm(end)}]
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
    assert reader_period(bundle, "sup", before).basis == "shift"
    assert s["start"][11:16] == hhmm(-2) and s["end"][11:16] == hhmm(2)
    assert 4 * 3_600_000 - 120_000 <= s["end_ms"] - s["start_ms"] <= 4 * 3_600_000
    after = int(time.time() * 1000)
    # the admin has no shifts: the last 12 hours up to now
    a = client.get("/v1/summary", params={"format": "json"}, headers=login(client, "ops")).json()
    assert a["end_ms"] - a["start_ms"] == 12 * 3_600_000 and before <= a["end_ms"] <= after + 1000


def test_the_header_link_leaves_the_period_to_the_summary(served):
    client, _ = served
    url = client.post("/v1/summary/link", headers=login(client, "sup")).json()["url"]
    assert "from=" not in url and "to=" not in url
    page = client.get(url).text
    assert "默认：您当前的班次 / Default: your current shift" in page


@pytest.mark.parametrize("served", [(-6, -1)], indirect=True)
def test_off_shift_the_period_runs_from_the_last_shift_until_now(served):
    """What was opened after the shift ended is still on the "still open" lists."""
    client, _ = served
    before = int(time.time() * 1000)
    sup = login(client, "sup")
    s = client.get("/v1/summary", params={"format": "json"}, headers=sup).json()
    assert s["start"][11:16] == hhmm(-6)
    assert before <= s["end_ms"] <= int(time.time() * 1000) and s["as_of_ms"] == s["end_ms"]
    page = client.get("/v1/summary", headers=sup).text
    assert "默认：您上一班次开始至今 / Default: from the start of your last shift until now" in page


def test_the_period_form_asks_again_with_its_own_ticket(served):
    client, _ = served
    url = client.post("/v1/summary/link", headers=login(client, "sup")).json()["url"]
    page = client.get(url)
    assert "form-action 'self'" in page.headers["content-security-policy"]
    form = re.search(r'<form class="picker no-print" method="get" action="/v1/summary">(.*?)</form>',
                     page.text).group(1)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    assert set(fields) >= {"ticket", "lang", "from", "to"}
    assert fields["from"][11:] == hhmm(-2) and fields["to"][11:] == hhmm(2)
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
