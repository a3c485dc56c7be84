"""The shapes a line decodes into, and the limits SPEC §1 puts on their fields.

msgspec checks what it can check for free (see the note on the record shapes); the numpy
columns check the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal, get_args

import msgspec

from stream.events import (
    CRS_NAMES,
    FIX,
    SOURCE_NAMES,
    STATUS,
    STATUS_NAMES,
    TICK,
)

RAW_MAX_CHARS = 4096
PERSON_ID_MAX = 64  # SPEC §1: person_id is a string of 1-64 characters
# ts must be representable as RFC 3339 on output: years 0001..9999, UTC.
MIN_TS_MS = -62_135_596_800_000
MAX_TS_MS = 253_402_300_799_999

_NAN = float("nan")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_EVENT_CODE = {name: i for i, name in enumerate(STATUS_NAMES)}
_CRS_CODE: dict[str | None, int] = {name: i for i, name in enumerate(CRS_NAMES)}
_CRS_CODE_OR_WGS84: dict[str | None, int] = {None: 0, **_CRS_CODE}


# --- the fast path's record shapes ----------------------------------------------------------
# msgspec checks what it can check for free: a string is a string, a number a number, an enum
# one of its names (a Literal costs less than a str, which would be allocated and then looked
# up). Ranges and timestamps are checked on numpy columns, so a bad value there costs one
# masked row. A wrong type or enum value costs a per-line fallback for its block of lines.
# ClassVars give every kind every attribute the column builder reads, so a mixed chunk is read
# with the same list comprehensions. An absent number is NaN, not None: a shared default that
# costs no allocation, and a float column can then be packed without a check per item.

_SourceName = Literal["gnss", "cell", "wifi", "manual"]
_CrsName = Literal["wgs84", "gcj02", "bd09"]
_EventName = Literal[
    "power_off", "power_on", "heartbeat", "low_battery", "tamper", "location_disabled",
    "location_enabled",
]
assert get_args(_SourceName) == SOURCE_NAMES and get_args(_CrsName) == CRS_NAMES
assert get_args(_EventName) == STATUS_NAMES


class _Fix(msgspec.Struct, tag="fix", tag_field="type", gc=False):
    person_id: str
    ts: str | int | float
    lat: float
    lon: float
    device_id: str | None = None
    drill: bool | None = None
    accuracy_m: float | None = _NAN
    source: _SourceName | None = None
    crs: _CrsName | None = None
    speed_mps: float | None = None
    battery_pct: float | None = _NAN
    KIND: ClassVar[int] = FIX
    event: ClassVar[None] = None


class _Status(msgspec.Struct, tag="status", tag_field="type", gc=False):
    person_id: str
    ts: str | int | float
    event: _EventName
    device_id: str | None = None
    drill: bool | None = None
    battery_pct: float | None = _NAN
    KIND: ClassVar[int] = STATUS
    lat: ClassVar[float] = _NAN
    lon: ClassVar[float] = _NAN
    accuracy_m: ClassVar[float] = _NAN
    crs: ClassVar[None] = None


class _Tick(msgspec.Struct, tag="tick", tag_field="type", gc=False):
    ts: str | int | float
    drill: bool | None = None
    KIND: ClassVar[int] = TICK
    person_id: ClassVar[None] = None
    lat: ClassVar[float] = _NAN
    lon: ClassVar[float] = _NAN
    accuracy_m: ClassVar[float] = _NAN
    battery_pct: ClassVar[float] = _NAN
    crs: ClassVar[None] = None
    event: ClassVar[None] = None


_Record = _Fix | _Status | _Tick
_RECORD_TYPES = frozenset((_Fix, _Status, _Tick))
# RecursionError: msgspec's answer to absurdly deep nesting.
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
