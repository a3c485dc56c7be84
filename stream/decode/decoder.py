"""Raw JSONL lines -> an EventBatch of valid events plus dead letters (SPEC §1).

Two paths that must give the same answers:

* the fast path (`Decoder.decode`) decodes a whole chunk as one JSON array of typed msgspec
  structs and validates it with numpy masks. This is the engine's hottest loop.
* the reference path (`check_record`, `Decoder.decode_slow`) checks one line at a time in plain
  Python. It is the rulebook: the fast path hands it every line it cannot decode and every row
  it rejects, so each rejection's reason and detail come from one place.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from itertools import compress
from typing import Literal

import msgspec
import numpy as np

from config.idtable import IdTable
from config.persons import PersonRows
from config.settings import Settings
from stream.decode.columns import _as_verdict, _Rows, _to_wgs84
from stream.decode.deadletters import _dead_letters
from stream.decode.records import (
    _CRS_CODE,
    _DECODE_ERRORS,
    _EVENT_CODE,
    _NAN,
    _RECORD_TYPES,
    PERSON_ID_MAX,
    _Fix,
    _Record,
    _Status,
    _Tick,
)
from stream.decode.rules import _unknown_detail, check_record
from stream.events import (
    FIX,
    FUTURE_TS,
    TICK,
    UNKNOWN_PERSON,
    DeadLetter,
    EventBatch,
)

_BLOCK_LINES = 1024
# Past this depth of failed sub-blocks, stop trusting error positions and just halve, which
# bounds the recursion whatever the input.
_MAX_HINT_DEPTH = 16
_ELEMENT_AT = re.compile(r"at `\$\[(\d+)\]")
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
# Below this many lines a failing block is decoded line by line instead of halved again.
_LEAF_LINES = 8


class _BlankLine(Exception):
    """A blank line in a chunk that was being read as if it had none."""


class Decoder:
    """Decodes chunks of JSONL lines for one person table and one set of settings."""

    def __init__(self, person_index: Mapping[str, int], settings: Settings):
        self._default_accuracy = float(settings.default_accuracy_m)
        self._max_future_ms = round(settings.max_future_s * 1000)
        self._convert = settings.datum_conversion
        # Lines are joined into one array with a secret integer between them. If every second
        # element is that integer, each line was exactly one element: a line cannot swallow
        # its neighbour (e.g. '{"a":[' ... ']}' across two lines) without swallowing a mark,
        # and it cannot fake a mark it does not know.
        self._mark = secrets.randbits(62) | (1 << 61)
        self._sep = b",\n%d,\n" % self._mark
        self._chunk = msgspec.json.Decoder(list[_Record | Literal[self._mark]])  # type: ignore[name-defined]
        self._line = msgspec.json.Decoder(_Record)
        self._index = _id_table(person_index)

    # --- fast path ----------------------------------------------------------------------------

    def decode(
        self, lines: list[bytes], received_at_ms: int, first_seq: int = 0, drill: bool = False
    ) -> tuple[EventBatch, list[DeadLetter]]:
        """Valid events in input order, and the rejected records as dead letters.

        Blank lines are skipped and take no seq; every other line takes the next seq.
        `drill` marks every record as a drill (`lookout replay --drill`): a drill keeps its
        own clock, so such records are also exempt from future_ts.
        """
        try:
            rows, rejected = self._read(lines)
        except _BlankLine:
            # Rare, so not worth a pass over every chunk up front: drop them and start again.
            lines = [ln for ln in lines if ln.strip()]
            rows, rejected = self._read(lines)
        if drill:
            rows.drill[:] = True
        ts, invalid = rows.finish(self._default_accuracy)
        unknown = rows.record & ~invalid & (rows.person < 0) & (rows.kind != TICK)
        future = (ts > received_at_ms + self._max_future_ms) & ~rows.drill
        future &= rows.record & ~invalid & ~unknown
        for i in np.flatnonzero(invalid | unknown | future).tolist():
            if future[i]:
                rejected[i] = (FUTURE_TS, self._future_detail(int(ts[i]), received_at_ms))
            else:  # the reference rules name the broken field, or the id is not registered
                verdict = check_record(lines[i])
                if unknown[i] and isinstance(verdict, _Fix | _Status):  # ticks have no person
                    verdict = (UNKNOWN_PERSON, _unknown_detail(verdict.person_id))
                rejected[i] = _as_verdict(verdict, lines[i])

        ok = rows.record & ~(invalid | unknown | future)
        batch = self._batch(rows, ts, ok, first_seq)
        return batch, _dead_letters(rejected, lines, received_at_ms)

    def _read(self, lines: list[bytes]) -> tuple[_Rows, dict[int, tuple[str, str]]]:
        """The lines as rows, and a (reason, detail) for each line that is not a record."""
        rows = _Rows(len(lines), self._index)
        rejected: dict[int, tuple[str, str]] = {}
        # Blocks small enough for the joined buffer to stay in cache decode ~30% faster
        # than one big buffer per chunk, and their structs are read back while still there.
        for start in range(0, len(lines), _BLOCK_LINES):
            self._read_block(lines[start : start + _BLOCK_LINES], start, rows, rejected)
        return rows, rejected

    def _read_block(self, block: list[bytes], start: int, rows: _Rows, rejected: dict) -> None:
        # A function of its own so that the block's structs are freed on return, before the
        # next block is decoded into the memory they leave, which is still in cache.
        attempt = self._attempt(block, 0)
        if attempt[0] is not None:  # the usual case: every line is a record
            rows.fill(attempt[0], slice(start, start + len(block)))
            return
        items = self._block(block, 0, attempt)
        is_record = [type(item) in _RECORD_TYPES for item in items]
        if any(is_record):
            rows.fill(list(compress(items, is_record)), start + np.flatnonzero(is_record))
        for j, item in enumerate(items):
            if not is_record[j]:
                rejected[start + j] = _as_verdict(item, block[j])

    def _attempt(self, lines: list[bytes], depth: int) -> tuple[list | None, int | None]:
        """(records, None) if `lines` decode as one array, else (None, the line to blame)."""
        n = len(lines)
        # The brackets go onto the end lines: around the joined buffer they would copy it twice.
        parts = lines.copy()
        parts[0] = b"[" + parts[0]
        parts[-1] += b"]"
        buf = self._sep.join(parts)
        try:
            # msgspec skips unknown fields without reading their bytes; SPEC wants UTF-8.
            if not buf.isascii():
                buf.decode("utf-8")
            out = self._chunk.decode(buf)
        except _DECODE_ERRORS as e:
            return None, self._culprit(e, buf, n) if depth < _MAX_HINT_DEPTH else None
        if len(out) == 2 * n - 1 and out[1::2].count(self._mark) == n - 1:
            return out[0::2], None
        return None, None

    def _block(self, lines: list[bytes], depth: int = 0, attempt: tuple | None = None) -> list:
        """One item per line (a record or a rejection), splitting around the lines msgspec
        blames; `attempt` is the outcome of decoding `lines` whole, if already tried."""
        items: list = []
        while lines:
            recs, culprit = attempt or self._attempt(lines, depth)
            attempt = None
            if recs is not None:
                return items + recs
            if len(lines) <= _LEAF_LINES:
                return items + [self._one(ln) for ln in lines]
            if culprit is None:  # no usable hint: halve
                mid = len(lines) // 2
                items += self._block(lines[:mid], depth + 1)
                lines = lines[mid:]
                continue
            # Everything before the culprit parsed, so it normally decodes in one go; the
            # culprit gets the per-line treatment, and the rest goes round again.
            items += self._block(lines[:culprit], depth + 1)
            items.append(self._one(lines[culprit]))
            lines = lines[culprit + 1 :]
        return items

    def _culprit(self, error: Exception, buf: bytes, n: int) -> int | None:
        """The line an error message points at (a hint only: every result is re-checked)."""
        if isinstance(error, UnicodeDecodeError):
            offset = error.start
        elif m := _ELEMENT_AT.search(str(error)):
            return min(int(m[1]) // 2, n - 1)
        elif m := _BYTE_AT.search(str(error)):
            offset = int(m[1])
        else:
            return None
        # Separators sit exactly between lines, so counting them finds the line.
        return min(buf.count(self._sep, 0, offset), n - 1)

    def _one(self, line: bytes):
        # A blank line always fails its block (it leaves an empty array element), so this is
        # where one is found.
        if not line.strip():
            raise _BlankLine
        try:
            if not line.isascii():
                line.decode("utf-8")
            return self._line.decode(line)
        except _DECODE_ERRORS:
            # A wrong type, a missing field, null for an optional field, bad JSON: the
            # reference path knows which, and may still accept the record.
            return check_record(line)

    def _future_detail(self, ts_ms: int, received_at_ms: int) -> str:
        return (
            f"ts: {(ts_ms - received_at_ms) / 1000:.3f} s ahead of the clock when received "
            f"(max {self._max_future_ms / 1000:g} s)"
        )

    def _batch(self, rows: _Rows, ts: np.ndarray, ok: np.ndarray, first_seq: int) -> EventBatch:
        accepted = np.flatnonzero(ok)
        # everything accepted: no copies
        take: np.ndarray | slice = slice(None) if len(accepted) == rows.n else accepted
        lat, lon = rows.lat[take], rows.lon[take]
        if rows.crs is not None and self._convert:
            lat, lon = _to_wgs84(lat, lon, rows.crs[take])
        return EventBatch(
            kind=rows.kind[take],
            person=rows.person[take],
            ts=ts[take],
            lat=lat,
            lon=lon,
            accuracy_m=rows.accuracy_m[take],
            battery_pct=rows.battery_pct[take],
            status=rows.status[take],
            drill=rows.drill[take],
            seq=np.arange(rows.n, dtype=np.int64)[take] + first_seq,
        )

    # --- reference path -----------------------------------------------------------------------

    def decode_slow(
        self, lines: list[bytes], received_at_ms: int, first_seq: int = 0
    ) -> tuple[EventBatch, list[DeadLetter]]:
        """Same contract and answers as `decode`, one line at a time in plain Python."""
        rows: list[dict] = []
        crs: list[int] = []
        rejected: dict[int, tuple[str, str]] = {}
        limit = received_at_ms + self._max_future_ms
        for i, line in enumerate(ln for ln in lines if ln.strip()):
            rec = check_record(line)
            if isinstance(rec, tuple):
                rejected[i] = rec
                continue
            person = -1
            if not isinstance(rec, _Tick):
                person = self._index.get(rec.person_id, -1)
                if person < 0:
                    rejected[i] = (UNKNOWN_PERSON, _unknown_detail(rec.person_id))
                    continue
            ts = int(rec.ts)  # the reference rules give epoch ms
            if ts > limit and not rec.drill:
                rejected[i] = (FUTURE_TS, self._future_detail(ts, received_at_ms))
                continue
            row: dict[str, float] = {"kind": rec.KIND, "person": person, "ts": ts, "drill": bool(rec.drill)}
            row["seq"] = first_seq + i
            row["accuracy_m"] = _NAN
            if rec.KIND == FIX:
                acc = self._default_accuracy if rec.accuracy_m is None else rec.accuracy_m
                row.update(lat=rec.lat, lon=rec.lon, accuracy_m=acc)
            if rec.KIND != TICK and rec.battery_pct is not None:
                row["battery_pct"] = rec.battery_pct
            if isinstance(rec, _Status):
                row["status"] = _EVENT_CODE[rec.event]
            rows.append(row)
            crs.append(_CRS_CODE[rec.crs or "wgs84"] if rec.KIND == FIX else 0)
        batch = EventBatch.from_rows(rows)
        if self._convert and any(crs):
            batch.lat, batch.lon = _to_wgs84(batch.lat, batch.lon, np.array(crs, dtype=np.uint8))
        all_lines = [ln for ln in lines if ln.strip()]
        return batch, _dead_letters(rejected, all_lines, received_at_ms)


def _id_table(person_index: Mapping[str, int]) -> IdTable:
    """The engine's own table (built once per bundle) when every id in it can be carried by
    an event; else one without the ids that break the 1-64 rule, which must be rejected as
    invalid_field, not found."""
    if isinstance(person_index, PersonRows):
        shortest, longest = person_index.table.chars
        if 1 <= shortest and longest <= PERSON_ID_MAX:
            return person_index.table
    person = {k: int(v) for k, v in person_index.items()
              if isinstance(k, str) and 1 <= len(k) <= PERSON_ID_MAX}
    return IdTable(person, person.values())
