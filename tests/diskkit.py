"""A disk that fills up, for the tests of store write failures: a small tmpfs mounted for the
test (skipped with the reason where mounting is not allowed) and a file that takes every
free byte of it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(where: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of `size` at `where` (made if missing), unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """A file that takes all the space left on `disk`; unlink it to free the space again."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:  # unbuffered: close() has nothing to flush
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
        os.fsync(fh.fileno())
    assert filler.stat().st_size > 0
    return filler
