"""The dead-letter output: one JSON line per rejected record, counted by reason (SPEC §1)."""

from __future__ import annotations

import json
import os
from collections import Counter

import orjson

from alerts.timefmt import utc_rfc3339 as rfc3339_utc
from stream.decode import raw_text
from stream.events import DeadLetter


def rejected(now_ms: int, reason: str, detail: str, raw: bytes | None) -> DeadLetter:
    """A dead letter for `raw`, refused now (epoch ms) outside the decoder."""
    return DeadLetter(received_at=rfc3339_utc(now_ms), reason=reason, detail=detail,
                      raw=raw_text(raw or b""))


class DeadLetterCap:
    """Keeps the first `limit` dead letters of one request and counts the rest by reason, for
    one summary letter (`too_many_rejects`) in their place."""

    REASON = "too_many_rejects"

    def __init__(self, limit: int):
        self.left = limit
        self.dropped: Counter[str] = Counter()

    def keep(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        kept = letters[: max(self.left, 0)]
        self.left -= len(kept)
        self.dropped.update(d.reason for d in letters[len(kept):])
        return kept

    def summary(self, now_ms: int) -> DeadLetter | None:
        if not self.dropped:
            return None
        counts = ", ".join(f"{reason}: {n}" for reason, n in self.dropped.most_common())
        return rejected(now_ms, self.REASON,
                        f"{self.dropped.total()} more rejected records of this request were "
                        f"counted, not kept 另有被拒记录仅计数未保存 ({counts})", None)


def letter_json(letter: DeadLetter) -> bytes:
    """One dead letter as JSON (a file line, a Kafka message)."""
    try:
        return orjson.dumps(letter.to_dict())
    except orjson.JSONEncodeError:  # a lone surrogate somewhere: escape rather than fail
        return json.dumps(letter.to_dict()).encode()


class DeadLetterWriter:
    """Writes dead letters as JSONL to `path`, or only counts them when `path` is None.

    The file is truncated on open unless `append` is set (a live service restarting should
    keep what it wrote before). Each `write` is flushed, so the file can be tailed.
    """

    def __init__(self, path: str | os.PathLike | None, append: bool = False):
        self.path = path
        self.counts: Counter[str] = Counter()
        self._file = None if path is None else open(path, "ab" if append else "wb")

    def write(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        self.counts.update(d.reason for d in letters)
        if self._file is not None:
            self._file.write(b"".join(letter_json(d) + b"\n" for d in letters))
            self._file.flush()

    @property
    def total(self) -> int:
        return self.counts.total()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> DeadLetterWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
