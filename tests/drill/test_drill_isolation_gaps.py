"""Drill isolation in the embedded service: a drill never ends a real outage alert."""

from __future__ import annotations

import time

import orjson
from drillkit import Service, fix, now_ms, wait_for


def test_a_drill_during_a_real_outage_leaves_feed_down_open(tmp_path, bundle):
    (bundle / "settings.toml").write_text("feed_silence_s = 1\n", encoding="utf-8")
    svc = Service(bundle, tmp_path / "lookout.db", tick_ms=100).start()
    try:
        svc.post([fix("P1", now_ms() - 1000)])
        wait_for(lambda: any(a["type"] == "feed_down" for a in svc.runtime.store.alerts.list_alerts()))
        drill_fix = orjson.loads(fix("P2", now_ms()))
        svc.post([orjson.dumps({**drill_fix, "drill": True})])
        time.sleep(0.5)
        down = [a for a in svc.runtime.store.alerts.list_alerts() if a["type"] == "feed_down"]
        assert [a["condition"] for a in down] == ["active"]
    finally:
        svc.stop()
