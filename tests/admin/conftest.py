"""A live runtime over kit's bundle, its app, and logins (scrypt is slow: seeded once)."""

from __future__ import annotations

import warnings

import pytest

from stream.live import LiveRuntime
from stream.service import create_app

from .kit import login_headers

with warnings.catch_warnings():  # starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient


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
    return lambda user: login_headers(client, user)
