"""Fixtures for the embedded service's tests (no __init__.py: pytest puts this folder and the
tests/ root on sys.path, so `servicekit` and `enginekit` import as plain modules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diskkit import tmpfs
from servicekit import write_bundle

from stream.live import LiveRuntime


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return write_bundle(tmp_path)


@pytest.fixture
def runtime(tmp_path: Path, bundle_dir: Path):
    rt = LiveRuntime(bundle_dir, tmp_path / "lookout.db", gateway_tokens=["gw-secret"],
                     batch_ms=5, tick_ms=50, snapshot_every_s=0.2).start()
    yield rt
    rt.stop()


@pytest.fixture
def small_disk(tmp_path: Path):
    """An 8 MiB tmpfs of the test's own (SQLite's WAL alone may grow to 4 MiB), to fill."""
    with tmpfs(tmp_path / "disk", "8m") as disk:
        yield disk
