"""A live runtime over kit's bundle, its app, and logins (scrypt is slow: seeded once)."""

from __future__ import annotations

import shutil
import warnings

import pytest

from alerts.feed.access import set_password
from stream.live import LiveRuntime
from stream.service import create_app

from .kit import USERS, password, write_bundle

with warnings.catch_warnings():  # starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("admin") / "template.db"
    for user in USERS:
        set_password(path, user, password(user))
    return path


@pytest.fixture
def bundle_dir(tmp_path):
    return write_bundle(tmp_path)


@pytest.fixture
def db(seeded_db, tmp_path):
    path = tmp_path / "lookout.db"
    shutil.copy(seeded_db, path)
    return path


@pytest.fixture
def runtime(bundle_dir, db):
    rt = LiveRuntime(bundle_dir, db, gateway_tokens=["gw"], batch_ms=5, tick_ms=50,
                     snapshot_every_s=0.2, purge_every_s=None).start()
    yield rt
    rt.stop()


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as c:
        yield c


@pytest.fixture
def login(client):
    def _login(user: str) -> dict:
        r = client.post("/v1/login", json={"officer_id": user, "password": password(user)})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return _login
