"""Fixtures for kit's bundle and a store its users can log in to, shared by every test that
runs an officers' service over it (the embedded one in tests/admin, the Kafka one in
tests/kafka). tests/conftest.py registers them as a plugin."""

from __future__ import annotations

import shutil

import pytest

from alerts.feed.access import set_password

from .kit import USERS, password, write_bundle


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory):
    """A store with every kit user's password (scrypt is slow: seeded once, copied per test)."""
    path = tmp_path_factory.mktemp("seeded") / "template.db"
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
