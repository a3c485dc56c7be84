"""Dead letters: a rejected line with its reason, detail and receipt time."""

from __future__ import annotations

from datetime import timedelta

from stream.decode.records import _EPOCH, RAW_MAX_CHARS
from stream.events import (
    DeadLetter,
)


def rfc3339_utc(ms: int) -> str:
    """Epoch ms as RFC 3339 UTC with milliseconds and 'Z'."""
    t = _EPOCH + timedelta(milliseconds=ms)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def raw_text(line: bytes) -> str:
    """The original line for a dead letter: UTF-8 with replacement, at most 4096 characters."""
    # No character takes more than 4 bytes, so the first 4 x 4096 bytes are enough.
    return line[: 4 * RAW_MAX_CHARS].decode("utf-8", "replace")[:RAW_MAX_CHARS]


def _dead_letters(rejected: dict, lines: list[bytes], received_at_ms: int) -> list[DeadLetter]:
    if not rejected:
        return []
    at = rfc3339_utc(received_at_ms)
    return [
        DeadLetter(received_at=at, reason=reason, detail=detail, raw=raw_text(lines[i]))
        for i, (reason, detail) in sorted(rejected.items())
    ]
