"""Fixtures for the embedded service's tests (no __init__.py: pytest puts this folder and the
tests/ root on sys.path, so `servicekit` and `enginekit` import as plain modules)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)
