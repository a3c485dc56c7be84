"""Each handler module is an APIRouter of its own: a minimal app with one or two of them and a
Feed bound serves exactly those routes, over the fake runtime's real alerts and logins."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from alerts.feed.access import demo_password
from alerts.feed.routes import actions, alerts, session
from alerts.feed.routes.deps import Feed


def app_of(feed: Feed, *modules) -> FastAPI:
    app = FastAPI()
    for module in modules:
        app.include_router(module.router, dependencies=[Depends(feed.bind)])
    return app


def login(client: TestClient, officer_id: str) -> dict:
    r = client.post("/v1/login", json={"officer_id": officer_id,
                                       "password": demo_password(officer_id)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_the_session_module_alone_logs_in_and_serves_nothing_else(runtime, clock):
    feed = Feed(runtime, clock=clock)
    with TestClient(app_of(feed, session)) as c:
        auth = login(c, "wc-cd-01")
        me = c.get("/v1/me", headers=auth).json()
        assert me["officer"]["name"] == "叶晓琳" and me["offices"] == ["wucheng-chengdong"]
        assert c.get("/v1/alerts", headers=auth).status_code == 404  # not included
        clock.t += 12 * 3600  # the Feed's clock: the session has run out
        assert c.get("/v1/me", headers=auth).status_code == 401
    assert [a["what"] for a in runtime.audits()] == ["login"]


def test_the_action_module_acts_through_the_engine_with_the_list_module(runtime, clock, day):
    feed = Feed(runtime, clock=clock)
    with TestClient(app_of(feed, session, alerts, actions)) as c:
        auth = login(c, "wc-cd-02")
        alert_id = day["a_tamper"]["alert_id"]
        r = c.post(f"/v1/alerts/{alert_id}/resolve", headers=auth,
                   json={"disposition": "false_alarm"})
        assert r.status_code == 422 and r.json()["detail"]["code"] == "note_required"
        r = c.post(f"/v1/alerts/{alert_id}/acknowledge", headers=auth)
        assert r.status_code == 200 and r.json()["alert"]["handling"] == "acknowledged"
        # office B's alert answers as if it did not exist
        other = day["b_tamper"]["alert_id"]
        assert c.post(f"/v1/alerts/{other}/acknowledge", headers=auth).status_code == 404
        listed = c.get("/v1/alerts", headers=auth, params={"handling": "acknowledged"}).json()
        assert [a["alert_id"] for a in listed["alerts"]] == [alert_id]
    assert runtime.store.alerts.latest(alert_id)["handling"] == "acknowledged"


def test_a_route_included_without_its_feed_says_how_to_include_it():
    app = FastAPI()
    app.include_router(session.router)
    with TestClient(app) as c, pytest.raises(RuntimeError, match="Depends\\(feed.bind\\)"):
        c.get("/v1/me")


def test_a_test_app_may_hand_the_feed_in_by_dependency_override(runtime, clock):
    """The other way to give a module its Feed: override `current_feed`."""
    from alerts.feed.routes import persons
    from alerts.feed.routes.deps import current_feed

    from .kit import fix

    runtime.feed(fix("WC0002", "17:00", 119.64, 29.08), fix("WC0002", "17:01", 119.641, 29.08))
    feed = Feed(runtime, clock=clock)
    app = FastAPI()
    app.include_router(session.router)
    app.include_router(persons.router)
    app.dependency_overrides[current_feed] = lambda: feed
    with TestClient(app) as c:
        auth = login(c, "wc-cd-01")
        span = {"since_ms": 0, "until_ms": 4_000_000_000_000}
        r = c.get("/v1/persons/WC0002/track", headers=auth, params={**span, "limit": 1})
        assert r.status_code == 200 and r.json()["truncated"] is True
        assert [p["lon"] for p in r.json()["points"]] == [119.641]  # the latest
        assert c.get("/v1/persons/WC0011/track", headers=auth,  # 江南's: not theirs
                     params=span).status_code == 404
        r = c.get("/v1/persons/WC0002/track", headers=auth,
                  params={"since_ms": 2, "until_ms": 1})
        assert r.status_code == 422 and r.json()["detail"]["code"] == "bad_range"
    reads = [a for a in runtime.audits() if a["what"] == "read_track"]
    assert [(a["target"], a["after"]["points"]) for a in reads] == [("WC0002", 1)]
