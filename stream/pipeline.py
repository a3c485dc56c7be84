"""Decoding on the second core while the engine works on the first.

Decoding JSON and running the engine each cost about as much as the other; on a 2-core
machine running them in two processes nearly halves a replay. The decoder process reads and
decodes chunks ahead (a few at most, so memory stays bounded) and hands over numpy columns,
which pickle cheaply. Order is kept: chunks arrive exactly as read.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Iterator

from alerts.timefmt import wall_ms
from stream.decode import Decoder
from stream.events import DeadLetter, EventBatch
from stream.source import read_chunks

_AHEAD = 4  # chunks decoded ahead of the engine
_DONE = "done"


def _decode_worker(decoder: Decoder, paths, chunk_lines, drill, queue) -> None:
    seq = 0
    try:
        for lines in read_chunks(paths, chunk_lines=chunk_lines):
            now_ms = wall_ms()
            batch, rejects = decoder.decode(lines, received_at_ms=now_ms, first_seq=seq, drill=drill)
            blank = sum(1 for ln in lines if not ln.strip())
            seq += len(lines)
            queue.put((batch, rejects, len(lines) - blank))
        queue.put(_DONE)
    except BaseException as exc:  # the parent re-raises it: nothing is lost silently
        queue.put(("error", repr(exc)))


def decoded_chunks(
    decoder: Decoder, paths: list[str], chunk_lines: int, drill: bool, parallel: bool = True
) -> Iterator[tuple[EventBatch, list[DeadLetter], int]]:
    """(valid events, rejects, non-blank lines read) per chunk, in input order."""
    if not parallel or "fork" not in mp.get_all_start_methods():
        yield from _serial(decoder, paths, chunk_lines, drill)
        return
    ctx = mp.get_context("fork")  # the child inherits the decoder as it is
    stdin_fd = None
    if "-" in paths:
        # multiprocessing closes a child's stdin; hand it a duplicate of the descriptor
        stdin_fd = os.dup(sys.stdin.fileno())
        paths = [f"/dev/fd/{stdin_fd}" if p == "-" else p for p in paths]
    queue = ctx.Queue(maxsize=_AHEAD)
    proc = ctx.Process(target=_decode_worker, args=(decoder, paths, chunk_lines, drill, queue),
                       daemon=True)
    proc.start()
    if stdin_fd is not None:
        os.close(stdin_fd)
    try:
        while True:
            item = queue.get()
            if item == _DONE:
                break
            if isinstance(item, tuple) and len(item) == 2 and item[0] == "error":
                raise RuntimeError(f"decoder process failed: {item[1]}")
            yield item
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()


def _serial(decoder, paths, chunk_lines, drill):
    seq = 0
    for lines in read_chunks(paths, chunk_lines=chunk_lines):
        now_ms = wall_ms()
        batch, rejects = decoder.decode(lines, received_at_ms=now_ms, first_seq=seq, drill=drill)
        seq += len(lines)
        yield batch, rejects, len(lines) - sum(1 for ln in lines if not ln.strip())
