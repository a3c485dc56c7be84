"""Fixtures for the tests against a real broker (`make kafka-up`; CI starts one).

Tests that take `bootstrap` are skipped, with the reason, when no broker answers on
127.0.0.1:$KAFKA_PORT. Every test gets its own topic prefix, so tests never see each other's
messages, consumer groups or state.
"""

from __future__ import annotations

import os
import uuid

import pytest

from stream.kafka.topics import broker_answers

PORT = int(os.environ.get("KAFKA_PORT", "9092"))
BOOTSTRAP = f"127.0.0.1:{PORT}"


def pytest_configure(config):
    # kafka-python 3 reads its protocol schemas with importlib.resources' legacy calls
    config.addinivalue_line(
        "filterwarnings", r"ignore:(read|open)_text is deprecated:DeprecationWarning")


@pytest.fixture(scope="session")
def bootstrap() -> str:
    if not broker_answers(BOOTSTRAP, timeout_s=5.0):
        pytest.skip(f"no Kafka broker answers on {BOOTSTRAP}: start one with `make kafka-up` "
                    "(KAFKA_PORT picks the port)")
    return BOOTSTRAP


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def workers(tmp_path, bootstrap):
    """Starts `lookout worker` processes; every one still running is killed at the end."""
    from kafkakit import WorkerPool

    pool = WorkerPool(bootstrap, tmp_path)
    yield pool
    pool.stop_all()
