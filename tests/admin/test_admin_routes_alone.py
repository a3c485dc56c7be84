"""The admin handler modules stand alone: a minimal app with the session and permits modules
and a Feed bound serves permits by role and nothing else; a service that cannot change its
bundle (Kafka mode: NotInThisMode) answers 409 in both languages, with nothing written."""

from __future__ import annotations

import warnings

from fastapi import Depends, FastAPI

from alerts.admin.routes import permits, upkeep
from alerts.feed.routes import session
from alerts.feed.routes.deps import Feed
from alerts.service import NotInThisMode
from alerts.timefmt import rfc3339

from .kit import login_headers, now_ms

with warnings.catch_warnings():  # starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient

REFUSAL = ("部署包由处理进程使用，不能在此修改 / the bundle belongs to the workers and cannot "
           "be changed here")


def app_of(service, *modules) -> FastAPI:
    feed = Feed(service)
    app = FastAPI()
    for module in (session, *modules):
        app.include_router(module.router, dependencies=[Depends(feed.bind)])
    return app


def test_the_permits_module_alone_answers_by_role(runtime):
    with TestClient(app_of(runtime, permits)) as c:
        r = c.get("/v1/admin/permits", headers=login_headers(c, "sup2"))  # office-2's lead
        assert r.status_code == 200 and [p["person_id"] for p in r.json()["permits"]] == ["P3"]
        assert c.get("/v1/admin/permits", headers=login_headers(c, "sup1")).json() == {
            "permits": []}
        r = c.get("/v1/admin/permits", headers=login_headers(c, "w1"))
        assert r.status_code == 403 and r.json()["detail"]["code"] == "forbidden"
        assert c.get("/v1/admin/zones", headers=login_headers(c, "adm")).status_code == 404


class BundleOwnedElsewhere:
    """The live runtime, except that its bundle belongs to someone else, as in Kafka mode."""

    def __init__(self, runtime):
        self._rt = runtime

    def __getattr__(self, name):
        return getattr(self._rt, name)

    def change_bundle(self, texts, *, audit=None, timeout=0.0):
        raise NotInThisMode(REFUSAL)


def test_a_service_that_cannot_change_its_bundle_answers_409(runtime, bundle_dir):
    before = (bundle_dir / "permits.jsonl").read_text(encoding="utf-8")
    with TestClient(app_of(BundleOwnedElsewhere(runtime), permits, upkeep)) as c:
        adm = login_headers(c, "adm")
        t = now_ms()
        for r in (c.post("/v1/admin/reload", headers=adm),
                  c.post("/v1/admin/permits", headers=adm, json={
                      "person_id": "P1", "start": rfc3339(t), "end": rfc3339(t + 3_600_000),
                      "destination": "杭州"})):
            assert r.status_code == 409, r.text
            detail = r.json()["detail"]
            assert detail["code"] == "kafka_mode"
            assert "处理进程" in detail["zh"] and "workers" in detail["en"]
        assert c.get("/v1/admin/audit", headers=adm).status_code == 200  # reading still works
    assert (bundle_dir / "permits.jsonl").read_text(encoding="utf-8") == before
