"""The reference rulebook: SPEC §1's field rules for one line, in plain Python.

The fast path hands this every line it cannot decode and every row it rejects, so every
rejection's reason and detail come from here.
"""

from __future__ import annotations

import math
from typing import cast

import msgspec
import orjson

from stream.decode.records import (
    MAX_TS_MS,
    MIN_TS_MS,
    PERSON_ID_MAX,
    _CrsName,
    _EventName,
    _Fix,
    _SourceName,
    _Status,
    _Tick,
)
from stream.decode.timestamps import _float_or_inf, rfc3339_ms
from stream.events import (
    CRS_NAMES,
    INVALID_FIELD,
    KIND_NAMES,
    MALFORMED_JSON,
    SOURCE_NAMES,
    STATUS_NAMES,
)


class _Invalid(Exception):
    """A field rule is broken; the message is the dead letter's detail."""


class _OutOfRange:
    """A JSON number too large for a float or an int (msgspec will not decode it)."""


_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])


def check_record(line: bytes) -> tuple[str, str] | _Fix | _Status | _Tick:
    """The SPEC §1 field rules for one line: a (reason, detail) rejection or a clean record.

    The record comes back normalised: ts in epoch ms, numbers as floats, null read as absent.
    Whether the person is registered and whether ts is in the future is the caller's check.
    """
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return MALFORMED_JSON, f"not UTF-8: invalid byte at offset {e.start}"
    try:
        obj = _RAW_OBJECT.decode(line)
    except msgspec.ValidationError:
        return MALFORMED_JSON, f"a record must be a JSON object, got {_text_of(line)}"
    except (msgspec.DecodeError, RecursionError) as e:
        return MALFORMED_JSON, f"not valid JSON: {e}"
    try:
        return _checked(obj)
    except _Invalid as e:
        return INVALID_FIELD, str(e)


def _checked(obj: dict) -> _Fix | _Status | _Tick:
    kind = _value(obj, "type")
    if kind is None:
        raise _Invalid("type: required")
    if kind not in KIND_NAMES:
        raise _Invalid(f"type: must be one of fix, status, tick, got {_shown(obj, 'type')}")
    ts = _ts(obj)
    drill = _value(obj, "drill")
    if drill is not None and type(drill) is not bool:
        raise _Invalid(f"drill: must be true or false, got {_shown(obj, 'drill')}")
    drill = bool(drill)
    if kind == "tick":
        return _Tick(ts=ts, drill=drill)

    pid = _value(obj, "person_id")
    if pid is None:
        raise _Invalid("person_id: required")
    if type(pid) is not str or not 1 <= len(pid) <= PERSON_ID_MAX:
        raise _Invalid(f"person_id: must be a string of 1-{PERSON_ID_MAX} characters, "
                       f"got {_shown(obj, 'person_id')}")
    device = _value(obj, "device_id")
    if device is not None and type(device) is not str:
        raise _Invalid(f"device_id: must be a string, got {_shown(obj, 'device_id')}")
    return _status(obj, pid, ts, drill) if kind == "status" else _fix(obj, pid, ts, drill)


def _status(obj: dict, pid: str, ts: int, drill: bool) -> _Status:
    event = _enum(obj, "event", STATUS_NAMES)
    if event is None:
        raise _Invalid("event: required")
    battery = _number(obj, "battery_pct", 0, 100)
    return _Status(person_id=pid, ts=ts, event=cast("_EventName", event), drill=drill,
                   battery_pct=battery)


def _fix(obj: dict, pid: str, ts: int, drill: bool) -> _Fix:
    lat = _required_number(obj, "lat", -90, 90)
    lon = _required_number(obj, "lon", -180, 180)
    if lat == 0 and lon == 0:
        raise _Invalid("lat, lon: both 0 is a device's 'no position', not a fix")
    accuracy = _number(obj, "accuracy_m", 0, math.inf)
    source = _enum(obj, "source", SOURCE_NAMES)
    crs = _enum(obj, "crs", CRS_NAMES)
    _number(obj, "speed_mps", -math.inf, math.inf)
    battery = _number(obj, "battery_pct", 0, 100)
    # _enum has checked the names, which the Literal types list (see records.py)
    return _Fix(
        person_id=pid, ts=ts, lat=lat, lon=lon, drill=drill, accuracy_m=accuracy,
        source=cast("_SourceName | None", source), crs=cast("_CrsName | None", crs),
        battery_pct=battery,
    )


def _value(obj: dict, name: str):
    """The decoded field, None when absent or null."""
    raw = obj.get(name)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _OutOfRange()


def _ts(obj: dict) -> int:
    v = _value(obj, "ts")
    if v is None:
        raise _Invalid("ts: required")
    if type(v) is str:
        ms = rfc3339_ms(v)
        if ms is None:
            raise _Invalid(f"ts: not an RFC 3339 date-time with offset or Z, got {_shown(obj, 'ts')}")
        return ms
    if type(v) not in (int, float, _OutOfRange):
        raise _Invalid(
            f"ts: must be an RFC 3339 string or epoch milliseconds, got {_shown(obj, 'ts')}"
        )
    ms = math.floor(v) if type(v) is float else v
    if type(ms) is not int or not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise _Invalid(f"ts: out of range (years 0001-9999), got {_shown(obj, 'ts')}")
    return ms


def _number(obj: dict, name: str, lo: float, hi: float, required: bool = False) -> float | None:
    v = _value(obj, name)
    if v is None:
        if required:
            raise _Invalid(f"{name}: required")
        return None
    if type(v) not in (int, float, _OutOfRange):
        raise _Invalid(f"{name}: must be a number, got {_shown(obj, name)}")
    x = math.inf if type(v) is _OutOfRange else _float_or_inf(v)
    if not math.isfinite(x):
        raise _Invalid(f"{name}: number out of range, got {_shown(obj, name)}")
    if not lo <= x <= hi:
        bounds = f">= {lo:g}" if hi == math.inf else f"within [{lo:g}, {hi:g}]"
        raise _Invalid(f"{name}: must be {bounds}, got {_shown(obj, name)}")
    return x


def _required_number(obj: dict, name: str, lo: float, hi: float) -> float:
    x = _number(obj, name, lo, hi, required=True)
    assert x is not None  # required: absent raised
    return x


def _enum(obj: dict, name: str, names: tuple[str, ...]) -> str | None:
    v = _value(obj, name)
    if v is not None and (type(v) is not str or v not in names):
        raise _Invalid(f"{name}: must be one of {', '.join(names)}, got {_shown(obj, name)}")
    return v


def _shown(obj: dict, name: str) -> str:
    return _text_of(bytes(obj[name]))


def _text_of(raw: bytes, limit: int = 60) -> str:
    """A value as it was written, shortened for a one-line detail."""
    text = raw.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unknown_detail(pid: str) -> str:
    return f"person_id: not a registered person, got {orjson.dumps(pid).decode()}"
