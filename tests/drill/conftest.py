"""Fixtures for the drill tests (no __init__.py: pytest puts this folder on sys.path, so
`drillkit` imports as a plain module, like tests/service's `servicekit`)."""

from __future__ import annotations

import os

import pytest
from drillkit import Service, write_bundle

KAFKA = f"127.0.0.1:{int(os.environ.get('KAFKA_PORT', '9092'))}"


def pytest_configure(config):
    # kafka-python 3 reads its protocol schemas with importlib.resources' legacy calls
    config.addinivalue_line(
        "filterwarnings", r"ignore:(read|open)_text is deprecated:DeprecationWarning")


@pytest.fixture
def bundle(tmp_path):
    return write_bundle(tmp_path)


@pytest.fixture
def service(tmp_path, bundle):
    """The embedded service without wall-clock ticks: the real world's clock then moves only
    with real events, so any change to real state could only come from the drill."""
    svc = Service(bundle, tmp_path / "lookout.db", tick_ms=3_600_000).start()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def bootstrap() -> str:
    from stream.kafka.topics import broker_answers

    if not broker_answers(KAFKA, timeout_s=5.0):
        pytest.skip(f"no Kafka broker answers on {KAFKA}: start one with `make kafka-up`")
    return KAFKA
