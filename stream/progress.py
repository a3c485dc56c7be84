"""A progress bar on a terminal, silence elsewhere (CI logs, pipes)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def progress_reporter(paths: list[str]):
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total_bytes = sum(os.path.getsize(p) for p in paths if p != "-" and os.path.isfile(p))
    with Progress(
        TextColumn("replay 回放"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        # bytes are unknown for stdin or gz; the count of events still moves
        task = bar.add_task("replay", total=None if not total_bytes else None)
        yield lambda n: bar.update(task, completed=n)
