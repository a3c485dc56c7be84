"""A progress bar on a terminal, silence elsewhere (CI logs, pipes)."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def progress_reporter(paths: list[str], label: str = "replay 回放"):
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        # the number of events is unknown up front (stdin, gzip): show a moving count
        task = bar.add_task("replay", total=None)
        yield lambda n: bar.update(task, completed=n)
