"""Dead letters: a rejected line with its reason, detail and receipt time."""

from __future__ import annotations

from alerts.timefmt import utc_rfc3339
from stream.decode.records import RAW_MAX_CHARS
from stream.events import (
    DeadLetter,
)


def raw_text(line: bytes) -> str:
    """The original line for a dead letter: UTF-8 with replacement, at most 4096 characters."""
    # No character takes more than 4 bytes, so the first 4 x 4096 bytes are enough.
    return line[: 4 * RAW_MAX_CHARS].decode("utf-8", "replace")[:RAW_MAX_CHARS]


def _dead_letters(rejected: dict, lines: list[bytes], received_at_ms: int) -> list[DeadLetter]:
    if not rejected:
        return []
    at = utc_rfc3339(received_at_ms)
    return [
        DeadLetter(received_at=at, reason=reason, detail=detail, raw=raw_text(lines[i]))
        for i, (reason, detail) in sorted(rejected.items())
    ]
