"""Reading JSONL event files (plain or .gz, `-` for stdin) as chunks of raw lines."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

_READ_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


@contextmanager
def _open(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
    elif path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            yield f
    else:
        with open(path, "rb") as f:
            yield f


def _lines(f: BinaryIO) -> Iterator[list[bytes]]:
    """Lists of complete lines, without their line ends, read a block at a time."""
    # read1 returns what is there instead of waiting for a full block, so a pipe's lines
    # come out as they arrive.
    read = getattr(f, "read1", f.read)
    tail = b""
    at_start = True  # Windows tools like to start UTF-8 files with a byte order mark
    while block := read(_READ_BYTES):
        data = tail + block
        parts = data.split(b"\n")
        tail = parts.pop()
        if at_start and parts:
            parts[0], at_start = parts[0].removeprefix(_BOM), False
        yield _without_cr(parts) if b"\r" in data else parts
    if tail:
        yield _without_cr([tail.removeprefix(_BOM) if at_start else tail])


def _without_cr(lines: list[bytes]) -> list[bytes]:
    # Raw CR cannot occur inside JSON text, so a trailing one is part of a CRLF line end.
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def read_chunks(paths: list[str], chunk_lines: int = 50_000) -> Iterator[list[bytes]]:
    """Raw lines of the files in order, `chunk_lines` at a time (the last chunk may be short).

    Files are streamed, never read whole. Line ends (LF or CRLF) are removed; a chunk may
    hold the end of one file and the start of the next. Blank lines are passed on (the
    decoder skips them).
    """
    if chunk_lines < 1:
        raise ValueError("chunk_lines must be at least 1")
    chunk: list[bytes] = []
    for path in paths:
        with _open(path) as f:
            for lines in _lines(f):
                chunk += lines
                while len(chunk) >= chunk_lines:
                    yield chunk[:chunk_lines]
                    chunk = chunk[chunk_lines:]
    if chunk:
        yield chunk
