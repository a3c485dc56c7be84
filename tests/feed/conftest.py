"""Fixtures: a fake runtime holding a day's worth of real alerts in two offices, and logins."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from alerts.feed.access import demo_password, set_password
from alerts.feed.app import create_feed_app

from .kit import ADMIN, FakeRuntime, fix, status

# Officers the tests log in as (scrypt is deliberately slow: seed once, copy per test).
USERS = ("wc-cd-01", "wc-cd-02", "wc-cd-duty", "wc-jn-01", "wc-jn-02", "wc-zh-01", "wc-zh-night",
         ADMIN.officer_id)
VICTIM_HOME = (119.612, 29.073)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("feed") / "template.sqlite"
    for officer_id in USERS:
        set_password(path, officer_id, demo_password(officer_id))
    return path


@pytest.fixture
def runtime(seeded_db, tmp_path):
    db = tmp_path / "lookout.sqlite"
    shutil.copy(seeded_db, db)
    return FakeRuntime(db)


def raise_day(rt: FakeRuntime) -> dict[str, dict]:
    """Monday afternoon in 婺城区: alerts for 城东 (A) and 江南 (B), one after the officers'
    shift (to the duty officer), one drill. Kept within 30 min so that nobody's silence timer
    fires. Returns the latest record by a short name."""
    rt.feed(status("WC0001", "17:10", "tamper"))                        # A, wc-cd-02
    rt.feed(status("WC0002", "17:11", "power_off"))                     # A, wc-cd-01
    lon, lat = VICTIM_HOME
    rt.feed(fix("WC0011", "17:12", lon + 0.004, lat), fix("WC0011", "17:13", lon + 0.002, lat),
            fix("WC0011", "17:14", lon + 0.0003, lat + 0.0002))         # B, zone_enter, wc-jn-02
    rt.feed(status("WC0008", "17:15", "tamper"))                        # B, wc-jn-01
    rt.feed(status("WC0003", "17:16", "tamper", drill=True))            # A, drill, wc-cd-02
    rt.feed(status("WC0004", "17:35", "power_off"))                     # A, off shift: duty
    names = {("WC0001", "tamper", False): "a_tamper", ("WC0002", "device_off", False): "a_off",
             ("WC0011", "zone_enter", False): "b_enter", ("WC0008", "tamper", False): "b_tamper",
             ("WC0003", "tamper", True): "a_drill", ("WC0004", "device_off", False): "a_duty"}
    out = {}
    for r in rt.store.alerts.list_alerts(limit=1000) + rt.store.alerts.list_alerts(drill=True, limit=1000):
        key = names.get((r["person_id"], r["type"], r["drill"]))
        if key:
            out[key] = r
    assert set(out) == set(names.values()), sorted(out)
    return out


@pytest.fixture
def day(runtime):
    return raise_day(runtime)


class Clock:
    def __init__(self):
        import time

        self.t = time.time()

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(runtime, clock):
    return create_feed_app(runtime, clock=clock, heartbeat_s=0.5)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def login(client):
    def _login(officer_id: str) -> dict:
        r = client.post("/v1/login", json={"officer_id": officer_id,
                                           "password": demo_password(officer_id)})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return _login
