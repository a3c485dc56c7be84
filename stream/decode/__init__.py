"""Raw JSONL lines -> an EventBatch of valid events plus dead letters (SPEC §1).

- decoder.py: `Decoder`, the fast path (one msgspec array per chunk) and the line-by-line path
- records.py: the record shapes msgspec decodes into, and the field limits
- columns.py: a chunk's records as numpy columns, and the checks made on them
- timestamps.py: RFC 3339 / epoch-ms parsing, vectorised and one at a time
- rules.py: the reference rulebook every rejection's reason and detail come from
- deadletters.py: rejected lines as dead letters
"""

from __future__ import annotations

from stream.decode.deadletters import raw_text
from stream.decode.decoder import Decoder
from stream.decode.records import MAX_TS_MS, MIN_TS_MS, PERSON_ID_MAX, RAW_MAX_CHARS
from stream.decode.rules import check_record
from stream.decode.timestamps import rfc3339_ms

__all__ = [
    "MAX_TS_MS", "MIN_TS_MS", "PERSON_ID_MAX", "RAW_MAX_CHARS", "Decoder", "check_record",
    "raw_text", "rfc3339_ms",
]
